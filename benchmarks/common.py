"""Shared helpers for the benchmark scripts: paths, the Rackspace pack, result files."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpora" / "rackspace-how-to"
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "results"
QUESTIONS = ROOT / "benchmarks" / "data" / "rackspace_questions.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def isolated_home() -> None:
    """Run Deskmate in a fresh data folder (unless DESKMATE_HOME names one) with no machine
    policy, so a benchmark measures the defaults, not this PC's settings. Deskmate reads both
    when a context is made, so this may run after importing it."""
    import tempfile

    os.environ.setdefault("DESKMATE_HOME", tempfile.mkdtemp(prefix="deskmate-bench-"))
    os.environ["DESKMATE_POLICY_DIR"] = str(Path(os.environ["DESKMATE_HOME"]) / "no-policy")


def machine() -> dict[str, Any]:
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def write_result(name: str, data: dict[str, Any], table: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)
    return path


CORPORA = {
    "rackspace": (CORPUS, "Rackspace how-to"),
    "duckduckgo": (ROOT.parent / "shared" / "corpora" / "duckduckgo-help", "DuckDuckGo help"),
}


def rackspace_pack(embedder: Any, progress: bool = True) -> Path:
    """The pack of the whole Rackspace corpus (built once, then reused incrementally)."""
    return corpus_pack("rackspace", embedder, progress)


def corpus_pack(name: str, embedder: Any, progress: bool = True) -> Path:
    """The pack of a whole corpus in ../shared/corpora (built once, then reused incrementally)."""
    from desktop.core.knowledge.build import build_pack

    source, title = CORPORA[name]
    dest = WORK / f"{name}-pack"
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        if progress and (time.time() - last[0] > 5 or done == total):
            last[0] = time.time()
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    result = build_pack(source, dest, embedder, pack_id=name, title=title, progress=report)
    print(
        f"{name} pack: {result.documents} documents, {result.chunks} chunks "
        f"({'unchanged' if result.unchanged else f'{result.seconds:.0f} s'})",
        file=sys.stderr,
    )
    return dest


def load_questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
