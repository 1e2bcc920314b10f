"""A pack added to (or removed from) the packs folder is served without a restart (issue 14,
finding 10)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

ARTICLE = """---
title: "Reset a Zephyrcloud hub"
category: devices
---

# Reset a Zephyrcloud hub

Hold the zephyr button on the back of the hub for twelve seconds until the ring blinks violet.
The hub restarts with its factory settings and can be paired again from the app.
"""


def _extra_pack(tmp_path: Path, embedder: Any) -> Path:
    from desktop.core.knowledge.index import build_pack

    source = tmp_path / "extra-src" / "devices"
    source.mkdir(parents=True)
    (source / "zephyr.md").write_text(ARTICLE, encoding="utf-8")
    dest = tmp_path / "built" / "extra"
    build_pack(source.parent, dest, embedder, pack_id="extra", title="Extra")
    return dest


def _watching(make_window: Any, qtbot: Any, context: Any) -> Any:
    """The window over *context*, its packs open and the packs folder's contents noted."""
    from desktop.gui.parts.packs_watch import PacksWatchPart

    window = make_window(context)
    with qtbot.waitSignal(window.ready, timeout=120_000):
        window.start()
    watch = window.part(PacksWatchPart)
    qtbot.waitUntil(lambda: watch.served is not None, timeout=10_000)
    return window


@pytest.fixture
def folder_context(deskmate_home: Path, demo_pack: Path, embedder: Any) -> Any:
    """A context serving the packs folder of a new home (the demo pack copied in)."""
    from desktop.core.context import AppContext
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("knowledge.demo_enabled", False)
    shutil.copytree(demo_pack, paths.data / "packs" / "northwind")
    return AppContext(paths, settings, embedder=embedder)


def test_a_pack_copied_into_the_folder_is_searchable_without_a_restart(
    make_window: Any, qtbot: Any, folder_context: Any, tmp_path: Path, embedder: Any
) -> None:
    window = _watching(make_window, qtbot, folder_context)
    assert set(window.packs) == {"demo"}

    extra = _extra_pack(tmp_path, embedder)
    with qtbot.waitSignal(window.ready, timeout=60_000):
        shutil.copytree(extra, folder_context.paths.data / "packs" / "extra")
    assert set(window.packs) == {"demo", "extra"}
    assert "added: extra" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.results_shown, timeout=60_000) as shown:
        window.search.box.setText("zephyr button hub blinks violet")
    assert shown.args[0][0].pack == "extra"

    with qtbot.waitSignal(window.ready, timeout=60_000):
        shutil.rmtree(folder_context.paths.data / "packs" / "extra")
    assert set(window.packs) == {"demo"}
    assert "removed: extra" in window.statusBar().currentMessage()


def test_a_pack_still_being_copied_is_waited_for(
    make_window: Any, qtbot: Any, folder_context: Any, tmp_path: Path, embedder: Any
) -> None:
    """Files that keep arriving postpone the reopening until the folder is still."""
    window = _watching(make_window, qtbot, folder_context)
    opened: list[Any] = []
    window.ready.connect(lambda: opened.append(set(window.packs)))
    extra = _extra_pack(tmp_path, embedder)
    target = folder_context.paths.data / "packs" / "extra"
    target.mkdir()
    files = sorted(p for p in extra.rglob("*") if p.is_file())
    for index, item in enumerate(files):  # a slow copy: one file every 0.4 s
        dest = target / item.relative_to(extra)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item, dest)
        if index % 3 == 0:
            qtbot.wait(400)
    qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
    assert opened == [{"demo", "extra"}], "the packs were reopened before the copy ended"
