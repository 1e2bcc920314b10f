"""Listen: the live conversation, the customer's need in it, the articles it calls for, and
following the clipboard when settings and policy allow it."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from desktop.core import listen, render
from desktop.core.conversation import AGENT, turns
from desktop.core.errors import UserError
from desktop.core.knowledge.index import Hit
from desktop.core.speech.live import Final
from desktop.core.steer import Steer
from desktop.gui.panes import ListenPane
from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.parts.call_audio import CallAudio
from desktop.gui.parts.draft import TurnDraft

NO_NEED = "Suggestions appear as the conversation changes."
ROUTE_STYLE = "background-color:#fde2c8; color:#000000; padding:4px;"
DRAFT_EACH_TURN = "listen.draft_each_turn"


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
    route_shown = Signal(object)  # the Detection shown in the banner, or None

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.pane = ListenPane()
        self.widget = self.pane
        self._watching = False
        self.hits: list[Hit] = []
        self.detection: object = None  # the Detection in the banner
        self._running = False
        self._pending: str | None = None
        self._opening = ""  # the first line of the conversation the agent's choices belong to
        self._drafted = ""  # the customer's need a reply was last drafted (or skipped) for
        self._add_route_banner()
        self._add_call_ended()
        self._clear_after_wrapup = False
        self._wrapup_when_stopped = False
        self._debounce = QTimer(self, singleShot=True)
        self._debounce.setInterval(600)
        self._debounce.timeout.connect(self.search)
        pane = self.pane
        pane.suggestions.currentRowChanged.connect(self._on_selected)
        pane.conversation.textChanged.connect(self._on_changed)
        pane.wrapup_button.clicked.connect(self.wrapup)
        pane.follow_clipboard.toggled.connect(self._on_follow_toggled)
        shell.packs_opened.connect(lambda _: self.search())
        shell.pack_filter_changed.connect(self.search)  # suggestions keep to the filter too
        shell.settings_changed.connect(self._apply_clipboard_policy)
        self.audio = CallAudio(self, self.add_turn)
        self.audio.ended.connect(self._on_audio_ended)  # after CallAudio's own handler
        shell.answer_shown.connect(self._on_answer_shown)
        shell.settings_changed.connect(self.audio.apply_policy)
        self._apply_clipboard_policy()
        self.audio.apply_policy()

    def _add_route_banner(self) -> None:
        """The route-to-person banner, above the need, with the agent's way out of it."""
        self.route_banner = QLabel()
        self.route_banner.setWordWrap(True)
        self.route_banner.setAccessibleName("Route to a person")
        self.route_banner.hide()
        self.not_sensitive_button = QPushButton("&Not a sensitive case")
        self.not_sensitive_button.setAccessibleName("Not a sensitive case")
        self.not_sensitive_button.setToolTip(
            "Say this conversation is not this kind of case and continue (your choice is recorded)"
        )
        self.not_sensitive_button.hide()
        self.not_sensitive_button.clicked.connect(self.not_sensitive)
        layout = self.pane.need.parentWidget().layout()
        at = layout.indexOf(self.pane.need)
        layout.insertWidget(at, self.not_sensitive_button)
        layout.insertWidget(at, self.route_banner)

    def _add_call_ended(self) -> None:
        """The "Call ended" button, under the audio controls (shown with them)."""
        self.call_ended_button = QPushButton("Ca&ll ended")
        self.call_ended_button.setAccessibleName("Call ended")
        self.call_ended_button.setToolTip(
            "Stop listening, draft the wrap-up note from the conversation, then clear the "
            "conversation for the next call"
        )
        self.call_ended_button.hide()
        self.call_ended_button.clicked.connect(self.call_ended)
        layout = self.pane.need.parentWidget().layout()
        layout.insertWidget(layout.indexOf(self.pane.audio_status), self.call_ended_button)

    def call_ended(self) -> None:
        """Stop listening; once the last turn is in, the wrap-up note is drafted (as the Wrap-up
        button does) and the call's text is cleared when the note is shown."""
        if self.audio.listener is not None:
            self._wrapup_when_stopped = True
            self.audio.stop()  # the rest follows when listening has ended
            return
        self._wrap_up_call()

    def _on_audio_ended(self, _error: object) -> None:
        if self._wrapup_when_stopped:
            self._wrapup_when_stopped = False
            self._wrap_up_call()

    def _wrap_up_call(self) -> None:
        if not self.pane.conversation.toPlainText().strip():
            self.shell.say("The call ended: there was no conversation to wrap up.", 5000)
            return
        self._clear_after_wrapup = True
        self.wrapup()

    def _on_answer_shown(self, answer: object) -> None:
        """The call's wrap-up note is on screen: the call's text is no longer kept."""
        if self._clear_after_wrapup and getattr(answer, "task", "") == "wrapup":
            self._clear_after_wrapup = False
            self.pane.conversation.clear()
            self.shell.say("Call ended: the wrap-up note is in the draft pane.", 5000)

    def focus_order(self) -> list[QWidget]:
        return [self.pane.conversation]

    def wrapup(self) -> None:
        self.shell.draft_requested.emit("wrapup")

    def closing(self) -> None:
        self._watch_clipboard(False)
        self.audio.stop(wait_s=10)

    def add_turn(self, turn: Final) -> None:
        """A finished turn heard on the call joins the conversation; a customer's is checked at
        once (no typing pause to wait for)."""
        label = "Agent" if turn.speaker == "agent" else "Customer"
        self.pane.conversation.appendPlainText(f"{label}: {turn.text}")
        if turn.speaker != "agent":
            self._debounce.stop()
            self.search()

    # --- suggestions ------------------------------------------------------------------------

    def _on_changed(self) -> None:
        self.shell.conversation = self.pane.conversation.toPlainText()
        self._debounce.start()

    def search(self) -> None:
        """Check the conversation (need, articles, sensitive case) on a worker, latest only."""
        text = self.pane.conversation.toPlainText()
        if _opening(text) != self._opening:
            # Another conversation (cleared, or replaced by a paste): it starts afresh.
            self.shell.assistant.not_sensitive.clear()
            self._opening = _opening(text)
        need = listen.customer_need(text)
        self.pane.need.setText(
            f"<b>Customer needs:</b> {html.escape(need.query[:160])}" if not need.empty else NO_NEED
        )
        if not text.strip() and not self._running:
            self._pending = None  # nothing to check: no search, so no model load either
            self.hits = []
            self.pane.suggestions.clear()
            self._show_route(None)
            return
        if not self.shell.knowledge_ready or self._running:
            self._pending = text  # run when the packs are open / the current check ends
            return
        self._running, self._pending = True, None
        # The pack filter holds for suggestions as for drafts (one company's articles only).
        packs = Steer.from_choices(self.shell.pack_filter, None).allowed(
            list(self.shell.packs.values())
        )
        context = self.shell.context
        self.shell.ops.run(
            lambda: (text, listen.suggest(context, text, packs)), self._on_checked, self._on_failed
        )

    def _on_checked(self, result: tuple[str, listen.Suggestion]) -> None:
        self._running = False
        self.shell.searched.emit()
        if self._pending is not None:
            self.search()
            return
        text, found = result
        if text != self.pane.conversation.toPlainText():
            return  # the conversation changed meanwhile: its own check is on its way
        self._show_route(found.detection)
        self.hits = found.hits
        if found.need.empty:
            self.pane.suggestions.clear()
        else:
            self.pane.suggestions.show_hits(found.hits, found.need.query, self.shell.pack_titles())
            if not found.hits:
                self.pane.suggestions.show_message("No approved article matches yet.")
        self.suggestions_shown.emit(found.hits)
        self._draft_turn(text, found)

    def _draft_turn(self, text: str, found: listen.Suggestion) -> None:
        """When the setting allows, a reply for the customer's latest turn, led by the top
        suggestion: once per need, never for a routed case (the draft pane skips it while the
        agent drafts or edits, and says so)."""
        if not self.shell.context.settings.get(DRAFT_EACH_TURN):
            return
        said = turns(text)
        if not said or said[-1].speaker == AGENT or found.need.empty or not found.hits:
            return
        if self.detection is not None or found.need.query == self._drafted:
            return
        self._drafted = found.need.query
        self.shell.draft_from.emit(TurnDraft(found.hits[0], found.need.query))

    def _show_route(self, detection: object) -> None:
        """Raise (or lower) the route-to-person banner: at once, before any draft."""
        topic = getattr(detection, "topic", None)
        if topic is not None and topic.name in self.shell.assistant.not_sensitive:
            detection = topic = None  # the agent said it is not: keep the note they were shown
        self.detection = detection
        if topic is not None:
            self.route_banner.setText(
                f'<div style="{ROUTE_STYLE}"><b>Route to a person: {html.escape(topic.label)}'
                "</b><br>Do not send a drafted reply. "
                f"{html.escape(render.rule_text(topic.rule))}<br><i>Why:</i> "
                f"{html.escape(render.agent_text(getattr(detection, 'reason', '')))}</div>"
            )
        elif not self.shell.assistant.not_sensitive:
            self.route_banner.clear()
        self.route_banner.setVisible(bool(self.route_banner.text()))
        self.not_sensitive_button.setVisible(topic is not None)
        self.route_shown.emit(detection)

    def not_sensitive(self) -> None:
        """The agent says this is not a sensitive case: record it (content-free), say so, and
        let drafts and the wrap-up go ahead for this conversation."""
        topic = getattr(self.detection, "topic", None)
        if topic is None:
            return
        try:
            listen.record_not_sensitive(self.shell.context.paths.data, topic.name, "continue")
        except UserError as exc:
            self.shell.say(str(exc), 10000)
            return
        self.shell.assistant.not_sensitive.add(topic.name)
        self._show_route(None)
        self.route_banner.setText(
            f"<i>You marked this as not a sensitive case ({html.escape(topic.label)}) at "
            f"{time.strftime('%H:%M')}; recorded.</i>"
        )
        self.route_banner.show()

    def _on_failed(self, exc: Exception) -> None:
        self._running = False
        self.pane.need.setText(html.escape(render.problem_text(exc)))
        if self._pending is not None:
            self.search()

    def _on_selected(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            self.shell.selected = self.hits[row]  # the agent picked it: drafts lead with it
            self.shell.source_requested.emit(self.hits[row])

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


def _opening(conversation: str) -> str:
    """The conversation's first line: while it stays, it is the same conversation."""
    return next((line.strip() for line in conversation.splitlines() if line.strip()), "")
