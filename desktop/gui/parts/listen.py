"""Listen: the live conversation, the customer's need in it, the articles it calls for, and
following the clipboard when settings and policy allow it."""

from __future__ import annotations

import html

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from desktop.core import listen
from desktop.core.errors import UserError
from desktop.core.knowledge.index import Hit
from desktop.core.knowledge.search import one_per_article
from desktop.gui.panes import ListenPane
from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.parts.lane import SearchLane

NO_NEED = "Suggestions appear as the conversation changes."
SUGGESTIONS = 5  # the agent wants to know what to read: one row per article


class ListenPart(Part):
    """Suggested articles that follow the customer's latest turns, and the wrap-up button."""

    name = "listen"
    area = "left"
    size = 330
    shortcuts = (
        Shortcut("Ctrl+4", "listen", "focus"),
        Shortcut("Ctrl+Shift+W", "wrap-up note from the conversation", "wrapup"),
    )
    suggestions_shown = Signal(list)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.pane = ListenPane()
        self.widget = self.pane
        self._watching = False
        self.lane = SearchLane(shell, self._show_suggestions, self._on_failed)
        self._debounce = QTimer(self, singleShot=True)
        self._debounce.setInterval(600)
        self._debounce.timeout.connect(self.search)
        pane = self.pane
        pane.suggestions.currentRowChanged.connect(self._on_selected)
        pane.conversation.textChanged.connect(self._on_changed)
        pane.wrapup_button.clicked.connect(self.wrapup)
        pane.follow_clipboard.toggled.connect(self._on_follow_toggled)
        shell.packs_opened.connect(lambda _: self.search())
        shell.settings_changed.connect(self._apply_clipboard_policy)
        self._apply_clipboard_policy()

    def focus_order(self) -> list[QWidget]:
        return [self.pane.conversation]

    def wrapup(self) -> None:
        self.shell.draft_requested.emit("wrapup")

    def closing(self) -> None:
        self._watch_clipboard(False)

    # --- suggestions ------------------------------------------------------------------------

    def _on_changed(self) -> None:
        self.shell.conversation = self.pane.conversation.toPlainText()
        self._debounce.start()

    def search(self) -> None:
        """Search for the customer's latest need in the conversation."""
        need = listen.customer_need(self.pane.conversation.toPlainText())
        if need.empty:
            self.pane.suggestions.clear()
            self.pane.need.setText(NO_NEED)
            return
        self.pane.need.setText(f"<b>Customer needs:</b> {html.escape(need.query[:160])}")
        self.lane.request(need.query)

    def _show_suggestions(self, query: str, hits: list[Hit]) -> None:
        hits = one_per_article(hits, SUGGESTIONS)
        self.lane.hits = hits
        self.pane.suggestions.show_hits(hits, query, self.shell.pack_titles())
        if not hits:
            self.pane.suggestions.show_message("No approved article matches yet.")
        self.suggestions_shown.emit(hits)

    def _on_failed(self, text: str) -> None:
        self.pane.need.setText(html.escape(text))

    def _on_selected(self, row: int) -> None:
        if 0 <= row < len(self.lane.hits):
            self.shell.source_requested.emit(self.lane.hits[row])

    # --- following the clipboard ------------------------------------------------------------

    def _apply_clipboard_policy(self) -> None:
        """The checkbox shows the setting; policy can lock it (on or off)."""
        settings = self.shell.context.settings
        box = self.pane.follow_clipboard
        box.blockSignals(True)
        box.setChecked(bool(settings.get("listen.follow_clipboard")))
        box.blockSignals(False)
        locked = settings.is_locked("listen.follow_clipboard")
        box.setEnabled(not locked)
        box.setToolTip(
            "Set by your IT department"
            if locked
            else "Use text copied to the clipboard as the conversation"
        )
        self._watch_clipboard(box.isChecked())

    def _on_follow_toggled(self, on: bool) -> None:
        settings = self.shell.context.settings
        try:
            settings.set("listen.follow_clipboard", on)
            settings.save()
        except UserError as exc:
            self.shell.say(str(exc), 10000)
        self._apply_clipboard_policy()

    def _watch_clipboard(self, on: bool) -> None:
        clipboard = QApplication.clipboard()
        if on == self._watching:
            return
        self._watching = on
        if on:
            clipboard.dataChanged.connect(self._on_clipboard)
        else:
            clipboard.dataChanged.disconnect(self._on_clipboard)

    def _on_clipboard(self) -> None:
        text = QApplication.clipboard().text().strip()
        if text and text != self.pane.conversation.toPlainText().strip():
            self.pane.conversation.setPlainText(text)
