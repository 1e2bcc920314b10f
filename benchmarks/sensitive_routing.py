"""Sensitive-case routing: the built-in detector on messages it was not written from.

    .venv/bin/python benchmarks/sensitive_routing.py [--show tune,dev-a] [--test]

Runs :class:`desktop.core.sensitive.SensitiveDetector` alone (it decides routing before retrieval
and before any model, so this is exactly the pipeline's routing decision) on:

* ``tune``: the tuning half of data/helpcentre_questions.jsonl, each case with its own corpus pack
  (DuckDuckGo help or Rackspace) installed, as in benchmarks/grounding.py;
* ``dev``: data/sensitive_dev.jsonl, an independent set written for this benchmark and never
  copied into resources/safety/topics.yaml (its rows are our held-out estimate). It runs twice:
  with no pack installed (only the built-in ordinary messages contrast) and with the DuckDuckGo
  pack. Its rows are split into folds: rows of fold ``a`` were read while tuning, fold ``b``
  only as a number, a second held-out check on the same writer's style; fold ``c`` was written
  by another hand before the classifier existed and never read while tuning (the honest
  estimate, reported on its own); fold ``d`` was written for the third pass before anything was
  changed, in varied customers' voices (short, typos, indirect, buried in an ordinary request)
  with idioms and look-alikes as its ordinary rows, and never tuned on;
* ``demo``: data/grounding_questions.jsonl (the demo pack with its own sensitive articles, and
  Rackspace), which must not get worse;
* ``test`` (only with ``--test``): the held-out half of helpcentre_questions.jsonl, reported as
  aggregates only, measured once with the final settings. Its rows are never printed.

A sensitive case counts as routed when the detector names its topic. A false route is any
detection on an ordinary message (answerable or unanswerable). ms/message is the warm detection
time per message (embedding the sentences and the pack's nearest-passage search included).
``--show`` prints the misses and false routes of the named sets (never of ``test``).
Results: benchmarks/results/sensitive_routing.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import ROOT, corpus_pack, isolated_home, write_result

from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.sensitive import SensitiveDetector
from desktop.core.settings import Settings

isolated_home()
DATA = ROOT / "benchmarks" / "data"
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


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def cases(split: str) -> list[dict[str, Any]]:
    """(message, knowledge, topic or None, label) rows of one evaluation set."""
    if split in ("tune", "test", "demo"):
        name = "grounding_questions.jsonl" if split == "demo" else "helpcentre_questions.jsonl"
        return [
            {
                "message": r["question"],
                "knowledge": r["corpus"],
                "topic": r["sensitive_topic"] if r["expect"] == "route_to_human" else None,
                "id": r["id"],
            }
            for r in _rows(name)
            if split == "demo" or r["split"] == split
        ]
    knowledge, fold = split.split("-")[1:]  # dev-<none|duckduckgo>-<a|b|c|d>
    return [
        {"message": r["message"], "knowledge": knowledge, "topic": r["topic"], "id": r["id"]}
        for r in _rows("sensitive_dev.jsonl")
        if r["fold"] == fold
    ]


def detectors() -> dict[str, SensitiveDetector]:
    demo = AppContext.from_env()
    demo.ensure_demo_pack()
    found = {"demo": demo.sensitive_detector()}
    for name in ("duckduckgo", "rackspace", "none"):
        paths = Paths.from_env()
        pack_dirs = [] if name == "none" else [corpus_pack(name, demo.embedder, progress=False)]
        context = AppContext(paths, Settings(paths), pack_dirs=pack_dirs, embedder=demo.embedder)
        found[name] = context.sensitive_detector()
    for detector in found.values():
        detector.detect("warm up the embedder and the example vectors")
    return found


def evaluate(rows: list[dict[str, Any]], by_knowledge: dict[str, SensitiveDetector]) -> dict:
    routed: dict[str, list[bool]] = {}
    false: list[bool] = []
    misses, false_routes, seconds = [], [], 0.0
    for row in rows:
        started = time.perf_counter()
        found = by_knowledge[row["knowledge"]].detect(row["message"])
        seconds += time.perf_counter() - started
        name = found.topic.name if found else None
        if row["topic"]:
            routed.setdefault(row["topic"], []).append(name == row["topic"])
            if name != row["topic"]:
                misses.append((row["id"], row["topic"], name, row["message"]))
        else:
            false.append(found is not None)
            if found is not None:
                false_routes.append((row["id"], name, row["message"], found.reason))
    every = [ok for values in routed.values() for ok in values]
    return {
        "routed": _rate(every),
        "false_route": _rate(false),
        "per_topic": {topic: _rate(routed.get(topic, [])) for topic in TOPICS},
        "ms_per_message": round(1000 * seconds / max(1, len(rows)), 1),
        "misses": misses,
        "false_routes": false_routes,
    }


def _rate(values: list[bool]) -> dict[str, Any]:
    return {"rate": round(sum(values) / len(values), 3) if values else None, "n": len(values)}


def _cell(rate: dict[str, Any]) -> str:
    return "-" if rate["rate"] is None else f"{rate['rate']:.3f} ({rate['n']})"


def table(results: dict[str, dict]) -> str:
    lines = [
        "# Sensitive routing (detector only)",
        "",
        "routed = sensitive messages routed to their topic; false = ordinary messages routed;",
        "rate (n). `test` is the held-out helpcentre half, measured once with final settings.",
        "",
        "| set | routed | false route | " + " | ".join(TOPICS) + " | ms/message |",
        "|---" * (len(TOPICS) + 4) + "|",
    ]
    for name, result in results.items():
        topics = " | ".join(_cell(result["per_topic"][t]) for t in TOPICS)
        lines.append(
            f"| {name} | {_cell(result['routed'])} | {_cell(result['false_route'])} | "
            f"{topics} | {result['ms_per_message']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", default="", help="sets whose misses to print, e.g. tune,dev")
    parser.add_argument("--test", action="store_true", help="also the held-out test half")
    parser.add_argument("--floor", type=float, help="try another similarity floor (tuning)")
    parser.add_argument("--margin", type=float, help="try another margin (tuning)")
    parser.add_argument("--sets", default="", help="only these sets, e.g. tune,dev-none-a")
    args = parser.parse_args()
    by_knowledge = detectors()
    for detector in by_knowledge.values():
        detector.floor = args.floor or detector.floor
        detector.margin = args.margin or detector.margin
    names = ["tune"]
    names += [f"dev-{k}-{fold}" for fold in "abcd" for k in ("none", "duckduckgo")] + ["demo"]
    names = [n for n in names if n in args.sets.split(",")] if args.sets else names
    names += ["test"] if args.test else []
    results = {name: evaluate(cases(name), by_knowledge) for name in names}
    shown = [s for s in args.show.split(",") if s and s != "test"]
    for name, result in results.items():
        if any(name.startswith(s) for s in shown):
            for miss in result["misses"]:
                print(f"MISS {name}", *miss, sep=" | ")
            for false in result["false_routes"]:
                print(f"FALSE {name}", *false, sep=" | ")
    data = {
        name: {k: v for k, v in r.items() if k not in ("misses", "false_routes")}
        | {"misses": len(r["misses"]), "false_routes": len(r["false_routes"])}
        for name, r in results.items()
    }
    write_result("sensitive_routing", {"results": data}, table(results))


if __name__ == "__main__":
    main()
