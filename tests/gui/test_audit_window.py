"""The real window writes the audit trail (issue 17): a search, a source opened, a draft and its
copy become records, content-free by default, in a chain that verifies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from guikit import QUESTION, context_with, draft, start, type_search
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.core import audit

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]


def test_search_draft_and_copy_are_audited(
    qtbot: Any, make_window: Any, embedder: Any, demo_pack: Path
) -> None:
    context = context_with(embedder, pack_dirs=[demo_pack])
    context.settings.set("generation.enabled", False)  # extractive: quick and deterministic
    window = make_window(context)
    start(qtbot, window)
    hits = type_search(qtbot, window, QUESTION)
    assert len(hits) >= 2
    window.search.results.setCurrentRow(1)  # the agent opens the second result
    answer = draft(qtbot, window)
    qtbot.mouseClick(window.draft.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == answer.draft.strip()
    context.audit.flush()

    folder = audit.audit_dir(context.paths.data)
    records = [record for _, _, record in audit.read_records(folder)]
    events = [record["event"] for record in records]
    assert set(events[:-3]) == {"search"}, events  # one per search the typing ran
    assert events[-3:] == ["source_opened", "draft_shown", "draft_copied"]
    searched = records[len(events) - 4]
    assert searched["surface"] == "window" and searched["question_chars"] == len(QUESTION)
    assert searched["sources"][0] == {"pack": "demo", "version": "1", "source": hits[0].source}
    opened, shown, copied = records[-3:]
    assert opened["source"] == hits[1].source and opened["via"] == "result"
    assert 0 <= opened["elapsed_ms"] < 600_000
    assert shown["status"] == "answered" and shown["pack"] == "demo"
    assert [s["source"] for s in shown["sources"]] == [h.source for h in answer.sources]
    assert copied["edited"] is False and copied["draft_sha256"] == shown["draft_sha256"]
    # Content-free by default (privacy.audit_question = none): no question, no draft.
    text = "".join(path.read_text(encoding="utf-8") for path in audit.audit_files(folder))
    assert QUESTION not in text and "damaged item" not in text
    assert answer.draft.strip()[:40] not in text
    assert all("question" not in record for record in records)
    assert audit.verify(folder).ok
