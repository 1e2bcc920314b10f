"""The status bar's knowledge and model state, the offline indicator, and loading the model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop.core import render
from desktop.gui.panes import plain_label, plain_tip
from desktop.gui.parts.base import EXTRACTIVE, Part, Shell


def warning_color(palette: QPalette) -> str:
    """A red that reads on the palette's window colour: dark on light, light on dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return "#ff8a80" if dark else "#b00020"


class StatusPart(Part):
    """Which packs are in service (and which are left out, and why), and the model's state; it
    loads the model once the packs are open, or known to be unavailable."""

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
        shell.searched.connect(self.show_packs)
        shell.theme_changed.connect(self.show_packs)

    def _on_packs_opened(self, _: Any) -> None:
        self.show_packs()
        self.load_model()

    def _on_packs_failed(self, exc: Exception) -> None:
        self.packs_label.setText("Knowledge: unavailable")
        self.shell.show_problem(exc)
        self.load_model()

    def show_packs(self) -> None:
        """The packs in service, and any left out named, with what to do in the tooltip."""
        if not self.shell.knowledge_ready:
            return
        problems = self.shell.context.pack_problems()
        text, tip = render.packs_summary(list(self.shell.packs.values()), problems)
        self.packs_label.setText(text)
        self.packs_label.setToolTip(plain_tip(tip))
        color = warning_color(QApplication.palette())
        self.packs_label.setStyleSheet(f"color: {color}" if problems else "")

    def load_model(self) -> None:
        self._set_model_state("loading…")
        context = self.shell.context
        self.shell.ops.run(context.load_model, self._on_loaded, self._on_failed, model=True)

    def _set_model_state(self, text: str, tip: str = "") -> None:
        self.model_label.setText(f"Model: {text}")
        self.model_label.setToolTip(plain_tip(tip))
        self.model_state.emit(text)

    def _on_loaded(self, engine: Any) -> None:
        if engine is not None:
            self._set_model_state(f"{engine.info.name} ready")
        else:
            self._set_model_state("none — extractive mode", EXTRACTIVE)
        self.shell.model_loaded.emit(engine)

    def _on_failed(self, exc: Exception) -> None:
        self._set_model_state("unavailable — extractive mode", str(exc))
        self.shell.show_problem(exc)
        self.shell.model_failed.emit(exc)
