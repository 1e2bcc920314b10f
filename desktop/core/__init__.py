"""Everything that is not a window. Never imports Qt (tests/unit/test_layering.py enforces it)."""
