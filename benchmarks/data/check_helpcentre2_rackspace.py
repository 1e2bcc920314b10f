"""Checks helpcentre2_rackspace.jsonl (stdlib only). Run from the repository root:

    python benchmarks/data/check_helpcentre2_rackspace.py [--corpus DIR] [--others]

--others lists, for every fact, the other corpus articles that also contain it (for labelling).
"""

import argparse
import json
from collections import Counter
from pathlib import Path

DATA = Path(__file__).with_name("helpcentre2_rackspace.jsonl")
CORPUS = Path(__file__).resolve().parents[3] / "shared/corpora/rackspace-how-to"
TOPICS = {
    "self_harm",
    "domestic_abuse",
    "bereavement",
    "fraud",
    "legal_threat",
    "minor",
    "vulnerable",
    "insider_misuse",
}
KINDS = {
    "answerable",
    "trap",
    "competitor",
    "nonexistent",
    "third-party",
    "unstated-fact",
    "personal-advice",
    "sensitive",
}
EXPECT = {"answerable": "answered", "sensitive": "route_to_human"}
FIELDS = [
    "id",
    "question",
    "corpus",
    "expect",
    "relevant",
    "facts",
    "sensitive_topic",
    "split",
    "kind",
]


def check_row(r: dict, i: int, corpus: Path) -> list[str]:
    errs = []
    if list(r) != FIELDS:
        errs.append(f"fields {list(r)}")
    if r["id"] != f"r{i:03d}":
        errs.append("id not sequential")
    if r["corpus"] != "rackspace" or r["split"] not in {"tune", "test"} or r["kind"] not in KINDS:
        errs.append("bad corpus/split/kind")
    if r["expect"] != EXPECT.get(r["kind"], "answered" if r["kind"] == "trap" else "no_source"):
        errs.append(f"expect {r['expect']} for kind {r['kind']}")
    answered = r["expect"] == "answered"
    if answered != bool(r["relevant"]) or answered != bool(r["facts"]) or len(r["facts"]) > 2:
        errs.append("relevant/facts must be set (1-2 facts) exactly for answered rows")
    if (r["sensitive_topic"] in TOPICS) != (r["kind"] == "sensitive") or (
        r["sensitive_topic"] is not None and r["sensitive_topic"] not in TOPICS
    ):
        errs.append(f"sensitive_topic {r['sensitive_topic']}")
    texts = []
    for p in r["relevant"]:
        f = corpus / p
        if not f.is_file():
            errs.append(f"missing {p}")
        else:
            texts.append(f.read_text(encoding="utf-8"))
    for fact in r["facts"]:
        if "\n" in fact or not any(fact in t for t in texts):
            errs.append(f"fact not found {fact!r}")
    return errs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--others", action="store_true")
    a = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    bad = 0
    for i, r in enumerate(rows, 1):
        for e in check_row(r, i, a.corpus):
            print(r["id"], e)
            bad += 1
    if len({r["id"] for r in rows}) != len(rows) or len({r["question"] for r in rows}) != len(rows):
        print("duplicate ids or questions")
        bad += 1
    by = Counter((r["kind"], r["split"]) for r in rows)
    for kind in sorted({k for k, _ in by}):
        if by[kind, "tune"] != by[kind, "test"]:
            print(kind, "not split in half")
            bad += 1
    print(f"rows={len(rows)} errors={bad}")
    for key in ("kind", "expect", "sensitive_topic"):
        c = Counter((r[key], r["split"]) for r in rows)
        for v in sorted({v for v, _ in c}, key=str):
            print(f"  {key}={v!s:<16} tune={c[v, 'tune']:3} test={c[v, 'test']:3}")
    if a.others:
        files = {
            p.relative_to(a.corpus).as_posix(): p.read_text(encoding="utf-8")
            for p in a.corpus.rglob("*.md")
        }
        for r in rows:
            for fact in r["facts"]:
                hits = [p for p, t in files.items() if fact in t and p not in r["relevant"]]
                if hits:
                    print(r["id"], repr(fact), len(hits), hits[:6])
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
