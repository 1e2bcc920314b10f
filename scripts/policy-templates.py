"""Write IT's policy templates from the settings schema (see desktop/core/policy_templates.py).

.venv/bin/python scripts/policy-templates.py           write them
.venv/bin/python scripts/policy-templates.py --check   exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop.core.policy_templates import templates  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    args = parser.parse_args()
    stale = []
    for relative, data in templates().items():
        path = ROOT / relative
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if args.check and stale:
        print("Stale policy templates (run scripts/policy-templates.py):", *stale, sep="\n  ")
        return 1
    print("\n".join(f"wrote {name}" for name in stale) or "policy templates are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
