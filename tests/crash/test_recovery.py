"""Regression tests for what the crash harness found, in-process (no SIGKILL needed).

* A pack build killed between its two renames (old pack aside, new pack not yet in) left no pack
  at all: the next start or build now finishes the switch (:func:`build.finish_swap`).
* A feedback record appended after a torn last line was glued onto it and lost with it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from desktop.core import feedback
from desktop.core.context import AppContext
from desktop.core.fileio import file_lock
from desktop.core.knowledge import build
from desktop.core.knowledge.build import build_pack, finish_swap
from desktop.core.paths import Paths
from desktop.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


class Killed(BaseException):
    """Stands in for SIGKILL at a crash point: nothing after it runs."""


def _sources(folder: Path, word: str) -> Path:
    for article in ("billing/disputing-a-charge.md", "account-access/reset-your-password.md"):
        (folder / article).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO / article, folder / article)
    (folder / "codes.md").write_text(f"# Codes\n\nThe voucher code word is {word}.\n")
    return folder


def _killed_mid_switch(tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build version 1, then version 2 up to the moment between its two renames."""
    dest = tmp_path / "packs" / "kb"
    build_pack(_sources(tmp_path / "v1", "MARIGOLD"), dest, embedder, pack_id="kb", version="1")

    def kill(name: str) -> None:
        raise Killed(name)

    src = _sources(tmp_path / "v2", "TANGERINE")
    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(build, "crash_point", kill)
        build_pack(src, dest, embedder, pack_id="kb", version="2")
    assert not dest.exists() and (dest.parent / ".kb.old").is_dir()  # the window itself
    return dest


def _version(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["version"])


@pytest.mark.slow
def test_next_start_switches_in_the_complete_new_pack_after_a_kill_mid_switch(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = _killed_mid_switch(tmp_path, embedder, monkeypatch)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[dest], embedder=embedder)
    [pack] = context.packs()
    assert pack.version == "2" and _version(dest) == "2"
    assert not (dest.parent / ".kb.old").exists()  # the old copy is cleaned up


@pytest.mark.slow
def test_next_start_puts_the_old_pack_back_when_the_new_one_was_not_finished(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = _killed_mid_switch(tmp_path, embedder, monkeypatch)
    (dest.parent / ".kb.building" / "build-report.json").unlink()  # as if the build stopped earlier
    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("knowledge.demo_enabled", False)
    paths.data.mkdir(parents=True)
    shutil.move(dest.parent, paths.data / "packs")  # a pack installed in the data folder
    context = AppContext(paths, settings, embedder=embedder)
    assert [(p.id, p.version) for p in context.packs()] == [("kb", "1")]


@pytest.mark.slow
def test_the_next_build_finishes_a_switch_before_it_starts(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = _killed_mid_switch(tmp_path, embedder, monkeypatch)
    report = build_pack(tmp_path / "v2", dest, embedder, pack_id="kb", version="2")
    assert report.unchanged and _version(dest) == "2"  # the killed build's work is kept


def test_a_reader_leaves_a_switch_that_a_running_build_holds_alone(tmp_path: Path) -> None:
    dest = tmp_path / "kb"
    (tmp_path / ".kb.old").mkdir()
    with file_lock(tmp_path / ".kb.lock") as held:  # a build between its two renames
        assert held
        assert not finish_swap(dest)
    assert not dest.exists() and (tmp_path / ".kb.old").is_dir()
    assert finish_swap(dest) and dest.is_dir()  # no build running: the old pack comes back


def test_a_rating_after_a_torn_last_line_is_kept(tmp_path: Path) -> None:
    from desktop.core.assist import Answer

    answer = Answer("answered", "question", "A draft [1].")
    feedback.record(tmp_path, answer, "up")
    file = feedback.feedback_file(tmp_path)
    file.write_bytes(file.read_bytes() + b'{"time": "2025-')  # a power cut mid-append
    feedback.record(tmp_path, answer, "down")
    assert [e["rating"] for e in feedback.read_all(tmp_path)] == ["up", "down"]
    assert file.read_bytes().endswith(b"\n")
