"""A long shift in one process: does the window leak memory, handles or threads, or stall?

    .venv/bin/python benchmarks/soak.py [--searches 1000] [--drafts 200] [--listens 50]
                                        [--warmup 0.1] [--model GGUF]

The real window (offscreen) over the demo pack, with the real embedding model and the default
SmolLM2 model (or ``--model``), driven as an agent would drive it through a shift: searches typed
into the box, drafts of the typed question, and conversation updates in the listen panel that
bring suggestions, interleaved evenly. The questions are the demo set's
(``benchmarks/data/grounding_questions.jsonl``, corpus "demo"), so the drafts include answered,
refused and routed cases.

Measured after a warm-up (the first ``--warmup`` share of the actions, which loads the models,
fills the caches and lets the allocator reach its working size):

* RSS growth from the end of the warm-up to the end: target <= 5 %;
* open file descriptors and threads (``/proc/self/fd``, ``/proc/self/task``): must not leak. A
  leak (a handle or thread per N actions) keeps rising through the whole run; a pool that starts
  threads lazily (LanceDB's tokio blocking pool, Qt's pools, which also retire threads after 30 s
  idle) reaches a ceiling and stays there. So the measured run is cut into thirds and the rule is:
  the last third's peak is no higher than the middle third's, in total and for every thread name
  (the names are recorded per sample, so a rising group is named in the results). A pool that
  grows with concurrency can still creep up late in a run (LanceDB's tokio pool did, 24 -> 26),
  so the decisive check is idle: after the warm-up and again at the end, the window is left
  idle for 65 s (counts taken at 35, 50 and 65 s, the least kept), in which pools retire their
  idle threads (LanceDB's after 10 s: a probe with 4 concurrent searchers grew it to 44 threads
  and 10 s idle brought it back to 2); a leaked thread or handle is still there. Target: no
  more threads or descriptors at the end's idle sample than at the warm-up's;
* UI stalls: the gaps between ticks of a 10 ms QTimer on the UI thread; target: none over 50 ms
  (each gap over 50 ms is listed with the action that was running);
* per-action latency (median, p95), for information.

Results: benchmarks/results/soak.{json,md}. Run it on a quiet machine: stalls measured while
other work holds both cores say more about the machine than about Deskmate.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from common import ROOT, isolated_home, percentile, write_result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TARGET_RSS_GROWTH = 0.05
TARGET_GAP_MS = 50.0
IDLE_LOOKS = (35.0, 50.0, 65.0)  # seconds of idleness at which the counts are taken
CONVERSATION_OPENERS = (
    "Agent: Thanks for calling, how can I help?",
    "Agent: Hello, you're through to support. What can I do for you today?",
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def thread_names() -> dict[str, int]:
    """How many OS threads carry each name (Qt's pool threads, onnxruntime's, llama.cpp's...)."""
    names: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        names[name] = names.get(name, 0) + 1
    return dict(sorted(names.items()))


def counts() -> dict[str, Any]:
    return {
        "thread_names": thread_names(),
        "rss_mb": round(rss_mb(), 1),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": len(os.listdir("/proc/self/task")),
        "python_threads": threading.active_count(),
        "load_average": os.getloadavg()[0],
        "time": time.time(),
    }


def sample(app: Any, shift: Shift) -> dict[str, Any]:
    """Counts after a full collection, so RSS compares like with like; the pause this takes on
    the UI thread is not counted as a stall."""
    shift.measuring = False
    app.processEvents()
    gc.collect()
    taken = counts()
    shift.ticks.last = time.perf_counter()
    shift.measuring = True
    return taken


def idle_sample(app: Any, shift: Shift, looks: tuple[float, ...] = IDLE_LOOKS) -> dict[str, Any]:
    """Counts with nothing to do: pools retire their idle threads (LanceDB's tokio pool after
    10 s, Qt's after 30 s), a leaked thread or handle stays. The window's own timers still run
    work now and then (the sync check every minute), so the counts are taken at each of *looks*
    seconds of idleness and the smallest is kept: a leak is in every look."""
    shift.measuring = False
    started = time.monotonic()
    taken: list[dict[str, Any]] = []
    for at in looks:
        shift.measuring = False  # sample() turns it back on: idle waits are not stalls
        while time.monotonic() - started < at:
            app.processEvents()
            time.sleep(0.01)
        taken.append(sample(app, shift))
    shift.measuring = False
    least = min(taken, key=lambda s: (s["threads"], s["fds"]))
    return {**least, "looks": [[s["threads"], s["fds"]] for s in taken]}


def questions() -> list[str]:
    path = ROOT / "benchmarks" / "data" / "grounding_questions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row["question"] for row in rows if row.get("corpus") == "demo"]


def schedule(searches: int, drafts: int, listens: int) -> list[str]:
    """The actions, each kind spread evenly over the shift."""
    timed = [(i / searches, "search") for i in range(searches)]
    timed += [((i + 0.5) / drafts, "draft") for i in range(drafts)]
    timed += [((i + 0.25) / listens, "listen") for i in range(listens)]
    return [kind for _, kind in sorted(timed)]


class Shift:
    """Drives the window; records latency per action and the UI thread's tick gaps."""

    def __init__(self, window: Any, qs: list[str], watchdog: Any = None) -> None:
        from ui_responsiveness import Ticks

        self.window = window
        self.questions = qs
        self.turn = 0
        self.current = "start"
        self.latency: dict[str, list[float]] = {"search": [], "draft": [], "listen": []}
        # With a watchdog file, every thread's stack is dumped there when a tick is over 50 ms
        # late: the UI thread's stack shows what held it.
        self.ticks = Ticks(TARGET_GAP_MS if watchdog else 0, watchdog)
        self.ticks.watching = watchdog is not None
        self.ticks.timer.timeout.connect(self._note_stall)
        self.stalls: list[dict[str, Any]] = []
        self.gaps: dict[int, int] = {}  # tick gaps while measuring: whole ms -> how many
        self.measuring = False

    def _note_stall(self) -> None:
        if not self.measuring or not self.ticks.gaps:
            return
        gap = self.ticks.gaps[-1]
        self.ticks.gaps.clear()  # a shift is long: keep a histogram, not every tick
        self.gaps[int(gap)] = self.gaps.get(int(gap), 0) + 1
        if gap > TARGET_GAP_MS:
            self.stalls.append({"gap_ms": round(gap, 1), "during": self.current})

    def _question(self) -> str:
        self.turn += 1
        return self.questions[self.turn % len(self.questions)]

    def run(self, kind: str) -> None:
        from ui_responsiveness import wait_for

        window = self.window
        self.current = kind
        started = time.perf_counter()
        if kind == "search":
            text = self._question()
            if text == window.search.box.text():
                text = f"{text} "  # a new text, so the box searches again
            wait_for(window.results_shown, lambda: window.search.box.setText(text), 300)
        elif kind == "draft":
            text = self._question()
            window.search.box.blockSignals(True)  # the draft, not a search, is measured here
            window.search.box.setText(text)
            window.search.box.blockSignals(False)
            wait_for(window.draft_finished, window.draft_reply, 900)
        else:
            opener = CONVERSATION_OPENERS[self.turn % len(CONVERSATION_OPENERS)]
            conversation = f"{opener}\nCustomer: {self._question()}"
            wait_for(
                window.suggestions_shown,
                lambda: window.listen.conversation.setPlainText(conversation),
                300,
            )
        self.latency[kind].append(time.perf_counter() - started)
        self.current = "idle"


def open_window(model: str | None) -> Any:
    from ui_responsiveness import wait_for

    from desktop.core.context import AppContext
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.gui.main_window import MainWindow

    paths = Paths.from_env()
    settings = Settings.load(paths)
    if model:
        settings.set("model.path", model)
    settings.set("generation.replies", True)  # a shift's drafts, as the model writes them
    window = MainWindow(AppContext(paths, settings))
    window.show()
    wait_for(window.ready, window.start, 900)
    return window


def summarise(
    shift: Shift, samples: list[dict[str, Any]], args: argparse.Namespace, idle: list[dict]
) -> dict:
    warm, end = samples[0], samples[-1]
    # A leak keeps rising through the run; a lazily filled pool reaches its ceiling and stays:
    # compare the peak of the last third with the peak of the middle third.
    third = max(len(samples) // 3, 1)
    middle, last = samples[third : 2 * third] or samples, samples[2 * third :] or samples
    peaks = {
        key: (max(s[key] for s in middle), max(s[key] for s in last)) for key in ("fds", "threads")
    }
    names = sorted({name for s in samples for name in s["thread_names"]})
    rising = {
        name: [
            max(s["thread_names"].get(name, 0) for s in middle),
            max(s["thread_names"].get(name, 0) for s in last),
        ]
        for name in names
    }
    rising = {name: pair for name, pair in rising.items() if pair[1] > pair[0]}
    growth = (end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"]
    gaps = [float(ms) for ms, n in sorted(shift.gaps.items()) for _ in range(n)] or [0.0]
    latency = {
        kind: {
            "n": len(values),
            "median_s": round(statistics.median(values), 3),
            "p95_s": round(percentile(values, 95), 3),
        }
        for kind, values in shift.latency.items()
        if values
    }
    return {
        "actions": {"searches": args.searches, "drafts": args.drafts, "listens": args.listens},
        "warmup_share": args.warmup,
        "model": args.model or "default (SmolLM2-135M)",
        "rss_mb_after_warmup": warm["rss_mb"],
        "rss_mb_end": end["rss_mb"],
        "rss_mb_peak_sampled": max(s["rss_mb"] for s in samples),
        "rss_growth": round(growth, 4),
        "fds": [warm["fds"], end["fds"]],
        "threads": [warm["threads"], end["threads"]],
        "peaks_middle_last_third": peaks,
        "thread_groups_rising": rising,
        "thread_names_end": end["thread_names"],
        "python_threads": [warm["python_threads"], end["python_threads"]],
        "max_gap_ms": max(gaps),
        "load_average_mean": round(statistics.mean(s["load_average"] for s in samples), 2),
        "p99_gap_ms": round(percentile(gaps, 99), 1),
        "ticks": len(gaps),
        "stalls_over_50_ms": shift.stalls,
        "latency": latency,
        "samples": samples,
        # The same counts when idle, after the warm-up and at the end: what
        # pools hand back; a leak is what is still there.
        "idle": idle,
        "targets_met": {
            "rss_growth_le_5pct": growth <= TARGET_RSS_GROWTH,
            "no_fd_growth": peaks["fds"][1] <= peaks["fds"][0],
            "no_thread_growth": peaks["threads"][1] <= peaks["threads"][0] and not rising,
            "no_leak_when_idle": all(idle[-1][key] <= idle[0][key] for key in ("fds", "threads")),
            "no_stall_over_50_ms": not shift.stalls,
        },
    }


def table(result: dict[str, Any]) -> str:
    met = result["targets_met"]
    lat = result["latency"]
    peaks = result["peaks_middle_last_third"]
    lines = [
        "# Soak: a shift in one process (benchmarks/soak.py)",
        "",
        f"{result['actions']} with {result['model']}; warm-up = first "
        f"{result['warmup_share']:.0%} of the actions; mean 1-min load average "
        f"{result['load_average_mean']} on {os.cpu_count()} cores.",
        "",
        "| measure | after warm-up | end | target | met |",
        "|---|---|---|---|---|",
        f"| RSS (MB) | {result['rss_mb_after_warmup']} | {result['rss_mb_end']} "
        f"(growth {result['rss_growth']:+.1%}) | growth ≤ 5 % | {met['rss_growth_le_5pct']} |",
        f"| open file descriptors (peak, middle / last third) | {peaks['fds'][0]} "
        f"| {peaks['fds'][1]} | no growth | {met['no_fd_growth']} |",
        f"| OS threads (peak, middle / last third) | {peaks['threads'][0]} "
        f"| {peaks['threads'][1]} | no growth | {met['no_thread_growth']} |",
        f"| threads / fds when idle (least of 3 looks, 35-65 s) | {result['idle'][0]['threads']} / "
        f"{result['idle'][0]['fds']} | {result['idle'][-1]['threads']} / "
        f"{result['idle'][-1]['fds']} | no more than after the warm-up | "
        f"{met['no_leak_when_idle']} |",
        f"| UI tick gap max / p99 (ms) | | {result['max_gap_ms']} / {result['p99_gap_ms']} "
        f"| none > 50 ms | {met['no_stall_over_50_ms']} ({len(result['stalls_over_50_ms'])} "
        "stalls) |",
        "",
        "| action | n | median (s) | p95 (s) |",
        "|---|---|---|---|",
        *(f"| {k} | {v['n']} | {v['median_s']} | {v['p95_s']} |" for k, v in lat.items()),
    ]
    lines += [
        "",
        "Threads at the end by name: "
        + ", ".join(f"{k} {v}" for k, v in result["thread_names_end"].items())
        + (
            f"; rising groups (middle / last third peak): {result['thread_groups_rising']}"
            if result["thread_groups_rising"]
            else "; no group rises in the last third."
        ),
    ]
    if result["stalls_over_50_ms"]:
        worst = sorted(result["stalls_over_50_ms"], key=lambda s: -s["gap_ms"])[:10]
        lines += [
            "",
            "Worst stalls: " + ", ".join(f"{s['gap_ms']} ms ({s['during']})" for s in worst),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--drafts", type=int, default=200)
    parser.add_argument("--listens", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--model", help="a GGUF instead of the default model")
    parser.add_argument("--name", default="soak", help="results file name")
    parser.add_argument("--stacks", help="dump every thread's stack to this file at each stall")
    args = parser.parse_args()
    isolated_home()

    from PySide6.QtWidgets import QApplication

    from desktop.app import guard_singletons

    app = QApplication([])
    guard_singletons()  # as the app does (a PySide6 that loses references to None)
    window = open_window(args.model)
    stacks = open(args.stacks, "w", encoding="utf-8") if args.stacks else None  # noqa: SIM115
    shift = Shift(window, questions(), stacks)
    actions = schedule(args.searches, args.drafts, args.listens)
    warm_up = int(len(actions) * args.warmup)
    samples: list[dict[str, Any]] = []
    every = max(1, len(actions) // 20)
    idle: list[dict[str, Any]] = []
    for number, kind in enumerate(actions, 1):
        shift.run(kind)
        if number == max(warm_up, 1):
            idle.append({"action": number, **idle_sample(app, shift)})
            print("idle", idle[-1], flush=True)
        if number >= warm_up and ((number - warm_up) % every == 0 or number == len(actions)):
            samples.append({"action": number, **sample(app, shift)})
            print(number, samples[-1], flush=True)
    shift.measuring = False
    idle.append({"action": len(actions), **idle_sample(app, shift)})
    print("idle", idle[-1], flush=True)
    result = summarise(shift, samples, args, idle)
    window.close()
    window.ops.wait(60_000)
    write_result(args.name, result, table(result))
    app.quit()


if __name__ == "__main__":
    main()
