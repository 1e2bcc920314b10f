"""The real main window, offscreen, over the real demo pack, embedder and SmolLM2 model."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor, QTextDocument

from desktop.core.assist import Done, Token
from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings

pytestmark = [
    pytest.mark.slow,
    # The offscreen platform plugin warns that it cannot resize native windows; harmless here.
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

QUESTION = "How do I return a damaged item?"
LONG = 180_000  # ms: prompt evaluation alone takes ~10 s on a small CI machine


def norm(text: str) -> str:
    """Whitespace-normalised text (Qt writes U+2029 for paragraph breaks in selectedText)."""
    return " ".join(text.replace("\u2029", "\n").replace("\u2028", "\n").split())


@dataclass(frozen=True)
class PaneBeforeDone:
    text: str


def record_events(window: Any) -> list[Any]:
    """Record every event the ask worker delivers, plus the draft pane's text when Done came.

    ``ask()`` looks up ``_on_ask_event`` when it starts the operation, so wrapping the bound
    method here sees exactly what the window sees, in the same order.
    """
    seen: list[Any] = []
    original = window._on_ask_event

    def spy(event: Any) -> None:
        if isinstance(event, Done):
            seen.append(PaneBeforeDone(window.draft_view.toPlainText()))
        seen.append(event)
        original(event)

    window._on_ask_event = spy
    return seen


def ask(qtbot: Any, window: Any, question: str = QUESTION) -> tuple[list[Any], Any]:
    """Type *question* and press Enter, as an agent would; returns (hits, answer)."""
    shown: list[Any] = []
    window.results_shown.connect(shown.append)
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClicks(window.question, question)
        qtbot.keyClick(window.question, Qt.Key.Key_Return)
    qtbot.waitUntil(window.ask_button.isEnabled, timeout=10_000)
    assert len(shown) == 1, "results_shown must come exactly once per question"
    return shown[0], finished.args[0]


def start(qtbot: Any, window: Any) -> None:
    with qtbot.waitSignal(window.ready, timeout=LONG):
        window.start()


def context_with(embedder: Any, **kwargs: Any) -> AppContext:
    paths = Paths.from_env()
    return AppContext(paths, Settings.load(paths), embedder=embedder, **kwargs)


def click_citation(qtbot: Any, window: Any, number: int) -> None:
    """Click a ``[number]`` link in the draft pane with the mouse."""
    view = window.draft_view
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


def assert_source_shown(window: Any, hit: Any) -> None:
    assert hit.title in window.source_title.text()
    assert hit.source in window.source_title.text()
    assert norm(window.highlighted_text()) == norm(hit.text)
    pack = next(p for p in window.context.packs() if p.id == hit.pack)
    assert norm(window.source_view.toPlainText()) == norm(pack.document_text(hit.source))


# --- the happy path -----------------------------------------------------------------------------


def test_ask_shows_sources_and_streams_a_cited_draft(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    events = record_events(window)

    hits, answer = ask(qtbot, window)

    assert hits, "the demo pack answers this question"
    assert window.results.count() == len(hits)
    assert window.results.currentRow() == 0
    assert hits[0].title in window.results.item(0).text()
    assert hits[0].source == "delivery-returns/return-damaged-or-faulty-item.md"
    assert_source_shown(window, hits[0])

    assert answer.status == "answered"
    assert answer.mode == "model"
    assert not answer.stopped
    assert answer.draft.strip()
    assert answer.sources
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 3, "the draft must stream token by token"
    assert answer.timings["first_token_s"] > 0
    # While streaming, the pane showed exactly the tokens so far.
    pane_before_done = next(e.text for e in events if isinstance(e, PaneBeforeDone))
    assert norm(pane_before_done) == norm("".join(tokens))
    # The finished pane is the verified draft plus its source list.
    final = norm(window.draft_view.toPlainText())
    assert norm(answer.draft) in final
    assert "Sources" in final
    for hit in answer.sources:
        assert hit.title in final
    assert not window.stop_button.isEnabled()


def test_citation_link_moves_the_source_pane(qtbot: Any, make_window: Any, context: Any) -> None:
    # Extractive drafts cite the first three passages deterministically; the link handling is
    # the same for model drafts.
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    _, answer = ask(qtbot, window)
    assert answer.mode == "extractive"
    assert len(answer.sources) >= 2
    assert_source_shown(window, answer.sources[0])
    before = window.highlighted_text()
    assert norm(before) != norm(answer.sources[1].text)

    click_citation(qtbot, window, 2)

    assert_source_shown(window, answer.sources[1])
    click_citation(qtbot, window, 1)
    assert_source_shown(window, answer.sources[0])


def test_stop_ends_the_draft_at_once(qtbot: Any, make_window: Any, context: Any) -> None:
    context.settings.set("model.max_tokens", 2048)
    window = make_window(context)
    start(qtbot, window)
    events = record_events(window)
    stopped_at: list[float] = []

    def stop_on_first_token() -> None:
        if not stopped_at and any(isinstance(e, Token) for e in events):
            assert window.stop_button.isEnabled()
            qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
            stopped_at.append(time.monotonic())

    window.draft_view.textChanged.connect(stop_on_first_token)
    _, answer = ask(qtbot, window)
    finished_at = time.monotonic()

    assert stopped_at, "no token arrived before the draft finished"
    assert answer.stopped is True
    assert answer.mode == "model"
    assert finished_at - stopped_at[0] < 5.0
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) < 100, "generation went on after Stop"
    assert window.ask_button.isEnabled()
    assert not window.stop_button.isEnabled()


# --- when something is missing or broken ---------------------------------------------------------


def test_missing_model_still_searches_and_drafts_extractively(
    qtbot: Any, make_window: Any, tmp_path: Path, demo_pack: Path, embedder: Any
) -> None:
    missing = tmp_path / "missing.gguf"
    window = make_window(context_with(embedder, pack_dirs=[demo_pack], model_path=missing))
    with qtbot.waitSignals([window.ready, window.failed], order="strict", timeout=LONG):
        window.start()
    assert "unavailable" in window.model_label.text()
    assert str(missing) in window.draft_view.toPlainText()
    assert "Traceback" not in window.draft_view.toPlainText()

    hits, answer = ask(qtbot, window)

    assert hits
    assert window.results.count() == len(hits)
    assert answer.status == "answered"
    assert answer.mode == "extractive"
    assert answer.draft.strip()
    assert str(missing) in answer.notice
    final = norm(window.draft_view.toPlainText())
    assert norm(answer.draft) in final
    assert str(missing) in final


def test_no_pack_shows_guidance(
    qtbot: Any, make_window: Any, tmp_path: Path, embedder: Any
) -> None:
    folder = tmp_path / "nopack"
    window = make_window(context_with(embedder, pack_dirs=[folder]))
    with qtbot.waitSignal(window.failed, timeout=LONG):
        window.start()
    text = window.draft_view.toPlainText()
    assert "pack" in text.lower()
    assert str(folder) in text
    assert "index rebuild" in text, "the message must say how to fix it"
    assert "Traceback" not in text
    assert "unavailable" in window.packs_label.text()

    # Asking anyway repeats the guidance and leaves the window usable.
    with qtbot.waitSignal(window.failed, timeout=LONG):
        qtbot.keyClicks(window.question, QUESTION)
        qtbot.keyClick(window.question, Qt.Key.Key_Return)
    qtbot.waitUntil(window.ask_button.isEnabled, timeout=10_000)
    assert str(folder) in window.draft_view.toPlainText()
    assert window.results.count() == 0


def test_corrupt_index_names_the_folder(
    qtbot: Any, make_window: Any, tmp_path: Path, pack_copy: Path, embedder: Any
) -> None:
    (pack_copy / "manifest.json").write_text("{not json", encoding="utf-8")
    window = make_window(context_with(embedder, pack_dirs=[pack_copy]))
    with qtbot.waitSignal(window.failed, timeout=LONG) as failed:
        window.start()
    text = window.draft_view.toPlainText()
    assert str(pack_copy) in text
    assert "damaged" in text
    assert "rebuild" in text.lower()
    assert "Traceback" not in text
    assert str(pack_copy) in failed.args[0]
    # The bad file is reported, not replaced.
    with pytest.raises(json.JSONDecodeError):
        json.loads((pack_copy / "manifest.json").read_text(encoding="utf-8"))


def test_question_without_a_source_clears_the_source_pane(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    previous, _ = ask(qtbot, window)
    assert previous[0].title in window.source_title.text()
    window.question.clear()

    hits, answer = ask(qtbot, window, "What is the capital of France?")

    assert hits == []
    assert window.results.count() == 0
    assert answer.status == "no_source"
    assert "No approved source covers this question." in window.draft_view.toPlainText()
    assert "No approved source matches" in window.source_view.toPlainText()
    # Nothing from the previous question's article may remain.
    for hit in previous:
        assert hit.title not in window.source_title.text()
        assert hit.source not in window.source_title.text()
    assert window.highlighted_text() == ""


def test_sensitive_message_is_routed_to_a_person_not_drafted(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    events = record_events(window)

    _, answer = ask(qtbot, window, "My husband passed away last week, can you close his account?")

    assert answer.status == "route_to_human"
    assert not [e for e in events if isinstance(e, Token)]  # nothing was drafted
    pane = window.draft_view.toPlainText()
    assert "Route to a person: bereavement" in pane
    assert "passed away" in pane and "extension 4410" in pane
    # The company's handling article is open in the source pane, its rule highlighted.
    assert "sensitive/bereavement.md" in window.source_title.text()
    assert norm(window.highlighted_text()).startswith("Rule: Agents must not draft")
