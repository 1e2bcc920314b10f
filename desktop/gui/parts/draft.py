"""The draft pane: run a task (reply, wrap-up, rewrite), stream it with its verdicts, and
copy, regenerate or rate the result. Problems the agent must see are shown here too."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop.core import edit, feedback, listen, render
from desktop.core.assist import Answer, Done, Error, Replaced, Sources, Token, Verdict, task_input
from desktop.core.errors import UserError
from desktop.core.knowledge.index import Hit
from desktop.core.steer import Steer
from desktop.gui.panes import DraftPane
from desktop.gui.parts.base import EXTRACTIVE, Part, Shell, Shortcut

WELCOME = (
    "<h3>Welcome to Deskmate</h3><p>Type in the search box: results appear as you type. "
    "Press <b>Enter</b> (or <b>Ctrl+Enter</b>) to draft a cited reply, or paste the "
    "conversation into <b>Listen</b> for suggestions.</p>"
)
LOADING = (
    "<p><b>Knowledge is still loading…</b> Your request will run as soon as the approved "
    "knowledge is ready; there is nothing you need to do.</p>"
)
Request = tuple[str, str, str, Steer]  # text, task, tone, the agent's choices
# Without a search, the sensitive-topic check is readied this long after the packs opened.
SENSITIVE_IDLE_MS = 1500


@dataclass(frozen=True)
class TurnDraft:
    """A reply the call asks for (a finished customer turn), not the agent: sent through
    ``shell.draft_from``; it never replaces what the agent is drafting or editing."""

    hit: Hit  # the top suggestion: the draft leads with its article
    question: str  # the customer's need in that turn


class DraftPart(Part):
    """Drafts on the model's worker, one at a time, streaming tokens and sentence verdicts."""

    name = "draft"
    area = "right"
    size = 340
    shortcuts = (
        Shortcut("Ctrl+Return", "draft (the selected task)", "draft_task"),
        Shortcut("Ctrl+D", "focus the draft", "focus"),
        Shortcut("Esc", "stop the draft", "stop"),
        Shortcut("Ctrl+Shift+C", "copy the draft", "copy_draft"),
        Shortcut("Ctrl+E", "edit the draft before copying (again: done)", "toggle_edit"),
        Shortcut("Ctrl+R", "regenerate", "regenerate"),
        Shortcut("Ctrl+3", "draft", "focus"),
    )
    draft_finished = Signal(object)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.pane = DraftPane()
        self.widget = self.pane
        self.answer: Answer | None = None
        self.sources: list[Hit] = []
        self._stop: threading.Event | None = None
        self._busy = False
        self._last_request: Request | None = None
        self._waiting: Request | None = None  # asked for before the knowledge was ready
        self.stale = False  # the answer shown belongs to a previous search
        self._streamed = ""
        self._banner = ""
        self._verdicts: dict[int, Any] = {}
        self.confirm_box: QMessageBox | None = None
        self.editing = False  # the editor is shown in place of the draft
        self.edit_base: str | None = None  # the copy text the editor started from, once opened
        self._edit_sources = False  # whether that copy text has the source titles
        self._sensitive_pending = False  # the packs opened; the sensitive check not readied
        self._sensitive_idle = QTimer(self, singleShot=True)
        self._sensitive_idle.timeout.connect(self._ready_sensitive)
        self._connect()
        self._apply_settings()
        self.pane.view.setHtml(WELCOME)

    def _connect(self) -> None:
        d, shell = self.pane, self.shell
        d.draft_button.clicked.connect(lambda: self.draft_task())
        d.stop_button.clicked.connect(self.stop)
        d.regenerate_button.clicked.connect(self.regenerate)
        d.copy_button.clicked.connect(self.copy_draft)
        d.edit_button.clicked.connect(self.toggle_edit)
        d.thumbs_up.clicked.connect(lambda: self.rate("up"))
        d.thumbs_down.clicked.connect(lambda: self.rate("down"))
        d.view.anchorClicked.connect(self._on_citation)
        shell.draft_requested.connect(self.draft_task)
        shell.draft_from.connect(self.draft_from)
        shell.searching.connect(self._on_searching)
        shell.packs_opened.connect(self._run_waiting)
        shell.problem.connect(lambda exc: d.view.setHtml(shell.problem_html(exc)))
        shell.model_loaded.connect(self._on_model_loaded)
        shell.model_failed.connect(lambda _: d.view.append(EXTRACTIVE))
        shell.settings_changed.connect(self._apply_settings)
        # Ready the sensitive-topic check (0.1 s of CPU) once the packs are open and then the
        # first search has shown its results or the window is idle: so that the first draft
        # does not wait for it, nor the first search's results.
        shell.packs_opened.connect(lambda _: self._sensitive_may_ready())
        shell.searched.connect(lambda: QTimer.singleShot(0, self._ready_sensitive))

    def _sensitive_may_ready(self) -> None:
        self._sensitive_pending = True
        self._sensitive_idle.start(SENSITIVE_IDLE_MS)

    def _ready_sensitive(self) -> None:
        if self._sensitive_pending:  # once per opening of the packs
            self._sensitive_pending = False
            self._sensitive_idle.stop()
            context = self.shell.context
            self.shell.ops.run(context.sensitive_detector, lambda _: None, self.shell.show_problem)

    def _apply_settings(self) -> None:
        with_sources = bool(self.shell.context.settings.get("ui.copy_with_sources"))
        self.pane.with_sources.setChecked(with_sources)

    def focus_order(self) -> list[QWidget]:
        return [self.pane.editor if self.editing else self.pane.view]

    def closing(self) -> None:
        self.stop()

    # --- starting a draft -------------------------------------------------------------------

    def draft_reply(self) -> None:
        self.draft_task("reply")

    def draft_task(self, task: str = "") -> None:
        """Run *task* (by default the one chosen in the pane) on the text it applies to."""
        if task:
            self.pane.task.setCurrentIndex(self.pane.task.findData(task))
        task = str(self.pane.task.currentData())
        shell = self.shell
        text, missing = task_input(task, shell.query, shell.conversation, self.answer)
        if not text.strip():
            self.pane.view.setHtml(f"<p><b>Nothing to draft from.</b> {missing}</p>")
            return
        steer = Steer.from_choices(shell.pack_filter, shell.selected)
        self._request((text, task, str(self.pane.tone.currentData()), steer))

    def draft_from(self, hit: Hit | TurnDraft) -> None:
        """Draft a reply to the question (typed, else the customer's need, else the article's
        title) that leads with *hit*'s article, within the pack filter unless it is outside."""
        if isinstance(hit, TurnDraft):
            self.draft_turn(hit)
            return
        self.pane.task.setCurrentIndex(self.pane.task.findData("reply"))
        shell = self.shell
        text, _ = task_input("reply", shell.query, shell.conversation, self.answer)
        steer = Steer.from_choices(shell.pack_filter, hit, chosen=True)
        self._request((text if text.strip() else hit.title, "reply", "shorter", steer))

    def draft_turn(self, turn: TurnDraft) -> None:
        """A reply for the customer's latest turn, as the Draft button drafts it, led by the top
        suggestion; skipped (and said so) while the agent drafts or edits."""
        busy = self.agent_busy()
        if busy:
            self.shell.say(f"New customer turn not drafted: {busy}", 8000)
            return
        self.pane.task.setCurrentIndex(self.pane.task.findData("reply"))
        steer = Steer.from_choices(self.shell.pack_filter, turn.hit)
        self._request((turn.question, "reply", str(self.pane.tone.currentData()), steer))

    def agent_busy(self) -> str:
        """Why a draft the agent did not ask for must not start now, or ""."""
        if self._busy or self._waiting is not None:
            return "a draft is still being written."
        if self.editing or self.edit_base is not None:
            return "you are editing the draft (your edit is kept)."
        return ""

    def _request(self, request: Request) -> None:
        """Run *request* now, or once the knowledge is ready (saying so meanwhile)."""
        if not self.shell.knowledge_loading:
            self._start_ask(request)
            return
        self._waiting = request
        self.pane.view.setHtml(LOADING)

    def _run_waiting(self) -> None:
        request, self._waiting = self._waiting, None
        if request is not None:
            self._start_ask(request)

    def regenerate(self) -> None:
        if self._last_request is not None:
            self._start_ask(self._last_request)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _start_ask(self, request: Request) -> None:
        if self._busy:
            self.shell.say(
                "A draft is still being written: press Stop (Esc) first, or wait for it.", 5000
            )
            return
        self._busy = True
        self._last_request = request
        self._stop = stop = threading.Event()
        self._streamed, self._verdicts, self._banner = "", {}, ""
        self.answer = None
        self.stale = False
        self.sources = []
        self._leave_edit()
        self.pane.set_running(True)
        self.pane.view.clear()
        text, task, tone, steer = request
        self.shell.ops.run(
            lambda: self._ask_job(text, task, tone, steer, stop),
            self._on_ask_done,
            self._on_ask_failed,
            self._on_ask_event,
            model=True,
        )

    def _ask_job(
        self, text: str, task: str, tone: str, steer: Steer, stop: threading.Event
    ) -> Iterator[Any]:
        yield from self.shell.assistant.ask(text, stop=stop, task=task, tone=tone, steer=steer)

    # --- streaming --------------------------------------------------------------------------

    def _on_ask_event(self, event: Any) -> None:
        if isinstance(event, Sources):
            self.sources = list(event.hits)
        elif isinstance(event, Token):
            self._streamed += event.text
            self.pane.append(event.text)
        elif isinstance(event, Verdict):
            self._verdicts[event.index] = event.sentence
            self._render_streamed()
        elif isinstance(event, (Error, Replaced)):
            # The model's text so far is discarded; say why, and the fallback draft follows.
            why = event.reason if isinstance(event, Replaced) else f"{event.message} {event.fix}"
            self._banner = f"<p><i>{html.escape(why)} Building an extractive draft…</i></p>"
            self._streamed, self._verdicts = "", {}
            self._render_streamed()
        elif isinstance(event, Done):
            self._show_answer(event.answer)

    def _render_streamed(self) -> None:
        judged = [self._verdicts.get(i) for i in range(max(self._verdicts, default=-1) + 1)]
        body = render.draft_html(self._streamed, judged) if self._streamed else ""
        self.pane.view.setHtml(self._banner + body)
        self.pane.append("")  # the cursor back at the end, where the next token goes

    def _on_ask_done(self, _: Any) -> None:
        self._finish()
        if self.answer is not None:
            # Only now: the window takes the next request once it says this one is finished.
            self.draft_finished.emit(self.answer)

    def _on_ask_failed(self, exc: Exception) -> None:
        self._finish()
        self.shell.show_problem(exc)

    def _finish(self) -> None:
        self._busy = False
        self.pane.set_running(False)
        self.pane.regenerate_button.setEnabled(self._last_request is not None)

    def _show_answer(self, answer: Answer) -> None:
        self.answer = answer
        self.sources = list(answer.sources)
        d = self.pane
        d.view.setHtml(render.answer_html(answer))
        d.copy_button.setEnabled(answer.status == "answered" and bool(answer.draft.strip()))
        d.edit_button.setEnabled(d.copy_button.isEnabled())
        d.thumbs_up.setEnabled(True)
        d.thumbs_down.setEnabled(True)
        # The first source, unless the agent picked what the source pane shows (it stays); for
        # a sensitive case, the company's rule, always.
        shown = answer.sources and answer.sources[0].pack in self.shell.packs
        routed = answer.status == "route_to_human"
        if shown and (routed or self.shell.selected is None):
            self.shell.source_requested.emit(answer.sources[0])
        self.shell.context.audit.answer(answer, "window")
        self.shell.answer_shown.emit(answer)

    def _on_searching(self, query: str) -> None:
        """A new search: a reply drafted for another question is marked as belonging to it,
        and cannot be copied by mistake."""
        answer = self.answer
        if self.editing:
            self._done_editing()  # a new search leaves edit mode (the edit is kept)
        if answer is None or self._busy or self.stale or answer.task != "reply":
            return
        if " ".join(query.split()) == " ".join(answer.question.split()):
            return
        self.stale = True
        self._leave_edit()
        self.pane.view.setHtml(render.stale_html(answer.question) + render.answer_html(answer))
        d = self.pane
        for button in (d.copy_button, d.edit_button, d.thumbs_up, d.thumbs_down):
            button.setEnabled(False)

    def _on_citation(self, url: QUrl) -> None:
        if url.scheme() == render.NOT_SENSITIVE:
            self.not_sensitive(url.path() or url.toString().split(":", 1)[1])
            return
        if url.scheme() != "cite":
            return
        number = int(url.path() or url.toString().split(":", 1)[1])
        if 1 <= number <= len(self.sources):
            self.shell.source_opened(self.sources[number - 1], "citation")
            self.shell.source_requested.emit(self.sources[number - 1])

    # --- the result -------------------------------------------------------------------------

    def not_sensitive(self, topic: str) -> None:
        """The agent says the routed case is not *topic*: record it and run the task again."""
        request = self._last_request
        try:
            action = request[1] if request is not None else "continue"
            listen.record_not_sensitive(self.shell.context.paths.data, topic, action)
        except UserError as exc:
            self.shell.say(str(exc), 10000)
            return
        self.shell.assistant.not_sensitive.add(topic)
        self.shell.say(f"Marked not a sensitive case ({topic}); recorded.", 8000)
        self.regenerate()

    def copy_draft(self) -> None:
        """Copy the draft as plain text; a draft that needs checking asks first (or, when policy
        forbids copying such drafts, is refused with the reason)."""
        answer = self.answer
        if answer is None or answer.status != "answered" or not answer.draft.strip():
            self.shell.say("There is no draft to copy.", 5000)
            return
        if self.stale:
            self.shell.say(render.STALE, 8000)
            return
        if self.edit_base is not None and self.pane.editor.toPlainText() != self.edit_base:
            self._copy_edited(answer, self.pane.editor.toPlainText())
            return
        warning = render.copy_warning(answer)
        if not warning:
            self._copy(answer)
        elif not self.shell.context.settings.get("ui.copy_flagged"):
            self.shell.say(f"{warning} Your IT department does not allow copying it.", 10000)
            self.pane.view.append(f"<p><b>Not copied.</b> {html.escape(warning)}</p>")
        else:
            self._confirm_copy(answer, warning)

    def _copy_edited(self, answer: Answer, text: str) -> None:
        """Copy the agent's edit of *answer*: policy and the draft's checks still apply."""
        if not text.strip():
            self.shell.say("Your edited draft is empty: there is nothing to copy.", 8000)
            return
        found = edit.check(answer, text, bool(self.shell.context.settings.get("ui.copy_flagged")))
        if found.refused:
            self.shell.say(found.refused, 10000)
            if not self.editing:
                self.pane.view.append(f"<p><b>Not copied.</b> {html.escape(found.refused)}</p>")
        elif found.warning:
            self._confirm_copy(answer, found.warning, text)
        else:
            self._copy(answer, text)

    def _confirm_copy(self, answer: Answer, warning: str, text: str | None = None) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Copy a draft that needs checking?",
            f"{warning}\n\nCheck the marked sentences before you send it.",
            QMessageBox.StandardButton.Cancel,
            self.pane,
        )
        anyway = box.addButton("Copy anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(
            lambda button: self._copy(answer, text) if button is anyway else None
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.confirm_box = box
        box.open()

    def _copy(self, answer: Answer, edited: str | None = None) -> None:
        """Put the draft (or the agent's *edited* text) on the clipboard, and record it."""
        if edited is None:
            with_sources = self.pane.with_sources.isChecked()
            text = render.copy_text(answer, with_sources)
        else:
            with_sources = self._edit_sources
            text = edited
        text, masked = edit.outgoing(answer, text, self.shell.context.settings)
        QApplication.clipboard().setText(text)
        checked = render.copy_warning(answer)
        audit = self.shell.context.audit
        audit.copied(answer, with_sources, flagged=bool(checked), text=edited)
        what = "Draft copied" if edited is None else "Your edited draft copied"
        if masked:
            what += f" with {masked} personal detail{'s' if masked > 1 else ''} masked"
        self.shell.say(f"{what} as plain text." + (f" {checked}" if checked else ""), 8000)

    # --- editing before copying ---------------------------------------------------------------

    def toggle_edit(self) -> None:
        """Edit the finished draft as plain text (what Copy copies), or, when editing, Done."""
        if self.editing:
            self._done_editing(focus=True)
            return
        answer = self.answer
        if answer is None or answer.status != "answered" or not answer.draft.strip():
            self.shell.say("There is no finished draft to edit.", 5000)
            return
        if self._busy or self.stale:
            self.shell.say(render.STALE if self.stale else "The draft is still being written.")
            return
        if self.edit_base is None:
            allowed = bool(self.shell.context.settings.get("ui.copy_flagged"))
            self._edit_sources = self.pane.with_sources.isChecked()
            text, left_out = edit.editor_text(answer, self._edit_sources, allowed)
            self.edit_base = render.copy_text(answer, self._edit_sources)
            self.pane.editor.setPlainText(text)
            if left_out:
                self.shell.say(
                    f"{left_out} flagged sentence(s) left out: your IT department does not "
                    "allow copying them.",
                    10000,
                )
        self.editing = True
        self.pane.set_editing(True)
        self.pane.editor.setFocus()

    def _done_editing(self, focus: bool = False) -> None:
        self.editing = False
        self.pane.set_editing(False)
        if self.answer is not None:
            edited = render.edited_html(self.pane.editor.toPlainText())
            self.pane.view.setHtml(edited + render.answer_html(self.answer))
        if focus:
            self.pane.view.setFocus()

    def _leave_edit(self) -> None:
        """A new draft (or a stale one): out of edit mode, the edit dropped."""
        self.editing = False
        self.edit_base = None
        self.pane.set_editing(False)
        self.pane.editor.clear()

    def rate(self, rating: str) -> None:
        if self.answer is None:
            return
        shell = self.shell
        try:
            versions = {pack_id: pack.version for pack_id, pack in shell.packs.items()}
            feedback.record(
                shell.context.paths.data, self.answer, rating, versions, shell.context.settings
            )
        except UserError as exc:
            shell.say(str(exc), 10000)
            return
        shell.context.audit.feedback(self.answer, rating)
        self.pane.thumbs_up.setEnabled(False)
        self.pane.thumbs_down.setEnabled(False)
        shell.say("Thanks: your feedback is saved on this PC.", 5000)

    def _on_model_loaded(self, engine: Any) -> None:
        """No model: say why in the pane, unless it already shows something of the agent's."""
        if engine is not None:
            return
        settings = self.shell.context.settings
        if settings.get("generation.enabled"):
            why = (
                "<p><b>No language model is installed.</b> Set <i>Model file</i> in Settings "
                "(model.path) to a .gguf file, or reinstall Deskmate with its default model.</p>"
            )
        else:
            where = "your IT department" if settings.is_locked("generation.enabled") else "Settings"
            why = f"<p><b>Drafting with a model is turned off</b> (by {where}).</p>"
        if self.answer is None and not self._busy and self.shell.knowledge_ready:
            self.pane.view.setHtml(WELCOME + why + f"<p>{EXTRACTIVE}</p>")
