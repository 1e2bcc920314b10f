"""Apply the relevance-label audit to the help-centre set (see data/helpcentre_label_audit.md).

    .venv/bin/python benchmarks/apply_label_audit.py [--check]

data/helpcentre_label_audit.tsv holds one judged addition a line: case id, article path (relative
to the case's corpus), and the article's sentence that answers the question. Each path is appended
to that case's ``relevant`` list, after the original labels; every other field and the line order
stay as they are, so applying it twice changes nothing. ``--check`` only verifies that every path
exists and exits non-zero if the set is not up to date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SET = DATA / "helpcentre_questions.jsonl"
AUDIT = DATA / "helpcentre_label_audit.tsv"
CORPORA = {
    "duckduckgo": ROOT.parent / "shared" / "corpora" / "duckduckgo-help",
    "rackspace": ROOT.parent / "shared" / "corpora" / "rackspace-how-to",
}


def additions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in AUDIT.read_text(encoding="utf-8").splitlines():
        if line.strip():
            case_id, path, _sentence = line.split("\t")
            found.setdefault(case_id, []).append(path)
    return found


def audited(lines: list[str], added: dict[str, list[str]]) -> list[str]:
    out = []
    for line in lines:
        case = json.loads(line)
        for path in added.pop(case["id"], []):
            if not (CORPORA[case["corpus"]] / path).is_file():
                sys.exit(f"{case['id']}: no such article {path}")
            if case["expect"] != "answered":
                sys.exit(f"{case['id']}: only answerable cases get relevant articles")
            if path not in case["relevant"]:
                case["relevant"].append(path)
        out.append(json.dumps(case, ensure_ascii=False))
    if added:
        sys.exit(f"unknown case ids in the audit: {sorted(added)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args()
    lines = SET.read_text(encoding="utf-8").splitlines()
    new = audited(lines, additions())
    if args.check:
        sys.exit(0 if new == lines else "helpcentre_questions.jsonl is not up to date")
    SET.write_text("".join(f"{line}\n" for line in new), encoding="utf-8")
    print(f"{sum(a != b for a, b in zip(lines, new, strict=True))} cases changed")


if __name__ == "__main__":
    main()
