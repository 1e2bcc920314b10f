"""Edit before copying, in the real window (issue 17 item 2): Ctrl+E turns the finished draft
into plain text the agent edits with the keyboard, Copy copies the edit and the audit trail
records the edit distance; policy on flagged sentences cannot be bypassed by editing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from guikit import LONG, context_with, start
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.core import audit, edit, render

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = CTRL | Qt.KeyboardModifier.ShiftModifier
QUESTION = "How long do refunds take to reach my card?"


def _drafted(qtbot: Any, window: Any, question: str = QUESTION) -> Any:
    window.search.box.setText(question)
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    qtbot.waitUntil(window.draft.draft_button.isEnabled, timeout=10_000)
    return finished.args[0]


def _copied_records(context: Any) -> list[dict[str, Any]]:
    context.audit.flush()
    records = [r for _, _, r in audit.read_records(context.audit.log.folder)]
    return [r for r in records if r["event"] == "draft_copied"]


def _window(qtbot: Any, make_window: Any, context: Any) -> Any:
    window = make_window(context)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    start(qtbot, window)
    return window


def test_edit_then_copy_copies_the_edit_and_records_the_distance(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = _window(qtbot, make_window, context)
    part, pane = window.parts["draft"], window.draft
    answer = _drafted(qtbot, window)
    assert render.copy_warning(answer) == ""  # a verified draft: no question before copying
    original = render.copy_text(answer)

    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert pane.editor.isVisible() and not pane.view.isVisible()
    assert pane.editor.hasFocus() and pane.edit_button.text() == "D&one"
    assert pane.editor.toPlainText() == original
    # The agent deletes the first three characters and adds a closing line.
    qtbot.keyClick(pane.editor, Qt.Key.Key_Home, CTRL)
    for _ in range(3):
        qtbot.keyClick(pane.editor, Qt.Key.Key_Delete)
    qtbot.keyClick(pane.editor, Qt.Key.Key_End, CTRL)
    qtbot.keyClicks(pane.editor, " Kind regards, Jo")
    expected = original[3:] + " Kind regards, Jo"

    QApplication.clipboard().setText("before")
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    assert QApplication.clipboard().text() == expected
    assert part.confirm_box is None
    record = _copied_records(context)[-1]
    assert record["edited"] is True and record["flagged"] is False
    assert record["edit_unit"] == "characters"
    assert record["edit_distance"] == edit.distance(original, expected).value
    assert 14 <= record["edit_distance"] <= 20  # 3 deleted, 17 added
    assert "Kind regards" not in "".join(p.read_text() for p in context.audit.log.files())

    # Done: the edit is shown (and still copied); Copy does not fall back to the draft.
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert pane.view.isVisible() and not pane.editor.isVisible()
    shown = pane.view.toPlainText()
    assert "Edited by you" in shown and "Kind regards, Jo" in shown
    QApplication.clipboard().setText("before")
    qtbot.mouseClick(pane.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == expected

    # A new draft (Regenerate, from the editor) leaves edit mode and drops the edit.
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert pane.editor.isVisible()
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(pane.editor, Qt.Key.Key_R, CTRL)
    again = finished.args[0]
    qtbot.waitUntil(pane.draft_button.isEnabled, timeout=10_000)
    assert not pane.editor.isVisible() and part.edit_base is None
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    assert QApplication.clipboard().text() == render.copy_text(again)
    assert _copied_records(context)[-1]["edited"] is False

    # A new search leaves edit mode too; the old draft can no longer be edited or copied.
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert pane.editor.isVisible()
    with qtbot.waitSignal(window.results_shown, timeout=LONG):
        window.search.box.setText("change my plan")
    assert not pane.editor.isVisible() and not pane.edit_button.isEnabled()


def test_an_edited_flagged_draft_still_asks_before_copying(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = _window(qtbot, make_window, context)
    part, pane = window.parts["draft"], window.draft
    answer = _drafted(qtbot, window)
    answer.sentences[0].verdict = "unsupported"
    qtbot.mouseClick(pane.edit_button, Qt.MouseButton.LeftButton)
    assert answer.sentences[0].text.split("[")[0].strip() in pane.editor.toPlainText()
    qtbot.keyClick(pane.editor, Qt.Key.Key_End, CTRL)
    qtbot.keyClicks(pane.editor, " Thanks.")
    QApplication.clipboard().setText("before")
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    box = part.confirm_box
    assert box is not None and box.isVisible()
    assert "You edited a draft that needs checking" in box.text()
    assert f"had 1 of its {len(answer.sentences)} sentences not verified" in box.text()
    assert QApplication.clipboard().text() == "before"
    anyway = next(b for b in box.buttons() if b.text() == "Copy anyway")
    qtbot.mouseClick(anyway, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text().endswith(" Thanks.")
    record = _copied_records(context)[-1]
    assert record["edited"] is True and record["flagged"] is True
    assert record["flagged_left"] == 1


def test_policy_forbidding_flagged_sentences_cannot_be_bypassed_by_editing(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    Path(context.paths.policy).write_text(
        json.dumps({"settings": {"ui.copy_flagged": False, "generation.enabled": False}}),
        encoding="utf-8",
    )
    locked = context_with(context.embedder, pack_dirs=context.pack_dirs())
    window = _window(qtbot, make_window, locked)
    pane = window.draft
    answer = _drafted(qtbot, window)
    assert len(answer.sentences) >= 2
    # The last sentence that keyClicks can type back in (QTest aborts on a character such as
    # "–" that no key on its keyboard makes).
    flagged = next(s for s in reversed(answer.sentences[1:]) if s.text.isascii())
    flagged.verdict = "no_citation"
    words = flagged.text.split("[")[0].strip()

    # The flagged sentence is not in the editor.
    qtbot.keyClick(window, Qt.Key.Key_E, CTRL)
    assert words not in pane.editor.toPlainText()
    assert answer.sentences[0].text.split("[")[0].strip() in pane.editor.toPlainText()
    assert "left out" in window.statusBar().currentMessage()
    kept = pane.editor.toPlainText()

    # Typed back in (without its citation, in capitals): refused, nothing copied.
    qtbot.keyClick(pane.editor, Qt.Key.Key_End, CTRL)
    qtbot.keyClicks(pane.editor, " " + words.upper())
    QApplication.clipboard().setText("before")
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    assert QApplication.clipboard().text() == "before"
    assert window.parts["draft"].confirm_box is None
    assert "still in your edited text" in window.statusBar().currentMessage()
    assert _copied_records(locked) == []

    # Without it: the verified sentences and the agent's own words are copied.
    for _ in range(len(words) + 1):
        qtbot.keyClick(pane.editor, Qt.Key.Key_Backspace)
    assert pane.editor.toPlainText() == kept
    qtbot.keyClicks(pane.editor, " Thanks.")
    qtbot.keyClick(window, Qt.Key.Key_C, CTRL_SHIFT)
    assert QApplication.clipboard().text() == kept + " Thanks."
    record = _copied_records(locked)[-1]
    assert record["edited"] is True and record["flagged_left"] == 0
    assert record["edit_distance"] > len(" Thanks.")  # the flagged sentence left out counts
