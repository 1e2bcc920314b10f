"""PII redaction: precision and recall per type, look-alikes masked, time per line.

    .venv/bin/python benchmarks/redaction.py [--split tune|test|all] [--show]

Labelled set: ``data/pii_lines.jsonl`` (contact-centre lines; ``kind`` is ``pii`` or
``lookalike``, ``spans`` the expected ``{start, end, type}``, ``split`` tune or test). A found
span counts as a true positive when it overlaps an expected span of the same type (masking a
few characters more or less still hides the value). Look-alike lines must come out unchanged.
The recognisers were tuned on the tune half only; the test half is reported as it came out.
``--show`` prints the misses and false alarms (use it on the tune split only). Results:
``results/redaction.{json,md}``: both halves, the whole set, and 10 MB in one call, with the
default time budget (past it, phone candidates are masked unchecked) and with a budget that is
never reached (the number of spans shows what the budget cost).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import ROOT, write_result

from desktop.core.redact import DEFAULT_TIME_BUDGET_S, TYPES, RedactOptions, Span, redact

DATA = ROOT / "benchmarks" / "data" / "pii_lines.jsonl"
TARGETS = {"CARD": 0.98, "IBAN": 0.98, "EMAIL": 0.98, "PHONE": 0.98, "overall": 0.9}


def load(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if split == "all" or row["split"] == split]


def _overlap(a: Span, b: dict[str, Any]) -> bool:
    return a.start < b["end"] and b["start"] < a.end and a.type == b["type"]


def score(rows: list[dict[str, Any]], show: bool = False) -> dict[str, Any]:
    tp = {kind: 0 for kind in TYPES}
    fp = dict(tp)
    fn = dict(tp)
    lookalikes_hit = 0
    started = time.perf_counter()
    results = [redact(row["text"]) for row in rows]
    seconds = time.perf_counter() - started
    for row, result in zip(rows, results, strict=True):
        expected = row["spans"]
        for span in result.spans:
            hit = any(_overlap(span, want) for want in expected)
            (tp if hit else fp)[span.type] += 1
            if show and not hit:
                found = row["text"][span.start : span.end]
                print(f"FALSE ALARM {span.type}: {found!r} in {row['text']!r}")
        for want in expected:
            if not any(_overlap(span, want) for span in result.spans):
                fn[want["type"]] += 1
                if show:
                    print(f"MISSED {want['type']}: {row['text'][want['start'] : want['end']]!r}")
        if row["kind"] == "lookalike" and result.spans:
            lookalikes_hit += 1
    per_type = {kind: _prf(tp[kind], fp[kind], fn[kind]) for kind in TYPES}
    per_type["overall"] = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    lookalikes = sum(row["kind"] == "lookalike" for row in rows)
    return {
        "lines": len(rows),
        "lookalike_lines": lookalikes,
        "lookalikes_redacted": lookalikes_hit,
        "lookalike_share_redacted": round(lookalikes_hit / max(lookalikes, 1), 4),
        "ms_per_line": round(1000 * seconds / max(len(rows), 1), 3),
        "per_type": per_type,
    }


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def big_input(kind: str, budget: float) -> dict[str, Any]:
    """10 MB of the labelled lines (all, or the look-alikes only) repeated, in one call."""
    lines = [row["text"] for row in load("all") if kind == "all" or row["kind"] == kind]
    text = "\n".join(lines)
    text = ((text + "\n") * (10_000_000 // (len(text) + 1) + 1))[:10_000_000]
    started = time.perf_counter()
    result = redact(text, RedactOptions(time_budget_s=budget))
    return {
        "lines": kind,
        "chars": len(text),
        "time_budget_s": budget,
        "seconds": round(time.perf_counter() - started, 2),
        "spans": len(result.spans),
    }


def table(results: dict[str, Any]) -> str:
    out = [
        "| split | type | precision | recall | tp | fp | fn |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in ("tune", "test", "all"):
        for kind, row in results[split]["per_type"].items():
            out.append(
                f"| {split} | {kind} | {row['precision']:.3f} | {row['recall']:.3f} "
                f"| {row['tp']} | {row['fp']} | {row['fn']} |"
            )
    out.append("")
    out.append(
        "| split | lines | look-alike lines | look-alikes with anything masked | ms per line |"
    )
    out.append("| --- | --- | --- | --- | --- |")
    for split in ("tune", "test", "all"):
        r = results[split]
        out.append(
            f"| {split} | {r['lines']} | {r['lookalike_lines']} | {r['lookalikes_redacted']} "
            f"({100 * r['lookalike_share_redacted']:.1f}%) | {r['ms_per_line']} |"
        )
    out += ["", "| 10 MB of | time budget (s) | seconds | spans |", "| --- | --- | --- | --- |"]
    for big in results["ten_mb"]:
        out.append(
            f"| {big['lines']} lines | {big['time_budget_s']} | {big['seconds']} | {big['spans']} |"
        )
    out.append(f"Targets: {TARGETS} (recall), look-alikes masked <= 2%.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=("tune", "test", "all"), default=None)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    redact("warm up 07911 123456")
    if args.split:
        print(json.dumps(score(load(args.split), args.show), indent=2))
        return
    results = {split: score(load(split)) for split in ("tune", "test", "all")}
    results["ten_mb"] = [
        big_input("all", DEFAULT_TIME_BUDGET_S),
        big_input("all", 600.0),
        big_input("lookalike", DEFAULT_TIME_BUDGET_S),
        big_input("lookalike", 600.0),
    ]
    write_result("redaction", {"targets": TARGETS, **results}, table(results))


if __name__ == "__main__":
    main()
