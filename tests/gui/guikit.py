"""Helpers for the window tests: drive the real window as an agent would."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings

QUESTION = "How do I return a damaged item?"
DAMAGED = "delivery-returns/return-damaged-or-faulty-item.md"
LONG = 180_000  # ms: prompt evaluation alone takes ~10 s on a small CI machine


def norm(text: str) -> str:
    """Whitespace-normalised text (Qt writes U+2029 for paragraph breaks in selectedText)."""
    return " ".join(text.replace("\u2029", "\n").replace("\u2028", "\n").split())


def start(qtbot: Any, window: Any) -> None:
    with qtbot.waitSignal(window.ready, timeout=LONG):
        window.start()


def type_search(qtbot: Any, window: Any, text: str) -> list[Any]:
    """Type *text* into the search box as an agent would; returns the hits shown."""
    with qtbot.waitSignal(window.results_shown, timeout=LONG) as shown:
        qtbot.keyClicks(window.search.box, text)
    return list(shown.args[0])


def draft(qtbot: Any, window: Any) -> Any:
    """Press Enter in the search box (draft a reply); returns the finished answer."""
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    qtbot.waitUntil(window.draft.draft_button.isEnabled, timeout=10_000)
    return finished.args[0]


def context_with(embedder: Any, **kwargs: Any) -> AppContext:
    paths = Paths.from_env()
    return AppContext(paths, Settings.load(paths), embedder=embedder, **kwargs)


def assert_source_shown(window: Any, hit: Any) -> None:
    QApplication.processEvents()  # the pane scrolls to the passage in the next event-loop turn
    assert hit.title in window.source.title.text()
    assert hit.source in window.source.title.text()
    assert norm(window.parts["source"].highlighted_text()) == norm(hit.text)
    # The whole document is there, rendered: every line of its text appears in the pane.
    pack = window.packs[hit.pack]
    shown = norm(window.source.view.toPlainText())
    for line in pack.document_text(hit.source).splitlines():
        for cell in norm(line).lstrip("-*• ").split(" | "):  # a table row: each cell is shown
            assert cell in shown
    # Scrolled to the passage: its first line is inside the visible part of the pane.
    view = window.source.view
    first = norm(hit.text).lstrip("-*• ")[:30]  # the list draws its own bullet
    found = view.document().find(first)
    assert not found.isNull()
    rect = view.cursorRect(found)
    assert 0 <= rect.top() < view.viewport().height()
