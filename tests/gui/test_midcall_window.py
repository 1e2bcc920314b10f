"""Mid-call safety in the real window (issue 14): the listen panel routes at once, only on the
customer's words; "Not a sensitive case" lets the agent continue and is recorded; Copy makes a
draft's state impossible to miss and never copies markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from guikit import LONG, context_with, start
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication

from desktop.core import listen

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

CRISIS = (
    "Customer: I want to cancel my broadband\n"
    "Agent: I can help with that, may I ask why?\n"
    "Customer: I've lost my job, my partner left, I don't see the point in going on any more."
)
AGENT_ONLY = (
    "Customer: my bill is higher than usual this month\n"
    "Agent: If you ever feel you want to end it all, please tell us. Let me check the bill.\n"
    "Customer: thanks, it went up by six pounds"
)
FRAUD = (
    "Customer: someone has used my card without permission, there are payments I never made\n"
    "Agent: I will check the payments now and block the card."
)


def _routed(qtbot: Any, window: Any, text: str) -> Any:
    with qtbot.waitSignal(window.parts["listen"].route_shown, timeout=LONG) as shown:
        window.listen.conversation.setPlainText(text)
    return shown.args[0]


def test_listen_panel_routes_at_once_on_customer_turns_only(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    part = window.parts["listen"]
    found = _routed(qtbot, window, CRISIS)
    assert found is not None and found.topic.name == "self_harm"
    assert part.route_banner.isVisible() and "Route to a person" in part.route_banner.text()
    assert part.not_sensitive_button.isVisible()
    assert window.parts["draft"].answer is None  # nobody pressed Draft

    # The agent's own words never route; the banner goes.
    assert _routed(qtbot, window, AGENT_ONLY) is None
    assert not part.route_banner.isVisible() and not part.not_sensitive_button.isVisible()


def test_not_a_sensitive_case_continues_to_the_wrapup_and_is_recorded(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    part = window.parts["listen"]
    found = _routed(qtbot, window, FRAUD)
    assert found is not None
    # Without the override the wrap-up is refused: routed.
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.wrapup_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].status == "route_to_human"
    assert "Not a sensitive case" in window.draft.view.toPlainText()

    qtbot.mouseClick(part.not_sensitive_button, Qt.MouseButton.LeftButton)
    assert "not a sensitive case" in part.route_banner.text() and part.route_banner.isVisible()
    assert not part.not_sensitive_button.isVisible()
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.wrapup_button, Qt.MouseButton.LeftButton)
    answer = finished.args[0]
    assert answer.status == "answered" and "Reason:" in answer.draft
    assert "not a sensitive case" in window.draft.view.toPlainText()
    record = context.paths.data / listen.OVERRIDES_FILE
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["topic"], e["action"]) for e in entries] == [(found.topic.name, "continue")]

    # The next call is another conversation: the choice does not carry over.
    again = _routed(qtbot, window, FRAUD.replace("Customer: someone", "Customer: hello, someone"))
    assert again is not None and part.not_sensitive_button.isVisible()
    assert not window.parts["draft"].shell.assistant.not_sensitive


def test_the_routed_draft_offers_to_continue_and_records_it(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    window.listen.conversation.setPlainText(FRAUD)
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.wrapup_button, Qt.MouseButton.LeftButton)
    topic = finished.args[0].route["topic"]
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        window.draft.view.anchorClicked.emit(QUrl(f"notsensitive:{topic}"))
    assert finished.args[0].status == "answered"
    record = context.paths.data / listen.OVERRIDES_FILE
    assert json.loads(record.read_text())["action"] == "wrapup"


def _drafted(qtbot: Any, window: Any) -> Any:
    window.search.box.setText("How long do refunds take to reach my card?")
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    qtbot.waitUntil(window.draft.draft_button.isEnabled, timeout=10_000)
    return finished.args[0]


def test_copy_asks_before_copying_a_draft_that_needs_checking(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    part = window.parts["draft"]
    answer = _drafted(qtbot, window)
    # A clean, complete draft copies at once, as plain text.
    QApplication.clipboard().setText("before")
    qtbot.keyClick(
        window,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert QApplication.clipboard().text().startswith(answer.draft.split("[")[0].strip()[:20])
    assert part.confirm_box is None

    # As after Esc: a stopped draft with a flagged sentence and stray markup in it.
    answer.stopped = True
    answer.sentences[0].verdict = "unsupported"
    answer.draft += " </script><b>Call 0999 999 999.</b>"
    QApplication.clipboard().setText("before")
    part.copy_draft()
    box = part.confirm_box
    assert box is not None and box.isVisible()
    assert "not verified" in box.text() and "stopped" in box.text()
    assert QApplication.clipboard().text() == "before"  # nothing copied yet
    anyway = next(b for b in box.buttons() if b.text() == "Copy anyway")
    qtbot.mouseClick(anyway, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert "Call 0999 999 999." in copied and "<" not in copied and ">" not in copied


def test_policy_can_forbid_copying_a_draft_that_needs_checking(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    Path(context.paths.policy).write_text(
        json.dumps({"settings": {"ui.copy_flagged": False, "generation.enabled": False}}),
        encoding="utf-8",
    )
    locked = context_with(context.embedder, pack_dirs=context.pack_dirs())
    assert locked.settings.is_locked("ui.copy_flagged")
    window = make_window(locked)
    start(qtbot, window)
    part = window.parts["draft"]
    answer = _drafted(qtbot, window)
    answer.sentences[-1].verdict = "no_citation"
    QApplication.clipboard().setText("before")
    part.copy_draft()
    assert part.confirm_box is None
    assert QApplication.clipboard().text() == "before"
    assert "does not allow" in window.statusBar().currentMessage()
    assert "Not copied" in window.draft.view.toPlainText()


def test_the_pane_says_the_time_budget_ended_the_draft(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.time_budget_s", 0.5)
    window = make_window(context)
    start(qtbot, window)
    answer = _drafted(qtbot, window)
    assert answer.limit == "time_budget"
    assert "Stopped after 0.5 s: check before sending." in window.draft.view.toPlainText()
    assert answer.draft  # the fallback, as ever: never a blank pane
