"""Findings of the outside review (issue 11) in the real window: pack text is shown as text, and
file names from a pack never lead outside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from guikit import DAMAGED, context_with, start, type_search
from PySide6 import QtGui
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import QLabel

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

LINK = '<a href="https://evil.example/login">Sign in again</a>'
IMAGE = '<img src="https://evil.example/pixel.png">'
ARTICLE = f"""---
title: Returns {LINK}
category: '{LINK}'
updated: '{IMAGE} 2024-05-01'
---
# Returning a damaged item

Report a damaged item within 48 hours of delivery under Account > Orders > Report a problem.
"""


def shown(label: QLabel) -> str:
    """What *label* displays: rich text as Qt renders it, plain text as it is."""
    text = label.textFormat()
    rich = text == Qt.TextFormat.RichText or (
        text == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(label.text())
    )
    if not rich:
        return label.text()
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def test_pack_title_and_front_matter_are_shown_as_plain_text(
    qtbot: Any, make_window: Any, embedder: Any, tmp_path: Path
) -> None:
    from desktop.core.knowledge.index import build_pack

    src = tmp_path / "src"
    src.mkdir()
    (src / "returns.md").write_text(ARTICLE, encoding="utf-8")
    pack = tmp_path / "pack"
    build_pack(src, pack, embedder, pack_id="evil", title=f"Help {LINK}", version=IMAGE)
    window = make_window(context_with(embedder, pack_dirs=[pack]))
    start(qtbot, window)

    hits = type_search(qtbot, window, "return a damaged item")

    assert hits and hits[0].source == "returns.md"
    qtbot.waitUntil(lambda: window.parts["source"].current_hit is not None)
    assert shown(window.parts["status"].packs_label) == f"Knowledge: Help {LINK} v{IMAGE}"
    details = shown(window.source.meta)
    assert f"Pack: Help {LINK} v{IMAGE}" in details
    assert f"last updated {IMAGE} 2024-05-01" in details and f"category {LINK}" in details
    assert f"Returns {LINK}" in shown(window.source.title)
    window.parts["sync"].set_status(f"Knowledge sync failed: pack {LINK}", warning=True)
    assert shown(window.parts["sync"].label) == f"⚠ Knowledge sync failed: pack {LINK}"


def _pack_without_demo_originals(pack_copy: Path) -> None:
    manifest = json.loads((pack_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = "copied"  # not the demo pack: only the pack's own originals/ count
    (pack_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_original_stays_inside_the_packs_originals(
    qtbot: Any, make_window: Any, pack_copy: Path, embedder: Any, tmp_path: Path
) -> None:
    _pack_without_demo_originals(pack_copy)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0", encoding="utf-8")
    original = pack_copy / "originals" / DAMAGED
    original.parent.mkdir(parents=True)
    original.symlink_to(secret)
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    start(qtbot, window)

    hits = type_search(qtbot, window, "return a damaged item")

    assert hits[0].source == DAMAGED
    qtbot.waitUntil(lambda: window.parts["source"].current_hit is not None)
    assert window.parts["source"].original_path is None
    assert not window.source.open_button.isEnabled()
    assert "outside its originals folder" in window.source.open_button.toolTip()

    # A real original is offered; swapped for a symlink out after it was shown, it is refused.
    original.unlink()
    original.write_text("the original", encoding="utf-8")
    window.parts["source"].show_source(hits[0])
    assert window.parts["source"].original_path == original.resolve()
    original.unlink()
    original.symlink_to(secret)
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        window.parts["source"].open_original()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert catcher.urls == []
    assert "outside its originals folder" in window.statusBar().currentMessage()


def test_document_reader_refuses_a_symlink_out_of_the_pack(
    qtbot: Any, make_window: Any, pack_copy: Path, embedder: Any, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:top secret", encoding="utf-8")
    entries = json.loads((pack_copy / "documents.json").read_text(encoding="utf-8"))
    text_file = pack_copy / next(e for e in entries if e["source"] == DAMAGED)["file"]
    text_file.unlink()
    text_file.symlink_to(secret)
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    start(qtbot, window)

    hits = type_search(qtbot, window, "return a damaged item")

    assert hits[0].source == DAMAGED
    text = window.source.view.toPlainText()
    assert "outside its documents folder" in text
    assert "top secret" not in text
    assert not window.source.open_button.isEnabled()


def test_a_damaged_pack_is_named_in_the_status_bar_and_the_others_are_searched(
    qtbot: Any, make_window: Any, embedder: Any, demo_pack: Path, tmp_path: Path
) -> None:
    """Review item 3: one damaged pack leaves the others searchable, and the window says which
    pack is left out and what to do."""
    import shutil

    from desktop.core.knowledge.index import build_pack

    source = tmp_path / "other-src"
    source.mkdir()
    (source / "vpn.md").write_text(
        "# Using the VPN\n\nTurn the VPN on in Settings, then choose a location.\n",
        encoding="utf-8",
    )
    other = tmp_path / "other"
    build_pack(source, other, embedder, pack_id="other", title="Other help")
    data = max((other / "lance" / "chunks.lance" / "data").glob("*.lance"))
    with open(data, "r+b") as handle:
        handle.truncate(data.stat().st_size // 2)
    demo = tmp_path / "demo"
    shutil.copytree(demo_pack, demo)
    window = make_window(context_with(embedder, pack_dirs=[demo, other]))
    start(qtbot, window)
    hits = type_search(qtbot, window, "How do I return a damaged item?")
    assert hits and hits[0].source == DAMAGED
    label = window.parts["status"].packs_label
    assert "not searched: other" in label.text(), label.text()
    assert "Demo" in label.text()
    assert "deskmate pack repair other" in label.toolTip()
