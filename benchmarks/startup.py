"""How fast is the first answer, and how much memory does the window take? Before and after.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--before /work/main] [--no-cold]
                                           [--no-rss] [--rss-rows 100000]

Every figure comes from a fresh process per run, timed from just before the process is started
(``time.time()`` in this script) to the moment in question, for two source trees in the same
run: *before* (``--before``, e.g. the main checkout) and *after* (this checkout), each put
first on ``PYTHONPATH``.

1. **Window**: ``deskmate`` (the window, offscreen) with the demo pack: process start -> window
   shown (the first event-loop turn after ``show()``), and -> first search result for a query
   put in the search box as soon as the window is shown.
2. **CLI**: ``python -m desktop search QUERY --json`` over the demo pack, process start -> exit.
3. Both **warm** (the OS file cache holds everything: one unmeasured run first) and **cold**
   (``sync; echo 3 > /proc/sys/vm/drop_caches`` before each run; needs root, else reported as
   not measured).
4. **Bytecode**: each tree's compiled modules are kept (``PYTHONPYCACHEPREFIX``, one folder per
   tree under ``benchmarks/.work-startup/pycache``, written by the unmeasured first run), as
   an installed Deskmate has them; ``PYTHONDONTWRITEBYTECODE`` in the caller's environment
   would otherwise make every run compile Deskmate's and the prefix-less libraries' modules
   again (about 0.1 s of CPU). ``--no-bytecode-cache`` measures that way instead.
5. **RSS** of the window over the 100k-chunk pack (``.work/scale-100000``, built from the
   Rackspace pack by latency.py ``scaled_pack``) with the default model loaded, after a search
   and a draft: VmRSS at that moment and VmHWM (the peak).

The window is driven without changing it: a post-import hook wraps ``MainWindow.show`` in the
child process, so both trees are measured the same way. Results:
benchmarks/results/startup.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from common import ROOT, WORK, write_result

QUERY = "How do I return a damaged item?"  # the demo pack
RSS_QUERY = "How do I reset a user password on Windows Server?"  # the Rackspace-based pack
SAVED = ROOT / "benchmarks" / ".work-startup" / "startup-part.json"  # gitignored
SAVED_RSS = SAVED.with_name("rss-part.json")
PYCACHE = SAVED.with_name("pycache")  # one folder per tree: see env_for
TARGET_FIRST_RESULT_S = 1.0
TARGET_RSS_GB = 1.0
TIMEOUT_S = 600

# Runs the window as `deskmate` does; a post-import hook on desktop.gui.main_window wraps
# MainWindow.show, so nothing is imported earlier than the app itself imports it.
WINDOW = textwrap.dedent("""
    import importlib.util, json, os, sys, time
    T0 = float(os.environ["STARTUP_T0"])
    QUERY = os.environ["STARTUP_QUERY"]
    DRAFT = os.environ.get("STARTUP_DRAFT") == "1"
    seen = {}

    def status():
        fields = {}
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}

    def begin(window):
        from PySide6.QtWidgets import QApplication
        seen["shown"] = time.time() - T0
        quit = QApplication.instance().quit
        state = {"model": False, "result": False, "drafting": False}

        def maybe_draft():
            if state["model"] and state["result"] and not state["drafting"]:
                state["drafting"] = True
                window.draft_reply()

        def results(hits):
            if "first_result" not in seen:
                seen["first_result"] = time.time() - T0
                seen["first_result_cpu_s"] = time.process_time()  # this process, all threads
                seen["hits"] = len(hits)
                state["result"] = True
                quit() if not (DRAFT and hits) else maybe_draft()

        def model(text):
            if not text.endswith("…"):
                seen["model"] = text
                state["model"] = True
                maybe_draft()

        def drafted(answer):
            seen["draft_status"] = answer.status
            seen.update(status())
            quit()

        window.results_shown.connect(results)
        window.model_state.connect(model)
        window.draft_finished.connect(drafted)
        def failed(text):
            seen.setdefault("failed", text)
            quit()

        window.failed.connect(failed)
        window.search.box.setText(QUERY)

    def patch(module):
        from PySide6.QtCore import QTimer
        show = module.MainWindow.show
        def shown(self):
            show(self)
            QTimer.singleShot(0, lambda: begin(self))
        module.MainWindow.show = shown

    class Hook:
        def find_spec(self, name, path, target=None):
            if name != "desktop.gui.main_window":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module
            def exec_module(module):
                run(module)
                patch(module)
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())
    sys.argv = ["deskmate"]
    import desktop.cli.main  # what the `deskmate` entry point imports
    from desktop.app import run_gui
    code = run_gui()
    print(json.dumps({"code": code, **seen}))
