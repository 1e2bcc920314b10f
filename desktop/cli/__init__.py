"""The command-line interface (Qt-free)."""
