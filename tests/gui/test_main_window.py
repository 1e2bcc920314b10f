"""The agent's window, offscreen, over the real demo pack, embedder and SmolLM2 model."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from guikit import (
    DAMAGED,
    LONG,
    QUESTION,
    assert_source_shown,
    context_with,
    draft,
    norm,
    start,
    type_search,
)
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from desktop.core import feedback, priority, render
from desktop.core.assist import Done, Replaced, Sources, Token, Verdict
from desktop.core.context import demo_source_dir
from desktop.core.paths import Paths
from desktop.core.redact import redact
from desktop.gui import panes
from desktop.gui.parts.draft import DraftPart

pytestmark = [
    pytest.mark.slow,
    # The offscreen platform plugin warns that it cannot resize native windows; harmless here.
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


@dataclass(frozen=True)
class PaneBeforeDone:
    text: str


@dataclass(frozen=True)
class PaneAfter:
    """The draft pane's text right after the window handled *event*."""

    event: Any
    text: str
    tooltip: str = ""  # for a Verdict: the tooltip on that sentence in the pane


def record_events(window: Any) -> list[Any]:
    """Record every event the draft worker delivers, and what the draft pane showed after it."""
    seen: list[Any] = []
    original = window.parts["draft"]._on_ask_event

    def spy(event: Any) -> None:
        if isinstance(event, Done):
            seen.append(PaneBeforeDone(window.draft.view.toPlainText()))
        seen.append(event)
        original(event)
        tooltip = ""
        if isinstance(event, Verdict):
            found = window.draft.view.document().find(event.sentence.text[:20])
            tooltip = "" if found.isNull() else found.charFormat().toolTip()
        seen.append(PaneAfter(event, window.draft.view.toPlainText(), tooltip))

    window.parts["draft"]._on_ask_event = spy
    return seen


def click_citation(qtbot: Any, window: Any, number: int) -> None:
    """Click a ``[number]`` link in the draft pane with the mouse."""
    view = window.draft.view
    doc = view.document()
    cursor = doc.find(f"[{number}]")
    while not cursor.isNull():
        probe = QTextCursor(doc)
        probe.setPosition(cursor.selectionStart() + 1)
        view.setTextCursor(probe)
        view.ensureCursorVisible()
        point = view.cursorRect(probe).center() + QPoint(2, 0)
        if view.anchorAt(point) == f"cite:{number}":
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
            return
        cursor = doc.find(f"[{number}]", cursor, QTextDocument.FindFlag(0))
    raise AssertionError(f"no clickable [{number}] link in the draft pane")


# --- search, source pane, filters ---------------------------------------------------------------


def test_typing_shows_results_and_the_highlighted_passage(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    shown: list[Any] = []
    window.results_shown.connect(shown.append)

    hits = type_search(qtbot, window, "return a damaged item")

    qtbot.wait(600)  # longer than the typing delay: no second search may follow
    assert len(shown) == 1, "typing a query must search once (debounced), not per key"
    assert hits and hits[0].source == DAMAGED
    assert window.search.results.count() == len(hits)
    first = window.search.results.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert hits[0].title in first and "Demo" in first and hits[0].category in first
    assert window.search.results.currentRow() == 0
    assert_source_shown(window, hits[0])
    meta = window.source.meta.text()
    assert "Pack: Demo v" in meta and "last updated 20" in meta
    assert window.parts["source"].original_path == demo_source_dir() / DAMAGED
    assert window.source.open_button.isEnabled()

    # Arrow keys move through the results without leaving the search box.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.search.box.setFocus()
    qtbot.keyClick(window.search.box, Qt.Key.Key_Down)
    assert window.search.results.currentRow() == 1
    assert window.search.box.hasFocus()
    assert_source_shown(window, hits[1])


def test_category_filter_limits_results(qtbot: Any, make_window: Any, context: Any) -> None:
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, "refund")
    combo = window.search.category_filter
    with qtbot.waitSignal(window.results_shown, timeout=LONG) as shown:
        combo.setCurrentIndex(combo.findData("billing"))
    hits = shown.args[0]
    assert hits
    assert {hit.category for hit in hits} == {"billing"}