""")


BYTECODE = {"cache": True}  # --no-bytecode-cache sets it False


def env_for(tree: Path, home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if BYTECODE["cache"]:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE / str(tree).strip("/").replace("/", "+"))
    return {
        **env,
        "PYTHONPATH": str(tree),
        "QT_QPA_PLATFORM": "offscreen",
        "DESKMATE_HOME": str(home),
        "DESKMATE_POLICY_DIR": str(home / "policies"),
        "STARTUP_QUERY": QUERY,
        **extra,
    }


def drop_caches() -> bool:
    """Empty the OS file cache (root only); False when not permitted."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def window_once(tree: Path, home: Path, draft: bool = False) -> dict[str, Any]:
    started, cpu = time.time(), child_cpu()
    env = env_for(tree, home, STARTUP_T0=repr(started), STARTUP_DRAFT="1" if draft else "0")
    if draft:
        env["STARTUP_QUERY"] = RSS_QUERY
    result = subprocess.run(
        [sys.executable, "-c", WINDOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=tree,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    seen["exit_s"] = time.time() - started
    seen["cpu_s"] = child_cpu() - cpu  # to the window's exit, right after the first result
    if not seen.get("hits") or "failed" in seen:
        raise RuntimeError(f"no result in the window: {seen}")
    return seen


def child_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def cli_once(tree: Path, home: Path) -> dict[str, Any]:
    started, cpu = time.time(), child_cpu()
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "search", QUERY, "--json"],
        env=env_for(tree, home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=tree,
    )
    seconds = time.time() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return {"exit_s": seconds, "cpu_s": child_cpu() - cpu, "hits": len(json.loads(result.stdout))}


def summary(found: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in found[0] if k.endswith("_s") or k in ("shown", "first_result")]
    medians = {k: statistics.median(r[k] for r in found) for k in keys}
    return {"measured": True, "runs": found, "median": medians}


def interleaved(run: Any, trees: dict[str, Path], homes: dict[str, Path], runs: int, cold: bool):
    """*runs* runs per tree, the trees taking turns so that both meet the same machine load
    (cold: caches dropped before each run; warm: after one unmeasured run per tree)."""
    if not cold:
        for name, tree in trees.items():
            run(tree, homes[name])
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            if cold and not drop_caches():
                why = {"measured": False, "why": "not permitted to drop the OS file cache"}
                return {name: why for name in trees}
            load = os.getloadavg()[0]
            found[name].append({**run(tree, homes[name]), "load_average": load})
            print(name, json.dumps(found[name][-1]), flush=True)
    return {name: summary(rows) for name, rows in found.items()}


def measure(trees: dict[str, Path], runs: int, cold: bool) -> dict[str, dict[str, Any]]:
    homes = {name: Path(tempfile.mkdtemp(prefix=f"deskmate-startup-{name}-")) for name in trees}
    for name, tree in trees.items():
        window_once(tree, homes[name])  # builds the demo pack in this home
    result: dict[str, dict[str, Any]] = {
        name: {"tree": str(tree), "bytecode_cache": BYTECODE["cache"]}
        for name, tree in trees.items()
    }
    for mode in ["warm", "cold"] if cold else ["warm"]:
        for kind, run in (("window", window_once), ("cli", cli_once)):
            print(f"--- {kind} {mode}", flush=True)
            for name, found in interleaved(run, trees, homes, runs, mode == "cold").items():
                result[name][f"{kind}_{mode}"] = found
    return result


def rss_home(rows: int) -> Path:
    """A home whose only pack is the *rows*-chunk pack (built once by latency.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from latency import scaled_pack

    pack = scaled_pack(WORK / "rackspace-pack", rows)
    home = Path(tempfile.mkdtemp(prefix="deskmate-rss-"))
    (home / "data" / "packs").mkdir(parents=True)
    (home / "data" / "packs" / pack.name).symlink_to(pack.resolve())
    (home / "config").mkdir()
    settings = {"knowledge.demo_enabled": False}
    (home / "config" / "settings.json").write_text(json.dumps(settings))
    return home


def measure_rss(tree: Path, home: Path, runs: int) -> dict[str, Any]:
    found = []
    for _ in range(runs):
        found.append(window_once(tree, home, draft=True))
        print(json.dumps(found[-1]), flush=True)
    return {
        "runs": found,
        "VmRSS_MB_median": statistics.median(r["VmRSS"] for r in found),
        "VmHWM_MB_median": statistics.median(r["VmHWM"] for r in found),
        "first_result_s_median": statistics.median(r["first_result"] for r in found),
    }


def cell(found: dict[str, Any], key: str) -> str:
    if not found.get("measured", True):
        return "not measured"
    median = found["median"].get(key)
    runs = ", ".join(f"{r[key]:.2f}" for r in found["runs"])
    return f"**{median:.2f} s** ({runs})"


def ratio(before: dict[str, Any], after: dict[str, Any], key: str) -> str:
    if not (before.get("measured", True) and after.get("measured", True)):
        return ""
    return f"{after['median'][key] / before['median'][key]:.2f}x"


ROWS = [
    ("window_warm", "shown", "process start → window shown, warm disk"),
    ("window_warm", "first_result", "process start → first search result, warm disk"),
    ("window_cold", "shown", "process start → window shown, cold disk"),
    ("window_cold", "first_result", "process start → first search result, cold disk"),
    ("cli_warm", "exit_s", "`deskmate search QUERY --json`, start → exit, warm disk"),
    ("cli_cold", "exit_s", "`deskmate search QUERY --json`, start → exit, cold disk"),
    (
        "window_warm",
        "first_result_cpu_s",
        "CPU time (user + system) of the window process from its start to the first result, warm",
    ),
    (
        "window_warm",
        "cpu_s",
        "CPU time (user + system), window run to the first result, then closed (waiting for "
        "a model load under way), warm",
    ),
    ("cli_warm", "cpu_s", "CPU time (user + system) of `deskmate search`, warm"),
]


def table(before: dict[str, Any], after: dict[str, Any], rss: dict[str, Any]) -> str:
    runs = len(after["window_warm"]["runs"])
    lines = [
        "Start-up: fresh process per run, timed from just before the process starts; "
        f"median of {runs} runs (each run in brackets).",
        "",
        f"Before: `{before['tree']}`; after: `{after['tree']}`. Bytecode: "
        + (
            "kept between runs, as installed."
            if after.get("bytecode_cache")
            else "compiled in every run (PYTHONDONTWRITEBYTECODE)."
        ),
        "",
        "| measure | before | after | after / before |",
        "|---|---|---|---|",
    ]
    for series_key, key, label in ROWS:
        if series_key in after:
            b, a = before[series_key], after[series_key]
            lines.append(f"| {label} | {cell(b, key)} | {cell(a, key)} | {ratio(b, a, key)} |")
    first = after["window_warm"]["median"]["first_result"]
    verdict = "met" if first <= TARGET_FIRST_RESULT_S else "NOT met"
    lines += ["", f"Target first search result <= {TARGET_FIRST_RESULT_S} s (warm): {verdict}."]
    if rss:
        lines += [
            "",
            f"Memory: the window over {rss['rows']:,} chunks with the default model loaded, "
            f"after a search and a draft (median of {len(rss['after']['runs'])} processes):",
            "",
            "| measure | before | after |",
            "|---|---|---|",
        ]
        for key, label in (("VmRSS_MB_median", "RSS (VmRSS)"), ("VmHWM_MB_median", "peak RSS")):
            b, a = rss["before"][key], rss["after"][key]
            lines.append(f"| {label} | {b:.0f} MB | {a:.0f} MB |")
        b, a = rss["before"]["first_result_s_median"], rss["after"]["first_result_s_median"]
        lines.append(f"| first search result, 100k chunks, warm | {b:.2f} s | {a:.2f} s |")
        met = "met" if rss["after"]["VmRSS_MB_median"] <= TARGET_RSS_GB * 1024 else "NOT met"
        lines += ["", f"Target RSS <= {TARGET_RSS_GB} GB: {met}."]
    load = [r["load_average"] for r in after["window_warm"]["runs"]]
    lines += [
        "",
        f"Load average (1 min) during the warm window runs (after): {load}; {os.cpu_count()} CPUs.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=Path("/work/main"))
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--no-cold", action="store_true", help="Skip the cold-disk runs.")
    parser.add_argument("--no-rss", action="store_true", help="Skip the memory measurement.")
    parser.add_argument("--rss-rows", type=int, default=100_000)
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="Run the trees as the caller's environment says (PYTHONDONTWRITEBYTECODE: every "
        "module compiled again in every run).",
    )
    parser.add_argument("--rss-runs", type=int, default=3)
    parser.add_argument(
        "--reuse",
        nargs="*",
        choices=["startup", "rss"],
        default=[],
        help="Reuse these parts of the last run (saved under benchmarks/.work-startup).",
    )
    args = parser.parse_args()
    BYTECODE["cache"] = not args.no_bytecode_cache
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    if "startup" in args.reuse and SAVED.is_file():
        measured = json.loads(SAVED.read_text())
    else:
        measured = measure(trees, args.runs, not args.no_cold)
        SAVED.parent.mkdir(parents=True, exist_ok=True)
        SAVED.write_text(json.dumps(measured))
    rss: dict[str, Any] = {}
    if "rss" in args.reuse and SAVED_RSS.is_file():
        rss = json.loads(SAVED_RSS.read_text())
    elif not args.no_rss:
        home = rss_home(args.rss_rows)
        rss = {"rows": args.rss_rows}
        for name, tree in trees.items():
            window_once(tree, home, draft=True)  # warm the disk
            rss[name] = measure_rss(tree, home, args.rss_runs)
        SAVED_RSS.write_text(json.dumps(rss))
    data = {
        **measured,
        "rss": rss,
        "query": QUERY,
        "args": vars(args) | {"before": str(args.before), "after": str(args.after)},
    }
    write_result("startup", data, table(measured["before"], measured["after"], rss))


if __name__ == "__main__":
    main()
