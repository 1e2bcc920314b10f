"""Where the parts' widgets go, and the window's layout remembered between runs.

The top row holds every part's tools; each part's widget goes in its column ("left" or
"right"), one under the other in registry order, in resizable splitters; the status bar holds
their status widgets. F6 walks through every part's focus widgets in registry order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QMainWindow, QSplitter, QWidget

from desktop.gui.focus import FocusFrame
from desktop.gui.panes import column
from desktop.gui.parts.base import Part

WIDTHS = {"left": 430, "right": 850}  # the columns' widths to begin with


class WindowLayout:
    """Builds *window*'s central widget and status bar from *parts*; saves and restores the
    geometry and the splitters in *store* (an INI file)."""

    def __init__(self, window: QMainWindow, parts: Sequence[Part], store: Path) -> None:
        self.window = window
        self.parts = list(parts)
        self.store = store
        self.splitters: dict[str, QSplitter] = {}
        window.setCentralWidget(self._central())
        for part in self.parts:
            for widget in part.status:
                window.statusBar().addWidget(widget)
            for widget in part.permanent:
                window.statusBar().addPermanentWidget(widget)

    def _central(self) -> QWidget:
        top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(6, 6, 6, 0)
        for index, widget in enumerate(w for part in self.parts for w in part.tools):
            row.addWidget(widget, 1 if index == 0 else 0)  # the first tool takes the room
        main = QSplitter(Qt.Orientation.Horizontal)
        self.splitters["main"] = main
        for area in WIDTHS:
            placed = [p for p in self.parts if p.area == area and p.widget is not None]
            if not placed:
                continue
            splitter = QSplitter(Qt.Orientation.Vertical)
            for part in placed:
                assert part.widget is not None
                splitter.addWidget(part.widget)
            splitter.setSizes([part.size for part in placed])
            main.addWidget(splitter)
            self.splitters[area] = splitter
        main.setSizes([WIDTHS[a] for a in WIDTHS if a in self.splitters])
        for splitter in self.splitters.values():
            splitter.setChildrenCollapsible(False)
        central, layout = column(top, main)
        layout.setStretch(1, 1)
        panes = [widget for part in self.parts for widget in part.focus_order()]
        self.focus_frame = FocusFrame(panes, central)
        return central

    def next_pane(self) -> None:
        """Focus the next pane (F6), in the parts' order, round."""
        panes = [widget for part in self.parts for widget in part.focus_order()]
        if not panes:
            return
        focused = QApplication.focusWidget()
        index = panes.index(focused) if focused in panes else -1
        panes[(index + 1) % len(panes)].setFocus()

    def _settings(self) -> QSettings:
        return QSettings(str(self.store), QSettings.Format.IniFormat)

    def restore(self) -> None:
        store = self._settings()
        geometry = store.value("geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        for name, splitter in self.splitters.items():
            state = store.value(f"splitter/{name}")
            if state is not None:
                splitter.restoreState(state)

    def save(self) -> None:
        store = self._settings()
        store.setValue("geometry", self.window.saveGeometry())
        for name, splitter in self.splitters.items():
            store.setValue(f"splitter/{name}", splitter.saveState())
        store.sync()
