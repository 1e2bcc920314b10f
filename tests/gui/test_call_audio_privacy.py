"""What a transcribed call leaves on disk (issue 18: redaction before anything from the transcript
is stored). The transcript reaches storage only as the question of the wrap-up drafted from it:
the audit trail, feedback and (with log.customer_text on) the log each keep it redacted by
desktop/core/redact.py, never raw; the call's text itself is cleared when the call ends."""

from __future__ import annotations

from typing import Any

import pytest
from guikit import LONG, start
from PySide6.QtCore import Qt

from desktop.core import audit, feedback, logs
from desktop.core.redact import redact
from desktop.core.speech.live import Final

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

CARD, EMAIL = "4111 1111 1111 1111", "jane.doe@example.com"
TURNS = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", f"My phone arrived with a cracked screen. My card is {CARD}, email {EMAIL}."),
]


def test_the_transcript_is_stored_only_redacted(qtbot: Any, make_window: Any, context: Any) -> None:
    settings = context.settings
    settings.set("generation.enabled", False)  # an extractive wrap-up: no model to wait for
    settings.set("privacy.audit_question", "redacted")
    settings.set("log.customer_text", True)
    log_path = logs.setup(context.paths, settings)
    assert log_path is not None
    try:
        window = make_window(context)
        start(qtbot, window)
        part = window.parts["listen"]
        settings.set("listen.audio", True)
        window.shell.settings_changed.emit()
        for at, (speaker, text) in enumerate(TURNS):  # as the listening thread delivers them
            part.audio.event.emit(Final(speaker, text, at, at + 1.0, 0.0, 0.0))
        transcript = window.listen.conversation.toPlainText()
        assert CARD in transcript and EMAIL in transcript
        with qtbot.waitSignal(window.shell.answer_shown, timeout=LONG) as shown:
            qtbot.mouseClick(part.call_ended_button, Qt.MouseButton.LeftButton)
        answer = shown.args[0]
        assert answer.task == "wrapup" and CARD in answer.question
        qtbot.mouseClick(window.draft.thumbs_up, Qt.MouseButton.LeftButton)
        window.shell.context.audit.flush()
        qtbot.waitUntil(lambda: window.listen.conversation.toPlainText() == "", timeout=5_000)
    finally:
        logs.shutdown()

    masked = redact(answer.question).text
    assert "[CARD]" in masked and "[EMAIL]" in masked
    folder = audit.audit_dir(context.paths.data)
    records = [record for _, _, record in audit.read_records(folder)]
    kept = [r for r in records if "question" in r]  # the wrap-up shown, and its rating
    assert len(kept) >= 2 and all(r["question"] == masked for r in kept)
    (entry,) = feedback.read_all(context.paths.data)
    assert entry["question_kept"] == "redacted" and entry["question"] == masked
    stored = "".join(p.read_text(encoding="utf-8") for p in audit.audit_files(folder))
    stored += feedback.feedback_file(context.paths.data).read_text(encoding="utf-8")
    stored += log_path.read_text(encoding="utf-8")
    for raw in (CARD, EMAIL, "4111"):
        assert raw not in stored
