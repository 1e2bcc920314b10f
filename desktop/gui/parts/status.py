"""The status bar's knowledge and model state, the offline indicator, and loading the model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop.core import render
from desktop.gui.panes import plain_label, plain_tip
from desktop.gui.parts.base import EXTRACTIVE, Part, Shell


def warning_color(palette: QPalette) -> str:
    """A red that reads on the palette's window colour: dark on light, light on dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return "#ff8a80" if dark else "#b00020"


# Without a search, the model loads this long after the packs opened (the window is idle).
MODEL_IDLE_MS = 1500


class StatusPart(Part):
    """Which packs are in service (and which are left out, and why), and the model's state.

    It loads the model once the packs are open (or known to be unavailable) and then the first
    of: a search has finished (its results are on screen), a draft is asked for, or
    MODEL_IDLE_MS went by. Loading it (llama.cpp maps and reads hundreds of MB) while the first
    search runs delayed that search's results.
    """

    name = "status"
    model_state = Signal(str)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        # Plain text: pack titles and versions and model names come from files.
        self.model_label = plain_label("Model: starting…")
        self.model_label.setAccessibleName("Model state")
        self.packs_label = plain_label("Knowledge: opening…")
        self.packs_label.setAccessibleName("Installed packs")
        self.offline_label = QLabel("● Offline: nothing leaves this PC")
        self.offline_label.setAccessibleName("Offline indicator")
        self.offline_label.setToolTip(
            "Search, drafting and checking all run on this PC; no text is sent anywhere."
        )
        self.status = [self.model_label, self.packs_label]
        self.permanent = [self.offline_label]
        shell.starting.connect(lambda: self.packs_label.setText("Knowledge: preparing…"))
        shell.packs_opened.connect(self._on_packs_opened)
        shell.packs_failed.connect(self._on_packs_failed)
        shell.searched.connect(self._on_searched)
        shell.theme_changed.connect(self.show_packs)
        self._damaged_shown: set[str] = set()  # the packs found damaged when last shown
        self.model_requested = False  # load_model ran (it runs once)
        self._model_due = False  # the packs are settled: the model may load
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._load_model_once)
        # After the slot showing the results has run: the model's load does not delay them.
        shell.searched.connect(lambda: QTimer.singleShot(0, self._load_model_once))
        shell.draft_requested.connect(lambda _: self._load_model_once())

    def _on_packs_opened(self, _: Any) -> None:
        self.show_packs()
        self._model_may_load()

    def _on_packs_failed(self, exc: Exception) -> None:
        self.packs_label.setText("Knowledge: unavailable")
        self.shell.show_problem(exc)
        self._model_may_load()

    def _model_may_load(self) -> None:
        self._model_due = True
        self._idle.start(MODEL_IDLE_MS)

    def _load_model_once(self) -> None:
        if self._model_due and not self.model_requested:
            self.load_model()

    def _on_searched(self) -> None:
        """A search may have found a pack damaged: show it then (at once, before the results).
        Otherwise nothing changed, and the context (whose lock a worker may hold, readying
        the sensitive-topic check, say) is not asked: the results do not wait for it."""
        damaged = {pack.id for pack in self.shell.packs.values() if pack.damage is not None}
        if damaged != self._damaged_shown:
            self.show_packs()

    def show_packs(self) -> None:
        """The packs in service, and any left out named, with what to do in the tooltip."""
        if not self.shell.knowledge_ready:
            return
        packs = self.shell.packs.values()
        self._damaged_shown = {pack.id for pack in packs if pack.damage is not None}
        problems = self.shell.context.pack_problems()
        text, tip = render.packs_summary(list(self.shell.packs.values()), problems)
        self.packs_label.setText(text)
        self.packs_label.setToolTip(plain_tip(tip))
        color = warning_color(QApplication.palette())
        self.packs_label.setStyleSheet(f"color: {color}" if problems else "")

    def load_model(self) -> None:
        self.model_requested = True
        self._idle.stop()
        self._set_model_state("loading…")
        context = self.shell.context
        self.shell.ops.run(context.load_model, self._on_loaded, self._on_failed, model=True)

    def _set_model_state(self, text: str, tip: str = "") -> None:
        self.model_label.setText(f"Model: {text}")
        self.model_label.setToolTip(plain_tip(tip))
        self.model_state.emit(text)

    def _on_loaded(self, engine: Any) -> None:
        if engine is not None:
            info = engine.info
            self._set_model_state(
                f"{render.model_label(info.name, info.path)} ready", str(info.path)
            )
        else:
            self._set_model_state("none — extractive mode", EXTRACTIVE)
        self.shell.model_loaded.emit(engine)

    def _on_failed(self, exc: Exception) -> None:
        self._set_model_state("unavailable — extractive mode", str(exc))
        self.shell.show_problem(exc)
        self.shell.model_failed.emit(exc)
