"""What the model allow-list costs at start-up (issue 16): hashing the model, keeping the hashed
bytes in a sealed in-memory file, and loading llama.cpp from it instead of from the path.

    python benchmarks/model_verify.py [--model PATH] [--runs 5]

Writes benchmarks/results/model_verify.{json,md}. Each figure is the median of --runs runs (the
file is in the page cache after the first: what a start-up after the first sees).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import write_result

from desktop.core.generation.engine import (
    LlamaEngine,
    check_allowed,
    default_model_path,
    file_sha256,
)


def timed(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load(path: Path, verified: bool, digest: str) -> None:
    engine = LlamaEngine(path, context_cap=512, threads=2)
    if verified:
        engine.verified_fd = check_allowed(path, digest, keep=True)
    engine.load()
    engine._llama.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    model: Path = args.model
    digest = file_sha256(model)
    size_mb = model.stat().st_size / 1e6

    def plain_read() -> None:
        with model.open("rb") as handle:
            while handle.read(1 << 22):
                pass

    def sealed() -> None:
        fd = check_allowed(model, digest, keep=True)
        if fd is not None:
            os.close(fd)

    rows = {
        "read the file (no hash)": timed(plain_read, args.runs),
        "hash (file_sha256)": timed(lambda: file_sha256(model), args.runs),
        "hash + sealed copy (check_allowed keep=True)": timed(sealed, args.runs),
        "llama.cpp load by path (no allow-list)": timed(lambda: load(model, False, ""), args.runs),
        "hash + sealed copy + load from /proc/self/fd": timed(
            lambda: load(model, True, digest), args.runs
        ),
    }
    table = "\n".join(
        [
            f"Model allow-list cost on {model.name} ({size_mb:.0f} MB), median of {args.runs} "
            f"runs, {hashlib.sha256().name}",
            "",
            "| step | seconds |",
            "| --- | ---: |",
            *(f"| {name} | {seconds:.3f} |" for name, seconds in rows.items()),
        ]
    )
    write_result(
        "model_verify",
        {"model": model.name, "size_mb": round(size_mb, 1), "runs": args.runs, "seconds": rows},
        table,
    )


if __name__ == "__main__":
    main()
