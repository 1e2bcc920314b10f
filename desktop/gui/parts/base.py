"""What every part of the window is, and what the parts share.

A :class:`Part` owns one job of the window, its widgets and its signals. Parts never reach into
each other's widgets: they read and write the small shared state of the :class:`Shell`, and ask
each other for things through its signals (show this source, draft this task, focus that pane).
The window only creates the shell and the parts, places the parts' widgets and connects its own
public signals to theirs.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.core import render
from desktop.core.assist import Assistant
from desktop.core.context import AppContext
from desktop.core.errors import UserError
from desktop.core.knowledge.index import Hit, Pack
from desktop.gui.workers import Ops

log = logging.getLogger(__name__)
EXTRACTIVE = (
    "Until then, drafts are built from the approved sources' own sentences (extractive mode); "
    "search, sources and checks work as usual."
)


@dataclass(frozen=True)
class Shortcut:
    """A key sequence, what it does (as the README's table says), and the part's method."""

    keys: str
    what: str
    method: str


class Shell(QObject):
    """The state the parts share, the workers, and the signals they talk through."""

    starting = Signal()  # the packs are being (re)opened
    packs_opened = Signal(list)  # the packs in service: knowledge_ready is now True
    packs_failed = Signal(object)  # no pack could be opened: the exception
    searched = Signal()  # a search ran: it may have found a pack damaged
    source_requested = Signal(object)  # a Hit to show in the source pane
    draft_requested = Signal(str)  # a task to draft ("" for the one chosen in the draft pane)
    draft_from = Signal(object)  # a Hit: draft a reply leading with that passage's article
    searching = Signal(str)  # a new search for this text started
    answer_shown = Signal(object)  # a finished Answer is on screen
    model_loaded = Signal(object)  # the engine, or None (extractive mode)
    model_failed = Signal(object)  # the exception
    problem = Signal(object)  # an exception the agent must see
    message = Signal(str, int)  # a status-bar message and how long to show it (ms)
    focus_requested = Signal(str)  # the name of the part to focus
    settings_changed = Signal()
    theme_changed = Signal()
    pack_filter_changed = Signal()  # shell.pack_filter changed: suggestions follow it too

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.assistant = Assistant(context)
        self.ops = Ops(self, bool(context.settings.get("model.low_priority")))
        self.packs: dict[str, Pack] = {}
        self.knowledge_ready = False
        self.knowledge_loading = False  # the packs are being opened: requests wait for them
        self.query = ""  # what the search box holds
        self.pack_filter = ""  # the pack the search filter is set to ("" for all)
        # The result the agent picked (not the top result selected for them): drafts lead with
        # its article, and a finished draft leaves the source pane on it.
        self.selected: Hit | None = None
        self.conversation = ""  # what the listen panel holds
        self.asked_at: float | None = None  # when the question in the box was first typed
        # The audit trail is written on its own thread: an fsync must not hold the window.
        context.audit.in_background(lambda exc: self.say(str(exc), 10000))

    # --- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the knowledge packs (building the demo pack on first run); the parts follow
        :attr:`packs_opened` or :attr:`packs_failed`."""
        self.knowledge_loading = True
        self.starting.emit()
        self.context.audit.policy(self.context.settings.machine)
        # Importing torch, transformers and LanceDB on the worker creates millions of objects,
        # and each full garbage collection they trigger holds the interpreter lock for up to
        # 0.3 s, freezing the window. Collection waits until they are loaded; then they are
        # frozen (never scanned again), which also keeps later collections short.
        gc.disable()
        self.ops.run(self._prepare, self._on_prepared, self._on_prepare_failed)

    def _prepare(self) -> list[Pack]:
        self.context.ensure_demo_pack()
        packs = self.context.packs()
        self.context.embedder.embed(["warm up"])
        return packs

    def _on_prepared(self, packs: list[Pack]) -> None:
        _freeze_startup_objects()
        self.packs = {pack.id: pack for pack in packs}
        self.knowledge_ready = True
        self.knowledge_loading = False
        self.packs_opened.emit(packs)

    def _on_prepare_failed(self, exc: Exception) -> None:
        _freeze_startup_objects()
        self.knowledge_loading = False
        self.packs_failed.emit(exc)

    # --- what the parts ask for -------------------------------------------------------------

    def question_typed(self, text: str) -> None:
        """The search box changed: a new question starts the clock, an empty box stops it."""
        if not text.strip():
            self.asked_at = None
        elif self.asked_at is None:
            self.asked_at = time.monotonic()

    def source_opened(self, hit: Hit, via: str) -> None:
        """The agent opened *hit* (a result, a citation): the first one per question is
        recorded with the time since the question was typed."""
        if self.asked_at is None:
            return
        elapsed_ms = int((time.monotonic() - self.asked_at) * 1000)
        self.asked_at = None
        self.context.audit.source_opened(hit, elapsed_ms, via)

    def pack_titles(self) -> dict[str, str]:
        return {pack_id: pack.title for pack_id, pack in self.packs.items()}

    def say(self, text: str, msecs: int = 5000) -> None:
        """Show *text* in the status bar for *msecs*."""
        self.message.emit(text, msecs)

    def show_problem(self, exc: Exception) -> None:
        self.problem.emit(exc)

    def problem_html(self, exc: Exception) -> str:
        if not isinstance(exc, UserError):
            log.error("unexpected error", exc_info=exc)
        return render.problem_html(exc)


def _freeze_startup_objects() -> None:
    """Move what start-up created out of the collector's sight, and collect normally again."""
    gc.freeze()
    gc.enable()


class Part(QObject):
    """One job of the window with its widgets and signals.

    A part fills in what it shows where: *widget* goes in its *area* of the window ("left" or
    "right" column, *size* pixels high to begin with), *tools* in the row at the top, *status*
    and *permanent* in the status bar. *shortcuts* name its methods; :meth:`focus_order` lists
    the widgets F6 walks through, and :meth:`focus` is what focusing the part does.
    """

    name: ClassVar[str] = ""
    area: ClassVar[str] = ""
    size: ClassVar[int] = 300
    shortcuts: ClassVar[tuple[Shortcut, ...]] = ()

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.widget: QWidget | None = None
        self.tools: list[QWidget] = []
        self.status: list[QWidget] = []
        self.permanent: list[QWidget] = []

    def focus_order(self) -> list[QWidget]:
        return [self.widget] if self.widget is not None else []

    def focus(self) -> None:
        widgets = self.focus_order()
        if widgets:
            widgets[0].setFocus()

    def closing(self) -> None:
        """The window is closing: let go of what outlives it (clipboard watch, a draft)."""
