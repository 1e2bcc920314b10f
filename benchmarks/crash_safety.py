"""Crash safety: SIGKILL at random points of five operations, then a fresh start and a search.

    nice .venv/bin/python benchmarks/crash_safety.py [--kills 50] [--seed 13] [--only NAME,...]

For each operation (a pack build, a pack install by sync, a settings write, a feedback write and
a rebuild of the demo index) the harness in tests/crash/crashkit.py builds the old state once
with the real embedder, measures the operation's unkilled duration, then runs it N times from the
old state and kills it with SIGKILL after a delay drawn uniformly over that duration (seeded).
After each kill it starts Deskmate again (``deskmate search --json``, which must exit 0 with
results) and judges the state: old, new or corrupt. Once per named crash point (the two renames
of a pack switch) it also kills the operation exactly there.

Writes benchmarks/results/crash_safety.{json,md}: per operation the kills, how many left the old
state, the new state or a corrupt one after the next start, how many the kill itself had left
unusable (finished by that next start), how many searches worked, and the kill-delay range.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, isolated_home, write_result

sys.path.insert(0, str(ROOT / "tests" / "crash"))
import crashkit


def summarise(op: crashkit.Operation, trials: list[crashkit.Trial]) -> dict[str, Any]:
    delays = [t.delay for t in trials if t.delay >= 0]
    return {
        "operation": op.name,
        "duration_s": round(op.duration, 2),
        "kills": len(trials),
        "killed_while_running": sum(t.killed for t in trials),
        "old": sum(t.state == crashkit.OLD for t in trials),
        "new": sum(t.state == crashkit.NEW for t in trials),
        "corrupt": sum(t.state == crashkit.CORRUPT for t in trials),
        "unusable_until_next_start": sum(t.left == crashkit.CORRUPT for t in trials),
        "search_ok": sum(t.search_ok for t in trials),
        "delay_min_s": round(min(delays), 3) if delays else None,
        "delay_max_s": round(max(delays), 3) if delays else None,
    }


def run_operation(name: str, shared: Path, embedder: Any, kills: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    op = crashkit.OPERATIONS[name](shared, embedder)
    run = shared / f"run-{name}"
    op.duration = crashkit.run_to_end(op, run)
    trials = crashkit.random_trials(op, run, kills, seed)
    points = [crashkit.trial(op, run, 600.0, p) for p in crashkit.CRASH_POINTS.get(name, [])]
    result = {
        "random": summarise(op, trials),
        "crash_points": [
            {"point": p, **t.to_json()}
            for p, t in zip(crashkit.CRASH_POINTS.get(name, []), points, strict=True)
        ],
        "failures": [
            t.to_json() for t in trials + points if t.state == "corrupt" or not t.search_ok
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"{name}: {result['random']} ({result['seconds']} s)", file=sys.stderr, flush=True)
    return result


def table(results: dict[str, dict[str, Any]], kills: int, seed: int) -> str:
    lines = [
        f"# Crash safety: SIGKILL at random points ({kills} per operation, seed {seed})",
        "",
        "| operation | duration s | kills | while running | old | new | corrupt | unusable "
        "until next start | search ok | kill delay s | named-point kills (state, search) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, result in results.items():
        r = result["random"]
        points = ", ".join(
            f"{p['point']}: {p['state']}, {'ok' if p['search_ok'] else 'FAILED'}"
            for p in result["crash_points"]
        )
        lines.append(
            f"| {name} | {r['duration_s']} | {r['kills']} | {r['killed_while_running']} | "
            f"{r['old']} | {r['new']} | {r['corrupt']} | {r['unusable_until_next_start']} | "
            f"{r['search_ok']} | {r['delay_min_s']}–{r['delay_max_s']} | {points or '–'} |"
        )
    lines += [
        "",
        "Old/new/corrupt: the state after the next start (a `deskmate search --json` run, which "
        "must exit 0 with results). 'Unusable until next start': the kill left no usable state "
        "on disk and the next start finished the interrupted switch. Delays are drawn uniformly "
        "over the operation's unkilled duration (measured once, on the same loaded machine).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="kills per operation")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--only", default="", help="comma-separated operation names")
    parser.add_argument("--name", default="crash_safety", help="results file name")
    args = parser.parse_args()
    isolated_home()
    from desktop.core.knowledge.embedder import Embedder

    embedder = Embedder()
    names = [n for n in args.only.split(",") if n] or list(crashkit.OPERATIONS)
    with tempfile.TemporaryDirectory(prefix="deskmate-crash-") as folder:
        results = {
            n: run_operation(n, Path(folder), embedder, args.kills, args.seed) for n in names
        }
    data = {"kills_per_operation": args.kills, "seed": args.seed, "operations": results}
    write_result(args.name, data, table(results, args.kills, args.seed))


if __name__ == "__main__":
    main()
