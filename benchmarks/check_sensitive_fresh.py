"""Check benchmarks/data/sensitive_fresh.jsonl: JSON, fields, counts, unique ids and messages.

Usage: python benchmarks/check_sensitive_fresh.py [FILE]
Prints counts per fold and topic and, per fold and topic, how many sensitive messages avoid the
topic's obvious words (the data author's own list, not the detector's). Exits 1 on any problem.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections import Counter
from pathlib import Path

DEFAULT = Path(__file__).parent / "data" / "sensitive_fresh.jsonl"
TOPICS = (
    "self_harm",
    "domestic_abuse",
    "bereavement",
    "fraud",
    "legal_threat",
    "minor",
    "vulnerable",
    "insider_misuse",
)
FOLDS = ("e", "f")
PER_TOPIC = 10
ORDINARY = 80
FIELDS = {"id", "message", "topic", "family", "fold"}
# The obvious word for each topic, as a customer-facing reader would spot it.
OBVIOUS = {
    "self_harm": r"suicid|kill(ing)? (my|her|him)self|self.harm|hurting herself|cutting",
    "domestic_abuse": r"abus|violen|stalk|\bhits\b|domestic|refuge",
    "bereavement": r"\bdied\b|death|deceased|passed|\blate\b|killed",
    "fraud": r"fraud|scam|hack|stolen|steal",
    "legal_threat": r"solicitor|lawyer|attorney|court|\bsu(e|ing)\b|ombudsman|legal",
    "minor": r"child|\bkids?\b|minor|under 18|18 yet|\b1[0-7]\b|year.old|\b(age|aged)\b"
    r"|fifteen|\bten\b",
    "vulnerable": r"dementia|alzheimer|disab|can.t cope|carer|vulnerable",
    "insider_misuse": r"insider|employee|staff|colleague",
}


def problems(rows: list[dict]) -> list[str]:
    out = []
    ids = Counter(r.get("id") for r in rows)
    msgs = Counter(r.get("message", "").strip().lower() for r in rows)
    out += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    out += [f"duplicate message {m!r}" for m, n in msgs.items() if n > 1]
    for r in rows:
        out += row_problems(r)
    counts = Counter((r.get("fold"), r.get("topic")) for r in rows)
    for fold in FOLDS:
        for topic in TOPICS:
            if counts[(fold, topic)] != PER_TOPIC:
                out.append(f"fold {fold} {topic}: {counts[(fold, topic)]} != {PER_TOPIC}")
        if counts[(fold, None)] != ORDINARY:
            out.append(f"fold {fold} ordinary: {counts[(fold, None)]} != {ORDINARY}")
    out += near_duplicates([r["message"] for r in rows])
    return out


def row_problems(r: dict) -> list[str]:
    rid = r.get("id")
    if set(r) != FIELDS:
        return [f"{rid}: fields {sorted(r)}"]
    out = []
    words = len(r["message"].split())
    if not 5 <= words <= 60:
        out.append(f"{rid}: {words} words")
    if r["fold"] not in FOLDS or not rid.startswith(f"{r['fold']}-"):
        out.append(f"{rid}: fold {r['fold']}")
    if r["family"] == "sensitive":
        if r["topic"] not in TOPICS or not rid.startswith(f"{r['fold']}-{r['topic']}-"):
            out.append(f"{rid}: topic {r['topic']}")
    elif r["family"] != "ordinary" or r["topic"] is not None or "-ord-" not in rid:
        out.append(f"{rid}: ordinary row must have topic null and an -ord- id")
    return out


def near_duplicates(messages: list[str], limit: float = 0.8) -> list[str]:
    low = [m.lower() for m in messages]
    out = []
    for i, a in enumerate(low):
        for b in low[i + 1 :]:
            if difflib.SequenceMatcher(None, a, b).ratio() >= limit:
                out.append(f"near duplicates: {a!r} / {b!r}")
    return out


def report(rows: list[dict]) -> None:
    for fold in FOLDS:
        fold_rows = [r for r in rows if r["fold"] == fold]
        print(f"fold {fold}: {len(fold_rows)} rows")
        for topic in TOPICS:
            msgs = [r["message"] for r in fold_rows if r["topic"] == topic]
            plain = sum(not re.search(OBVIOUS[topic], m, re.I) for m in msgs)
            print(f"  {topic:15} {len(msgs):3}  without obvious word: {plain}")
        print(f"  {'ordinary':15} {sum(r['topic'] is None for r in fold_rows):3}")


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            print(f"line {n}: invalid JSON ({err})")
            return 1
    found = problems(rows)
    for p in found:
        print("PROBLEM:", p)
    if not found:
        report(rows)
        print(f"OK: {len(rows)} rows, ids and messages unique")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
