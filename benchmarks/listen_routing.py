"""Listen routing: false routes on ordinary calls and recall on sensitive ones, per customer turn.

    .venv/bin/python benchmarks/listen_routing.py [--show]

Each conversation of data/listen_conversations.jsonl (multi-turn, agent turns included; written
for this benchmark, never used to tune the detector) is run as ``deskmate listen --text`` runs it:
:func:`desktop.core.listen.customer_prefixes` gives the conversation after each customer turn and
:func:`desktop.core.listen.suggest` the need, articles and route the panel would show then, over
the app's demo pack. A conversation is routed when any of its steps is. The false-route rate is
over the ordinary conversations, recall (routed at all, and to the expected topic) over the
sensitive ones. "whole text, agent turns counted" runs the same detector once on every line of
the conversation, the agent's included and labels dropped: routing without the customer-turns
rule (and without checking each turn on its own).
Results: benchmarks/results/listen_routing.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import ROOT, isolated_home, write_result

from desktop.core import listen
from desktop.core.context import AppContext
from desktop.core.conversation import turns

isolated_home()
DATA = ROOT / "benchmarks" / "data" / "listen_conversations.jsonl"


def run_one(context: AppContext, row: dict[str, Any]) -> dict[str, Any]:
    """The topics routed at each customer turn, and with the agent's turns counted."""
    routes = []
    for step in listen.customer_prefixes(row["conversation"]):
        found = listen.suggest(context, step).detection
        routes.append(found.topic.name if found is not None else "")
    everything = "\n".join(t.text for t in turns(row["conversation"]))
    anyone = context.sensitive_detector().detect(everything)
    return {
        "id": row["id"],
        "kind": row["kind"],
        "expected": row["topic"],
        "routes": routes,
        "routed": next((r for r in routes if r), ""),
        "agent_turns_counted": anyone.topic.name if anyone is not None else "",
    }


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ordinary = [r for r in results if r["kind"] == "ordinary"]
    sensitive = [r for r in results if r["kind"] == "sensitive"]
    return {
        "ordinary": len(ordinary),
        "sensitive": len(sensitive),
        "false_route_rate": sum(bool(r["routed"]) for r in ordinary) / len(ordinary),
        "false_route_rate_agent_turns_counted": sum(
            bool(r["agent_turns_counted"]) for r in ordinary
        )
        / len(ordinary),
        "recall": sum(bool(r["routed"]) for r in sensitive) / len(sensitive),
        "recall_right_topic": sum(r["routed"] == r["expected"] for r in sensitive) / len(sensitive),
    }


def table(s: dict[str, Any], seconds: float, steps: int) -> str:
    return "\n".join(
        [
            "# Listen routing (data/listen_conversations.jsonl, demo pack, per customer turn)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| ordinary conversations | {s['ordinary']} |",
            f"| sensitive conversations | {s['sensitive']} |",
            f"| false-route rate (customer turns only) | {s['false_route_rate']:.3f} |",
            "| false-route rate, whole text with agent turns counted | "
            f"{s['false_route_rate_agent_turns_counted']:.3f} |",
            f"| route recall (any topic) | {s['recall']:.3f} |",
            f"| route recall (expected topic) | {s['recall_right_topic']:.3f} |",
            f"| ms per listen step (need + articles + route) | {1000 * seconds / steps:.0f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print misses and false routes")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    context = AppContext.from_env()
    context.ensure_demo_pack()
    listen.suggest(context, "Customer: warm up")  # the detector and the packs load once
    started = time.perf_counter()
    results = [run_one(context, row) for row in rows]
    seconds = time.perf_counter() - started
    steps = sum(len(r["routes"]) for r in results)
    s = summary(results)
    if args.show:
        for r in results:
            wrong = r["routed"] if r["kind"] == "ordinary" else r["routed"] != r["expected"]
            if wrong:
                print(r["id"], r["kind"], r["expected"] or "-", "->", r["routes"])
    write_result(
        "listen_routing",
        {"summary": s, "seconds": round(seconds, 2), "steps": steps, "results": results},
        table(s, seconds, steps),
    )


if __name__ == "__main__":
    main()
