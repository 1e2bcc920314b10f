"""The window is made of parts (issue 13): a page the window has never heard of is added from
its list alone, and the shortcuts stay those the README lists."""

from __future__ import annotations

from typing import Any

import pytest
from guikit import start, type_search
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QWidget

from desktop.core.knowledge.index import Hit
from desktop.gui.main_window import PARTS, MainWindow
from desktop.gui.panes import column
from desktop.gui.parts.base import Part, Shell, Shortcut

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

# The README's table, as the window bound it before it was split into parts.
README_SHORTCUTS = [
    ("Ctrl+K", "focus the search box"),
    ("Ctrl+L", "focus the search box"),
    ("Ctrl+Return", "draft (the selected task)"),
    ("Ctrl+D", "focus the draft"),
    ("Esc", "stop the draft"),
    ("Ctrl+Shift+C", "copy the draft"),
    ("Ctrl+E", "edit the draft before copying (again: done)"),
    ("Ctrl+R", "regenerate"),
    ("Ctrl+1", "results"),
    ("Ctrl+2", "source"),
    ("Ctrl+Shift+D", "draft a reply from the article shown"),
    ("Ctrl+3", "draft"),
    ("Ctrl+4", "listen"),
    ("F6", "next pane"),
    ("Ctrl+Shift+W", "wrap-up note from the conversation"),
    ("Ctrl+,", "settings"),
    ("Ctrl+Shift+Y", "sync knowledge packs now"),
]


class NotesPart(Part):
    """A new page: the agent's own notes, and the titles of the sources read meanwhile (which
    it learns from the shell, not from the search or source parts)."""

    name = "notes"
    area = "left"
    size = 120
    shortcuts = (Shortcut("Ctrl+5", "notes", "focus"),)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("Notes")
        self.read = QLabel()
        self.widget, _ = column(self.editor, self.read)
        shell.source_requested.connect(self._on_source)

    def focus_order(self) -> list[QWidget]:
        return [self.editor]

    def _on_source(self, hit: Hit) -> None:
        self.read.setText(f"Read: {hit.title}")


def test_the_shortcuts_are_the_ones_the_readme_lists(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    assert sorted(window.shortcut_table()) == sorted(README_SHORTCUTS)
    bound = [shortcut.key().toString() for _, shortcut in window.shortcuts]
    assert all(bound), "every key sequence must parse"
    assert len(set(bound)) == len(bound), "no key may be bound twice"


def test_a_new_page_is_added_from_the_parts_list_alone(qtbot: Any, context: Any) -> None:
    window = MainWindow(context, parts=(*PARTS, NotesPart))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    notes = window.part(NotesPart)

    # Placed: under the listen panel in the left column, and shown.
    left = window.frame.splitters["left"]
    assert [left.widget(i) for i in range(left.count())][-1] is notes.widget
    assert notes.editor.isVisible()
    # Its shortcut works, and F6 goes round through it after the listen panel and back.
    assert ("Ctrl+5", "notes") in window.shortcut_table()
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert notes.editor.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert QApplication.focusWidget() is notes.editor
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert window.search.box.hasFocus()
    # It hears what the other parts do through the shell: the source a search showed.
    start(qtbot, window)
    hits = type_search(qtbot, window, "return a damaged item")
    qtbot.waitUntil(lambda: notes.read.text() == f"Read: {hits[0].title}")
    window.stop()
    assert window.ops.wait(120_000)