def test_original_file_missing_is_said_not_failed(
    qtbot: Any, make_window: Any, pack_copy: Path, embedder: Any
) -> None:
    manifest = json.loads((pack_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = "copied"  # not the demo pack: no originals on this PC
    (pack_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    start(qtbot, window)
    hits = type_search(qtbot, window, "return a damaged item")
    assert_source_shown(window, hits[0])
    assert window.parts["source"].original_path is None
    assert not window.source.open_button.isEnabled()
    assert "not available on this PC" in window.source.open_button.toolTip()


# --- drafting -----------------------------------------------------------------------------------


def test_draft_streams_from_the_asks_own_sources(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, QUESTION)
    searches: list[Any] = []
    window.results_shown.connect(searches.append)
    events = record_events(window)

    answer = draft(qtbot, window)

    assert not searches, "drafting must not run a second search in the window"
    assert answer.status == "answered"
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 3, "the draft must stream token by token"
    # While streaming, the pane showed the tokens so far.
    last_token = [p for p in events if isinstance(p, PaneAfter) and isinstance(p.event, Token)][-1]
    assert norm(last_token.text).endswith(norm("".join(tokens))[-200:])
    # Verdicts arrived while streaming and were shown inline at once, reason on hover.
    replaced = [e for e in events if isinstance(e, Replaced)]
    cut = events.index(replaced[0]) if replaced else len(events)
    verdicts = [
        p for p in events[:cut] if isinstance(p, PaneAfter) and isinstance(p.event, Verdict)
    ]
    assert verdicts, "sentence verdicts must be streamed"
    for shown in verdicts:
        sentence = shown.event.sentence
        if sentence.verdict != "supported":
            assert render.agent_text(sentence.reason) in shown.tooltip
    sources = [e for e in events if isinstance(e, Sources)][-1]
    assert window.parts["draft"].sources == answer.sources == sources.hits
    if replaced:  # too little was supported: the model's text is gone, the reason is shown
        assert answer.mode == "extractive"
        assert replaced[0].reason in window.draft.view.toPlainText()
    else:
        assert answer.mode == "model"
    final = norm(window.draft.view.toPlainText())
    assert norm(answer.draft) in final
    assert all(hit.title in final for hit in answer.sources)
    for sentence in answer.sentences:
        if sentence.verdict == "supported":
            continue
        found = window.draft.view.document().find(sentence.text[:25])
        assert not found.isNull()
        assert render.agent_text(sentence.reason) in found.charFormat().toolTip()
    assert window.draft.copy_button.isEnabled()
    assert window.draft.regenerate_button.isEnabled()
    assert not window.draft.stop_button.isEnabled()


def test_citation_click_copy_regenerate_and_feedback(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)  # extractive: deterministic citations
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, QUESTION)
    answer = draft(qtbot, window)
    assert answer.mode == "extractive" and len(answer.sources) >= 2
    assert_source_shown(window, answer.sources[0])

    click_citation(qtbot, window, 2)
    assert_source_shown(window, answer.sources[1])
    click_citation(qtbot, window, 1)
    assert_source_shown(window, answer.sources[0])

    qtbot.mouseClick(window.draft.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == answer.draft.strip()
    window.draft.with_sources.setChecked(True)
    qtbot.keyClick(
        window,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    copied = QApplication.clipboard().text()
    assert copied.startswith(answer.draft.strip())
    # Each cited article once, with the numbers of its cited passages ("[1, 2] Title").
    listed = {}
    for n, hit in enumerate(answer.sources, 1):
        listed.setdefault(hit.title, []).append(str(n))
    assert copied.endswith(
        "Sources:\n" + "\n".join(f"[{', '.join(ns)}] {t}" for t, ns in listed.items())
    )

    qtbot.mouseClick(window.draft.thumbs_down, Qt.MouseButton.LeftButton)
    (entry,) = feedback.read_all(context.paths.data)
    assert entry["rating"] == "down" and entry["question_chars"] == len(QUESTION)
    # The question is kept only as redaction leaves it (privacy.feedback_question, issue 17).
    assert entry["question_kept"] == "redacted" and entry["question"] == redact(QUESTION).text
    assert entry["sources"][0] == {"pack": "demo", "version": "1", "source": DAMAGED}
    assert entry["status"] == "answered"
    assert entry["draft_sha256"] == feedback.draft_hash(answer.draft)
    assert not window.draft.thumbs_up.isEnabled()

    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as again:
        qtbot.mouseClick(window.draft.regenerate_button, Qt.MouseButton.LeftButton)
    assert again.args[0].question == QUESTION
    assert again.args[0] is not answer


def test_stop_ends_the_draft_at_once(qtbot: Any, make_window: Any, context: Any) -> None:
    context.settings.set("model.max_tokens", 2048)
    window = make_window(context)
    start(qtbot, window)
    events = record_events(window)
    stopped_at: list[float] = []

    def stop_on_first_token() -> None:
        if not stopped_at and any(isinstance(e, Token) for e in events):
            assert window.draft.stop_button.isEnabled()
            qtbot.keyClick(window, Qt.Key.Key_Escape)
            stopped_at.append(time.monotonic())

    window.draft.view.textChanged.connect(stop_on_first_token)
    qtbot.keyClicks(window.search.box, QUESTION)
    answer = draft(qtbot, window)
    finished_at = time.monotonic()

    assert stopped_at, "no token arrived before the draft finished"
    assert answer.stopped is True
    assert finished_at - stopped_at[0] < 5.0
    assert len([e for e in events if isinstance(e, Token)]) < 100, "generation went on"
    assert "Stopped" in window.draft.view.toPlainText()
    assert window.draft.draft_button.isEnabled()
    assert not window.draft.stop_button.isEnabled()


def test_the_next_draft_starts_as_soon_as_one_is_finished(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    window.search.box.setText(QUESTION)
    answers: list[Any] = []

    def ask_again(answer: Any) -> None:
        answers.append(answer)
        if len(answers) == 1:
            window.search.box.setText("How do I set up voicemail?")
            window.draft_reply()  # at once, from the finished signal itself

    window.draft_finished.connect(ask_again)
    window.draft_reply()
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=LONG)
    assert [a.question for a in answers] == [QUESTION, "How do I set up voicemail?"]


def test_asking_while_a_draft_runs_says_so(qtbot: Any, make_window: Any, context: Any) -> None:
    context.settings.set("model.max_tokens", 2048)
    window = make_window(context)
    start(qtbot, window)
    window.search.box.setText(QUESTION)
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        window.draft_reply()
        window.search.box.setText("How do I set up voicemail?")
        window.draft_reply()
        assert "still being written" in window.statusBar().currentMessage()
        window.stop()
    assert finished.args[0].question == QUESTION


def test_sensitive_message_is_routed_to_a_person_not_drafted(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    # Search only after the routing is done, as when the agent presses Enter straight away.
    context.settings.set("ui.search_delay_ms", 1500)
    window = make_window(context)
    start(qtbot, window)
    events = record_events(window)
    message = "My husband passed away last week, can you close his account?"
    qtbot.keyClicks(window.search.box, message)

    answer = draft(qtbot, window)

    assert answer.status == "route_to_human"
    assert not [e for e in events if isinstance(e, Token)]  # nothing was drafted
    pane = window.draft.view.toPlainText()
    assert "Route to a person: bereavement" in pane
    assert "passed away" in pane and "extension 4410" in pane
    assert not window.draft.copy_button.isEnabled(), "there is no draft to copy"
    # The search for the typed text may finish after the routing: it must not replace the rule.
    qtbot.waitUntil(lambda: window.parts["search"].lane.shown == message, timeout=LONG)
    QApplication.processEvents()
    assert "sensitive/bereavement.md" in window.source.title.text()
    assert norm(window.parts["source"].highlighted_text()).startswith("Rule: Agents must not draft")


def test_no_source_is_shown_as_such(qtbot: Any, make_window: Any, context: Any) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    hits = type_search(qtbot, window, "What is the capital of France?")
    assert hits == []
    assert "No approved source matches" in window.search.results.item(0).text()

    answer = draft(qtbot, window)

    assert answer.status == "no_source"
    pane = window.draft.view.toPlainText()
    assert "No approved source" in pane and "Do not improvise" in pane
    assert not window.draft.copy_button.isEnabled()


def test_rewrite_uses_the_current_draft_and_tone(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, QUESTION)
    first = draft(qtbot, window)
    window.draft.task.setCurrentIndex(window.draft.task.findData("rewrite"))
    assert window.draft.tone.isEnabled()
    window.draft.tone.setCurrentIndex(window.draft.tone.findData("formal"))
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    answer = finished.args[0]
    assert answer.task == "rewrite"
    assert answer.question == first.draft  # the draft is what gets rewritten
    assert "text is unchanged" in window.draft.view.toPlainText()  # no model: said, not faked


def test_missing_document_text_shows_guidance_and_the_passage(
    qtbot: Any, make_window: Any, pack_copy: Path, embedder: Any
) -> None:
    entries = json.loads((pack_copy / "documents.json").read_text(encoding="utf-8"))
    entry = next(e for e in entries if e["source"] == DAMAGED)
    (pack_copy / entry["file"]).unlink()
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    start(qtbot, window)
    hits = type_search(qtbot, window, "return a damaged item")
    assert hits[0].source == DAMAGED
    text = window.source.view.toPlainText()
    assert "no readable copy" in text and "reinstall the pack" in text
    assert norm(hits[0].text) in norm(text)
    assert "Traceback" not in text


# --- listen panel -------------------------------------------------------------------------------


def test_listen_panel_suggests_articles_for_the_latest_customer_turns(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    QApplication.clipboard().setText(
        "Customer: hi, I ordered a phone last week\n"
        "Agent: thanks, how can I help?\n"
        "Customer: it arrived with a cracked screen, can I send it back?"
    )
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as first:
        window.listen.conversation.setFocus()
        qtbot.keyClick(
            window.listen.conversation, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier
        )
    assert DAMAGED in [hit.source for hit in first.args[0]]
    assert "cracked screen" in window.listen.need.text()
    assert window.listen.suggestions.count() == len(first.args[0])

    # The conversation moves on; the suggestions follow without the agent writing a query.
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as second:
        window.listen.conversation.appendPlainText(
            "Agent: sure.\nCustomer: also, my broadband has been really slow every evening"
        )
    sources = [hit.source for hit in second.args[0]]
    assert sources[0] == "devices/slow-broadband-troubleshooting.md"

    # Selecting a suggestion opens it in the source pane.
    window.listen.suggestions.setCurrentRow(0)
    assert_source_shown(window, second.args[0][0])


def test_listen_suggestions_are_short_cards(qtbot: Any, make_window: Any, context: Any) -> None:
    """A suggestion is read at a glance mid-call: its title and one whole sentence of the
    passage (the one about the customer's words), not a search result's long snippet."""
    window = make_window(context)
    start(qtbot, window)
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as shown:
        window.listen.conversation.setPlainText(
            "Customer: it arrived with a cracked screen, can I send it back?"
        )
    hits, cards = shown.args[0], window.listen.suggestions
    assert cards.count() == len(hits) >= 2
    results = panes.HitList("Results")  # the same hits as search results, at the same width
    results.resize(cards.size())
    results.show_hits(hits, window.listen.need.text(), {})
    for row, hit in enumerate(hits):
        doc = QTextDocument()
        doc.setHtml(cards.item(row).data(panes.RICH_ROLE))
        title, line, origin = doc.toPlainText().split("\n")
        assert title == hit.title and origin
        assert len(line) <= 121 and not line.startswith(("…", "- ", "* "))
        start_of_line = line.rstrip("…")[:40]
        assert start_of_line in " ".join(render._flat(hit.text).split()), line
        card = cards.visualItemRect(cards.item(row)).height()
        assert card < results.sizeHintForRow(row), (card, results.sizeHintForRow(row))


def test_wrapup_note_from_the_conversation(qtbot: Any, make_window: Any, context: Any) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    window.listen.conversation.setPlainText(
        "Customer: my parcel never arrived\nAgent: I have booked a redelivery for Friday."
    )
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.wrapup_button, Qt.MouseButton.LeftButton)
    answer = finished.args[0]
    assert answer.task == "wrapup"
    assert window.draft.task.currentData() == "wrapup"
    assert "Reason:" in window.draft.view.toPlainText()
    assert "redelivery" in answer.draft


def test_a_copied_wrapup_note_has_personal_data_masked(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    """The note goes into the CRM: privacy.redact_wrapup_copy (on by default) masks it."""
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    window.listen.conversation.setPlainText(
        "Customer: my parcel never arrived, email me at jo.bloggs@example.com\n"
        "Agent: I have booked a redelivery for Friday, order 7781."
    )
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.wrapup_button, Qt.MouseButton.LeftButton)
    assert "jo.bloggs@example.com" in finished.args[0].draft  # the note itself keeps it
    window.part(DraftPart).copy_draft()
    copied = QApplication.clipboard().text()
    assert "[EMAIL]" in copied and "jo.bloggs" not in copied
    assert "7781" in copied and "redelivery" in copied
    assert "personal detail masked" in window.statusBar().currentMessage()

    context.settings.set("privacy.redact_wrapup_copy", False)
    window.part(DraftPart).copy_draft()
    assert "jo.bloggs@example.com" in QApplication.clipboard().text()


def test_follow_clipboard_only_when_allowed(
    qtbot: Any, make_window: Any, context: Any, tmp_path: Path
) -> None:
    window = make_window(context)
    box = window.listen.follow_clipboard
    assert not box.isChecked() and box.isEnabled()
    QApplication.clipboard().setText("Customer: ignored while off")
    assert window.listen.conversation.toPlainText() == ""
    box.setChecked(True)
    assert context.settings.get("listen.follow_clipboard") is True
    QApplication.clipboard().setText("Customer: my SIM card stopped working")
    qtbot.waitUntil(lambda: "SIM card" in window.listen.conversation.toPlainText())

    # Policy says no: the box is off, disabled, and the clipboard is not read.
    Path(context.paths.policy).write_text(
        json.dumps({"settings": {"listen.follow_clipboard": False}}), encoding="utf-8"
    )
    locked = make_window(context_with(context.embedder, pack_dirs=context.pack_dirs()))
    lbox = locked.listen.follow_clipboard
    assert not lbox.isChecked() and not lbox.isEnabled()
    assert "IT department" in lbox.toolTip()
    QApplication.clipboard().setText("Customer: secret text")
    QApplication.processEvents()
    assert locked.listen.conversation.toPlainText() == ""


# --- settings, status bar, keyboard, layout -----------------------------------------------------


def test_settings_dialog_locks_policy_values(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any
) -> None:
    paths = Paths.from_env()
    paths.policy.write_text(
        json.dumps({"settings": {"generation.enabled": False}}), encoding="utf-8"
    )
    context = context_with(embedder, pack_dirs=[demo_pack])
    window = make_window(context)
    dialog = window.parts["settings"].open_settings()
    qtbot.waitExposed(dialog)
    locked = dialog.editors["generation.enabled"]
    assert not locked.isEnabled()
    assert "Set by your IT department" in dialog.locked_labels["generation.enabled"].text()
    qtbot.mouseClick(locked, Qt.MouseButton.LeftButton)
    assert locked.isChecked() is False, "a locked value cannot be changed"
    assert "model.path" not in dialog.locked_labels  # only locked ones are marked

    dialog.editors["search.limit"].setValue(5)
    dialog.save()

    assert context.settings.get("generation.enabled") is False
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved == {"search.limit": 5}
    assert not dialog.isVisible()


def test_status_bar_shows_model_packs_offline_and_sync(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    with qtbot.waitSignal(window.model_state, timeout=LONG, check_params_cb=lambda s: "ready" in s):
        window.start()
    status, sync = window.parts["status"], window.parts["sync"]
    assert status.packs_label.text() == "Knowledge: Demo v1"
    assert "ready" in status.model_label.text()
    assert (
        status.offline_label.isVisible() and "nothing leaves this PC" in status.offline_label.text()
    )
    assert not sync.label.isVisible()
    sync.set_status("Knowledge last synced 9 days ago", warning=True)
    assert sync.label.isVisible()
    assert sync.label.text() == "⚠ Knowledge last synced 9 days ago"
    # Fed by desktop.core.sync: a configured source that never synced is a warning.
    context.settings.set("sync.url", "file:///srv/packs")
    sync.refresh_status()
    qtbot.waitUntil(lambda: "not been synced yet" in sync.label.text(), timeout=30_000)
    assert sync.label.text().startswith("⚠ ")


def test_keyboard_shortcuts_and_accessible_names(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.draft.view.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.listen.conversation.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search.box.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_F6)
    assert window.search.results.hasFocus()

    kinds = (QAbstractButton, QComboBox, QLineEdit, QListWidget, QTextEdit, QPlainTextEdit)
    controls = [w for w in window.findChildren(QWidget) if isinstance(w, kinds)]
    assert len(controls) >= 15
    unnamed = [type(w).__name__ for w in controls if not w.accessibleName()]
    assert unnamed == []


def test_layout_is_remembered(qtbot: Any, make_window: Any, context: Any) -> None:
    window = make_window(context)
    window.resize(720, 520)  # inside the offscreen screen, so nothing is clamped
    qtbot.waitUntil(lambda: window.width() == 720)
    window.frame.splitters["main"].setSizes([200, 500])
    sizes = window.frame.splitters["main"].sizes()
    assert sizes != [430, 850]
    window.close()
    again = make_window(context)
    assert again.size() == window.size()
    assert again.frame.splitters["main"].sizes() == sizes


# --- first run and broken states ----------------------------------------------------------------


def test_missing_model_shows_guidance_and_still_drafts(
    qtbot: Any, make_window: Any, tmp_path: Path, demo_pack: Path, embedder: Any
) -> None:
    missing = tmp_path / "missing.gguf"
    context = context_with(embedder, pack_dirs=[demo_pack], model_path=missing)
    context.settings.set("generation.replies", True)  # the model was to write the reply
    window = make_window(context)
    with qtbot.waitSignals([window.ready, window.failed], order="strict", timeout=LONG):
        window.start()
    assert "unavailable — extractive mode" in window.parts["status"].model_label.text()
    assert str(missing) in window.draft.view.toPlainText()
    assert "extractive mode" in window.draft.view.toPlainText()
    assert "Traceback" not in window.draft.view.toPlainText()

    type_search(qtbot, window, QUESTION)
    answer = draft(qtbot, window)
    assert answer.status == "answered" and answer.mode == "extractive"
    assert str(missing) in window.draft.view.toPlainText()


def test_model_turned_off_by_policy_shows_guidance(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any
) -> None:
    Paths.from_env().policy.write_text(
        json.dumps({"settings": {"generation.enabled": False}}), encoding="utf-8"
    )
    window = make_window(context_with(embedder, pack_dirs=[demo_pack]))
    with qtbot.waitSignal(window.model_state, timeout=LONG, check_params_cb=lambda s: "none" in s):
        window.start()
    assert window.parts["status"].model_label.text() == "Model: none — extractive mode"
    pane = window.draft.view.toPlainText()
    assert "turned off (by your IT department)" in pane and "extractive mode" in pane


def test_missing_pack_shows_guidance(
    qtbot: Any, make_window: Any, tmp_path: Path, embedder: Any
) -> None:
    folder = tmp_path / "nopack"
    window = make_window(context_with(embedder, pack_dirs=[folder]))
    with qtbot.waitSignal(window.failed, timeout=LONG):
        window.start()
    for pane in (window.draft.view, window.source.view):
        text = pane.toPlainText()
        assert str(folder) in text and "index rebuild" in text
        assert "Traceback" not in text
    assert "unavailable" in window.parts["status"].packs_label.text()
    assert "unavailable" in window.search.status.text()
    # Typing does not hang or crash: nothing is searched, the guidance stays.
    qtbot.keyClicks(window.search.box, "refund")
    qtbot.wait(500)
    assert window.parts["search"].lane.hits == []
    assert [window.search.results.item(i).text() for i in range(window.search.results.count())] == [
        "Results appear here as you type."
    ]


def test_refused_pack_says_why(
    qtbot: Any, make_window: Any, pack_copy: Path, embedder: Any
) -> None:
    manifest = json.loads((pack_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["embedding"]["model"] = "someone/other-model"
    (pack_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    with qtbot.waitSignal(window.failed, timeout=LONG):
        window.start()
    text = window.draft.view.toPlainText()
    assert "someone/other-model" in text and "Rebuild the pack" in text
    assert "someone/other-model" in window.source.view.toPlainText()


class _UrlCatcher(QObject):
    """Stands in for the desktop's file handler (Qt's own URL-handler hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.mark.qt_log_ignore("propagateSizeHints", "does not support QPlatformServices")
def test_open_original_hands_the_original_file_to_the_desktop(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, "return a damaged item")
    if QApplication.platformName() == "offscreen":  # elsewhere this would launch an editor
        # The offscreen platform has no desktop to open files with: the agent is told so.
        qtbot.mouseClick(window.source.open_button, Qt.MouseButton.LeftButton)
        assert "No application on this PC opened" in window.statusBar().currentMessage()

    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        qtbot.mouseClick(window.source.open_button, Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [url.toLocalFile() for url in catcher.urls] == [str(demo_source_dir() / DAMAGED)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice values are Linux's")
@pytest.mark.parametrize("low", [True, False])
def test_the_model_runs_below_the_windows_priority_unless_turned_off(
    qtbot: Any, make_window: Any, context: Any, low: bool
) -> None:
    context.settings.set("generation.enabled", False)
    context.settings.set("model.low_priority", low)
    window = make_window(context)
    start(qtbot, window)
    drafting: list[int] = []
    ask = window.assistant.ask

    def spy(*args: Any, **kwargs: Any) -> Any:
        drafting.append(priority.thread_nice())  # on the thread that drives the model
        yield from ask(*args, **kwargs)

    window.assistant.ask = spy
    type_search(qtbot, window, QUESTION)
    draft(qtbot, window)
    searching: list[int] = []
    window.ops.run(priority.thread_nice, searching.append, pytest.fail)
    qtbot.waitUntil(lambda: bool(searching))

    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert drafting == [min(19, base + priority.NICE_STEP) if low else base]
    assert searching == [base], "searches must keep the window's priority"
