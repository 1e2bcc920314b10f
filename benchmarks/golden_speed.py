"""How long a workstation spends on a pack's golden questions after a sync (20 on the demo pack).

    .venv/bin/python benchmarks/golden_speed.py [--rounds 3]

20 questions of data/grounding_questions.jsonl about the demo pack (12 answered, with their first
fact; 4 routed to a person, with their topic; 4 with no source) are turned into golden questions
and run with :func:`desktop.core.knowledge.golden.run_golden` against a freshly built demo pack,
as a sync does: the embedding model already loaded, the pack and the sensitive-topic detector
opened by the run itself. A run of the first question alone measures the fixed cost (opening the
pack, embedding the sensitive-topic examples once); (20 - 1 question) / 19 the cost per question.
Writes results/golden_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from common import ROOT, write_result

MIX = {"answered": 12, "route_to_human": 4, "no_source": 4}


def golden_lines() -> list[str]:
    rows = [
        json.loads(line)
        for line in (ROOT / "benchmarks" / "data" / "grounding_questions.jsonl").open()
        if line.strip()
    ]
    picked = []
    for expect, count in MIX.items():
        kind = [r for r in rows if r["corpus"] == "demo" and r["expect"] == expect][:count]
        for row in kind:
            item = {"question": row["question"], "expect": expect}
            if expect == "answered":
                item.update(article=row["relevant"][0], fact=row["facts"][0])
            if expect == "route_to_human" and row.get("sensitive_topic"):
                item["topic"] = row["sensitive_topic"]
            picked.append(json.dumps(item))
    return picked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DESKMATE_HOME"] = str(Path(tmp) / "home")
        os.environ["DESKMATE_POLICY_DIR"] = str(Path(tmp) / "policies")
        from desktop.core.knowledge.build import build_pack
        from desktop.core.knowledge.embedder import Embedder
        from desktop.core.knowledge.golden import parse_golden, run_golden

        embedder = Embedder()
        embedder.embed(["warm up"])
        pack = Path(tmp) / "demo"
        build_pack(ROOT / "resources" / "demo", pack, embedder, pack_id="demo")
        questions = parse_golden("\n".join(golden_lines()))
        load = os.getloadavg()[0]
        ones, reports = [], []
        for _ in range(args.rounds):
            ones.append(run_golden(pack, questions[:1], embedder).seconds)
            reports.append(run_golden(pack, questions, embedder))
    seconds = [r.seconds for r in reports]
    last = reports[-1]
    whole, fixed = statistics.median(seconds), statistics.median(ones)
    data = {
        "questions": len(questions),
        "rounds": args.rounds,
        "seconds": [round(s, 3) for s in seconds],
        "median_s": round(whole, 3),
        "one_question_s": round(fixed, 3),
        "per_question_ms": round(1000 * (whole - fixed) / (len(questions) - 1), 1),
        "load_average_at_start": round(load, 2),
        "passed": last.passed,
        "failed": [r.to_json() for r in last.results if not r.passed],
    }
    table = "\n".join(
        [
            "Golden questions on the demo pack, as a workstation runs them after a sync "
            f"(load average {load:.1f} on {os.cpu_count()} cores at the start)",
            "",
            "| questions | rounds | median run (s) | 1-question run (s) | per extra question (ms) "
            "| passed |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {len(questions)} | {args.rounds} | {data['median_s']} | {data['one_question_s']} "
            f"| {data['per_question_ms']} | {last.passed} of {last.total} |",
        ]
    )
    write_result("golden_speed", data, table)


if __name__ == "__main__":
    main()
