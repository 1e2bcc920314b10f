"""A checked draft per customer turn (setting ``listen.draft_each_turn``), in the real window
offscreen: a finished customer turn with suggestions and no route drafts a reply led by the top
suggestion, heard on the call (the file source standing in for the microphone) or typed; off by
default; a routed turn never drafts; the agent's draft or edit is never replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import speechkit
from guikit import DAMAGED, LONG, start
from PySide6.QtCore import Qt

from desktop.core.speech.audio import FileSource

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

CALL = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "My phone arrived with a cracked screen, can I send it back?"),
]
DAMAGED_TURN = "Customer: my phone arrived with a cracked screen, can I send it back?"
ROUTED_TURN = (
    "Customer: my phone arrived with a cracked screen and I have lost my job, "
    "I don't see the point in going on any more."
)


def _window(qtbot: Any, make_window: Any, context: Any, each_turn: bool) -> Any:
    context.settings.set("generation.enabled", False)  # extractive: quick and deterministic
    context.settings.set("listen.audio", True)
    if each_turn:
        context.settings.set("listen.draft_each_turn", True)
    window = make_window(context)
    start(qtbot, window)
    return window


def _check(qtbot: Any, window: Any, text: str) -> list[Any]:
    """Type *text* as the conversation; the hits suggested for it."""
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as shown:
        window.listen.conversation.setPlainText(text)
    return list(shown.args[0])


@pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox")
def test_a_heard_customer_turn_is_drafted_from_the_top_suggestion(
    qtbot: Any, make_window: Any, context: Any, tmp_path: Path
) -> None:
    window = _window(qtbot, make_window, context, each_turn=True)
    part = window.parts["listen"]
    pcm, _ = speechkit.call(CALL)
    path = speechkit.write_wav(tmp_path / "call.wav", pcm)
    part.audio.audio_source = lambda: FileSource(path)
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)
    answer = finished.args[0]
    assert answer.task == "reply" and answer.status == "answered"
    assert "cracked screen" in answer.question.lower()
    top = part.hits[0]  # the top suggestion leads the draft
    assert DAMAGED in [h.source for h in part.hits]  # among the cards (not always first)
    assert (answer.sources[0].pack, answer.sources[0].source) == (top.pack, top.source)
    assert window.draft.copy_button.isEnabled()  # a checked draft, ready to copy
    qtbot.waitUntil(lambda: part.audio.listener is None, timeout=LONG)


def test_off_by_default_and_a_routed_turn_never_drafts(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = _window(qtbot, make_window, context, each_turn=False)
    draft = window.parts["draft"]
    assert _check(qtbot, window, DAMAGED_TURN)
    assert draft._last_request is None  # the setting is off by default: no draft
    window.shell.context.settings.set("listen.draft_each_turn", True)
    with qtbot.waitSignal(window.parts["listen"].route_shown, timeout=LONG) as routed:
        window.listen.conversation.setPlainText(ROUTED_TURN)
    assert routed.args[0] is not None and window.parts["listen"].hits  # suggestions, yet routed
    assert draft._last_request is None and not draft._busy
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        window.listen.conversation.setPlainText(DAMAGED_TURN)
    top = window.parts["listen"].hits[0]  # the top suggestion leads the draft
    assert DAMAGED in [h.source for h in window.parts["listen"].hits]
    assert (finished.args[0].sources[0].pack, finished.args[0].sources[0].source) == (
        top.pack,
        top.source,
    )


def test_the_agents_draft_or_edit_is_never_replaced(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = _window(qtbot, make_window, context, each_turn=True)
    said: list[str] = []
    window.shell.message.connect(lambda text, _ms: said.append(text))
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        window.listen.conversation.setPlainText(DAMAGED_TURN)
    first = finished.args[0]
    draft = window.parts["draft"]
    qtbot.keyClick(window.draft.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert draft.editing
    window.draft.editor.setPlainText("My own reply to the customer.")
    _check(qtbot, window, DAMAGED_TURN + "\nAgent: Sure.\nCustomer: how long does a refund take?")
    assert any("not drafted" in s and "editing" in s for s in said)
    assert draft.answer is first and draft.editing
    assert window.draft.editor.toPlainText() == "My own reply to the customer."
