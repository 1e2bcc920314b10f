"""Size and start-up of the frozen application (`make bundle`) and of the Debian package.

    python benchmarks/bundle.py [--bundle dist/deskmate] [--deb DEB] [--build-log FILE ...]

Measures `du` of the bundle, the .deb's size, and the frozen command's wall time in a clean home
(no venv, no PYTHONPATH): `deskmate --version` (5 runs), and `deskmate search --json` (the first
run builds the demo pack; then 5 warm runs). Build times are read from the "built in Ns" lines
that installer/pyinstaller/build.sh and installer/deb/build-deb.sh print (pass their logs).
Writes benchmarks/results/bundle.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, write_result

QUERY = "How do I return a damaged item?"


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def timed(exe: Path, env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(exe), *args], env=env, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - start


def startup(exe: Path, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {
            "HOME": home,
            "DESKMATE_HOME": f"{home}/dm",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
        }
        version = [timed(exe, env, "--version") for _ in range(runs)]
        first = timed(exe, env, "search", "--json", QUERY)
        warm = [timed(exe, env, "search", "--json", QUERY) for _ in range(runs)]
    return {
        "version_s": round(statistics.median(version), 3),
        "search_first_s": round(first, 2),
        "search_warm_s": round(statistics.median(warm), 3),
        "runs": runs,
    }


def build_times(logs: list[Path]) -> dict[str, int]:
    found: dict[str, int] = {}
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            match = re.match(r"^(bundle|deb): .* built in (\d+)s$", line)
            if match:
                found[f"{match[1]}_build_s"] = int(match[2])
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "deskmate")
    parser.add_argument("--deb", type=Path, default=None)
    parser.add_argument("--build-log", type=Path, action="append", default=[])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    debs = [args.deb] if args.deb else sorted((ROOT / "dist").glob("deskmate_*_amd64.deb"))
    data: dict[str, Any] = {"bundle_mb": du_mb(args.bundle), **build_times(args.build_log)}
    if debs:
        data["deb"] = debs[0].name
        data["deb_mb"] = round(debs[0].stat().st_size / 2**20, 1)
    data.update(startup(args.bundle / "deskmate", args.runs))
    data["load_average_1min"] = round(os.getloadavg()[0], 2)
    lines = [
        "# The frozen application and the Debian package",
        "",
        "| | value |",
        "| --- | ---: |",
        f"| bundle (dist/deskmate, du) | {data['bundle_mb']} MiB |",
    ]
    if debs:
        lines.append(f"| {data['deb']} | {data['deb_mb']} MiB |")
    for key in ("bundle_build_s", "deb_build_s"):
        if key in data:
            lines.append(f"| {key.replace('_', ' ')} | {data[key]} s |")
    lines += [
        f"| frozen `deskmate --version` (median of {args.runs}) | {data['version_s']} s |",
        f"| frozen `deskmate search --json`, first run (builds the demo pack) "
        f"| {data['search_first_s']} s |",
        f"| frozen `deskmate search --json`, warm (median of {args.runs}) "
        f"| {data['search_warm_s']} s |",
    ]
    lines += [
        "",
        f"Load average (1 min) at the end: {data['load_average_1min']} on {os.cpu_count()} cores.",
    ]
    write_result("bundle", data, "\n".join(lines))


if __name__ == "__main__":
    main()
