"""The agent's window: search as you type, read the source, draft, and listen to the conversation.

Thin by design: the window creates the shared :class:`~desktop.gui.parts.base.Shell`, creates
the parts (one job each, see :mod:`desktop.gui.parts`) from a list, places their widgets,
binds their shortcuts, and passes their signals on as its own. Every search, draft and model
load runs on a worker (:class:`~desktop.gui.workers.Ops`), and nothing heavy is imported here,
so the window appears before the embedding model, LanceDB or llama.cpp load.

A new page is a new :class:`~desktop.gui.parts.base.Part` subclass added to the list: the
window places it, binds its shortcuts and includes it in F6's round without any other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QMainWindow, QToolButton

from desktop import APP_NAME
from desktop.core.assist import Assistant
from desktop.core.context import AppContext
from desktop.core.knowledge.index import Pack
from desktop.gui.help import shortcuts_dialog
from desktop.gui.panes import DraftPane, ListenPane, SearchPane, SourcePane
from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.parts.draft import DraftPart
from desktop.gui.parts.layout import WindowLayout
from desktop.gui.parts.listen import ListenPart
from desktop.gui.parts.packs_watch import PacksWatchPart
from desktop.gui.parts.policies import PoliciesPart
from desktop.gui.parts.search import SearchPart
from desktop.gui.parts.settings import SettingsPart
from desktop.gui.parts.source import SourcePart
from desktop.gui.parts.status import StatusPart
from desktop.gui.parts.sync import SyncPart
from desktop.gui.parts.usage import UsagePart
from desktop.gui.workers import Ops

# In this order: the columns (search and listen on the left, source and draft on the right),
# the status bar and the top row are filled, and F6 goes round the panes.
PARTS: tuple[type[Part], ...] = (
    SearchPart,
    SourcePart,
    DraftPart,
    ListenPart,
    StatusPart,
    SyncPart,
    SettingsPart,
    PoliciesPart,
    UsagePart,
    PacksWatchPart,
)
NEXT_PANE = Shortcut("F6", "next pane", "next_pane")
SHORTCUTS = Shortcut("F1", "list the keyboard shortcuts (Help › Keyboard shortcuts)", "")
P = TypeVar("P", bound=Part)


class MainWindow(QMainWindow):
    """Search, source, draft and listen panes over the installed knowledge packs."""

    ready = Signal()
    results_shown = Signal(list)
    suggestions_shown = Signal(list)
    source_shown = Signal(object)
    draft_finished = Signal(object)
    model_state = Signal(str)
    failed = Signal(str)

    def __init__(self, context: AppContext, parts: Sequence[type[Part]] = PARTS) -> None:
        super().__init__()
        self.context = context
        self.shell = Shell(context, self)
        self.parts: dict[str, Part] = {}
        for kind in parts:
            self.parts[kind.name] = kind(self.shell)
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 820)
        store = context.paths.config / "window.ini"
        self.frame = WindowLayout(self, list(self.parts.values()), store)
        self.shortcuts = self._bind_shortcuts()
        self.shortcuts_box: QDialog | None = None
        self._help_menu()
        self._connect()
        self.frame.restore()

    def _bind_shortcuts(self) -> list[tuple[Shortcut, QShortcut]]:
        bound = []
        for part in self.parts.values():
            for shortcut in part.shortcuts:
                action = getattr(part, shortcut.method)
                bound.append((shortcut, QShortcut(QKeySequence(shortcut.keys), self, action)))
        bound.append((NEXT_PANE, QShortcut(QKeySequence(NEXT_PANE.keys), self, self.next_pane)))
        return bound

    def _help_menu(self) -> None:
        menu = self.menuBar().addMenu("&Help")
        action = menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        action.setShortcut(QKeySequence(SHORTCUTS.keys))
        for button in self.menuBar().findChildren(QToolButton):  # the overflow "»" button
            button.setAccessibleName("More menus")

    def show_shortcuts(self) -> None:
        """Help › Keyboard shortcuts (F1)."""
        rows = [*self.shortcut_table(), (SHORTCUTS.keys, SHORTCUTS.what)]
        self.shortcuts_box = shortcuts_dialog(self, rows)
        self.shortcuts_box.open()

    def _connect(self) -> None:
        shell = self.shell
        shell.packs_opened.connect(lambda _: self.ready.emit())
        shell.problem.connect(lambda exc: self.failed.emit(str(exc)))
        shell.message.connect(self.statusBar().showMessage)
        shell.focus_requested.connect(self._focus_part)
        self.part(SearchPart).results_shown.connect(self.results_shown)
        self.part(ListenPart).suggestions_shown.connect(self.suggestions_shown)
        self.part(SourcePart).source_shown.connect(self.source_shown)
        self.part(DraftPart).draft_finished.connect(self.draft_finished)
        self.part(StatusPart).model_state.connect(self.model_state)

    def _focus_part(self, name: str) -> None:
        if name in self.parts:
            self.parts[name].focus()

    def part(self, kind: type[P]) -> P:
        """The window's part of type *kind*."""
        found = self.parts[kind.name]
        assert isinstance(found, kind)
        return found

    # --- what the tests, the benchmarks and the composition root use -------------------------

    @property
    def ops(self) -> Ops:
        return self.shell.ops

    @property
    def assistant(self) -> Assistant:
        return self.shell.assistant

    @property
    def packs(self) -> dict[str, Pack]:
        return self.shell.packs

    @property
    def search(self) -> SearchPane:
        return self.part(SearchPart).pane

    @property
    def source(self) -> SourcePane:
        return self.part(SourcePart).pane

    @property
    def draft(self) -> DraftPane:
        return self.part(DraftPart).pane

    @property
    def listen(self) -> ListenPane:
        return self.part(ListenPart).pane

    def start(self) -> None:
        """Open the knowledge packs (building the demo pack on first run), then load the model."""
        self.shell.start()

    def stop(self) -> None:
        """Stop the draft being written, if any."""
        self.part(DraftPart).stop()

    def draft_reply(self) -> None:
        self.part(DraftPart).draft_reply()

    def next_pane(self) -> None:
        self.frame.next_pane()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        changed = (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange)
        if event.type() in changed and getattr(self, "shell", None) is not None:
            self.shell.theme_changed.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.frame.save()
        for part in self.parts.values():
            part.closing()
        super().closeEvent(event)

    def shortcut_table(self) -> list[tuple[str, str]]:
        """Every shortcut the window binds and what it does, in binding order."""
        return [(shortcut.keys, shortcut.what) for shortcut, _ in self.shortcuts]
