"""The agent's choices steer the draft, and the screen does not change under the agent (issue 14,
items 5 and 6), in the real window: the pack filter limits the draft's sources, the selected
result or "Draft from this article" leads the draft, the source pane stays on what the agent
reads, an old draft is marked under a new search, and a request made before the knowledge is
ready says so and runs when it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from guikit import LONG, QUESTION, context_with, start, type_search
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.core import render
from desktop.core.knowledge.index import build_pack

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

# Another company's help centre, with its own article on the same question.
CONTOSO = {
    "returns/damaged-goods.md": (
        "---\ntitle: Returning damaged goods to Contoso\n---\n"
        "# Returning damaged goods to Contoso\n\n"
        "If an item from Contoso arrives damaged, return it within 30 days using the free "
        "Contoso returns label in your order confirmation e-mail. Pack the damaged item in its "
        "original box and drop it at any Contoso store. Contoso refunds a damaged item to the "
        "original payment card within 5 working days of receiving it.\n"
    ),
    "account/opening-hours.md": (
        "---\ntitle: Contoso store opening hours\n---\n"
        "# Contoso store opening hours\n\n"
        "Contoso stores open from 9am to 6pm, Monday to Saturday.\n"
    ),
}


# Both companies' returns articles answer it; Contoso's, with its drop-off at a store, best.
CONTOSO_QUESTION = "Can I return a damaged item at a store within 30 days?"


@pytest.fixture
def two_companies(tmp_path: Path, demo_pack: Path, embedder: Any) -> Any:
    src = tmp_path / "contoso-src"
    for name, text in CONTOSO.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    contoso = tmp_path / "contoso"
    build_pack(src, contoso, embedder, pack_id="contoso", title="Contoso")
    context = context_with(embedder, pack_dirs=[demo_pack, contoso])
    context.settings.set("generation.enabled", False)
    return context


def _enter(qtbot: Any, window: Any) -> Any:
    """Enter in the search box (draft a reply); the finished answer."""
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    qtbot.waitUntil(window.draft.draft_button.isEnabled, timeout=10_000)
    return finished.args[0]


def _articles(answer: Any) -> list[tuple[str, str]]:
    return [(hit.pack, hit.source) for hit in answer.sources]


def test_drafts_use_only_the_pack_the_filter_is_set_to(
    qtbot: Any, make_window: Any, two_companies: Any
) -> None:
    window = make_window(two_companies)
    start(qtbot, window)
    type_search(qtbot, window, CONTOSO_QUESTION)
    unfiltered = _enter(qtbot, window)
    assert unfiltered.status == "answered"
    # Another company's article answers it best: unfiltered, the draft cites it.
    assert "contoso" in {pack for pack, _ in _articles(unfiltered)}

    with qtbot.waitSignal(window.results_shown, timeout=LONG) as shown:
        window.search.pack_filter.setCurrentIndex(window.search.pack_filter.findData("demo"))
    assert {hit.pack for hit in shown.args[0]} == {"demo"}
    filtered = _enter(qtbot, window)
    assert filtered.status == "answered"
    assert {pack for pack, _ in _articles(filtered)} == {"demo"}, _articles(filtered)
    assert "Contoso" not in filtered.draft


def test_listen_suggestions_keep_to_the_pack_filter(
    qtbot: Any, make_window: Any, two_companies: Any
) -> None:
    window = make_window(two_companies)
    start(qtbot, window)
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as unfiltered:
        window.listen.conversation.setPlainText(f"Customer: {QUESTION}")
    assert "contoso" in {hit.pack for hit in unfiltered.args[0]}

    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as filtered:
        window.search.pack_filter.setCurrentIndex(window.search.pack_filter.findData("demo"))
    assert filtered.args[0] and {hit.pack for hit in filtered.args[0]} == {"demo"}


def test_the_selected_result_leads_the_draft_and_the_source_pane_stays_on_it(
    qtbot: Any, make_window: Any, two_companies: Any
) -> None:
    window = make_window(two_companies)
    start(qtbot, window)
    hits = type_search(qtbot, window, QUESTION)
    first = _enter(qtbot, window)
    # The agent had not moved: the pane shows the draft's first source.
    lead = first.sources[0]
    assert lead.source in window.source.title.text()

    # The agent moves down to another article and reads it, then drafts.
    row = next(
        n
        for n, hit in enumerate(hits)
        if n > 0 and (hit.pack, hit.source) != (lead.pack, lead.source)
    )
    window.search.box.setFocus()
    for _ in range(row):
        qtbot.keyClick(window.search.box, Qt.Key.Key_Down)
    chosen = hits[row]
    assert window.search.results.currentRow() == row
    assert chosen.source in window.source.title.text()
    steered = _enter(qtbot, window)
    assert steered.status == "answered"
    assert _articles(steered)[0] == (chosen.pack, chosen.source)
    QApplication.processEvents()
    assert window.parts["source"].current_hit == chosen  # not jumped away to another passage
    assert chosen.source in window.source.title.text()


def test_draft_from_this_article_is_one_action(
    qtbot: Any, make_window: Any, two_companies: Any
) -> None:
    window = make_window(two_companies)
    start(qtbot, window)
    hits = type_search(qtbot, window, QUESTION)
    other = next(h for h in hits if h.source != hits[0].source)
    # The article arrives in the source pane some other way (a suggestion, a citation).
    window.shell.source_requested.emit(other)
    button = window.source.draft_from_button
    assert button.isEnabled() and "Ctrl+Shift+D" in button.toolTip()
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        qtbot.keyClick(
            window,
            Qt.Key.Key_D,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    answer = finished.args[0]
    assert answer.status == "answered" and answer.question == QUESTION
    assert _articles(answer)[0] == (other.pack, other.source)


def test_a_new_search_marks_the_old_draft_as_the_previous_questions(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, QUESTION)
    answer = _enter(qtbot, window)
    assert window.draft.copy_button.isEnabled()
    window.search.box.clear()
    type_search(qtbot, window, "How do I port my number?")
    shown = window.draft.view.toPlainText()
    assert "Previous question" in shown and QUESTION in shown
    assert not window.draft.copy_button.isEnabled()
    QApplication.clipboard().setText("before")
    window.parts["draft"].copy_draft()
    assert QApplication.clipboard().text() == "before"
    assert render.STALE in window.statusBar().currentMessage()
    # Drafting for the new question replaces it.
    fresh = _enter(qtbot, window)
    assert fresh.question != answer.question
    assert "Previous question" not in window.draft.view.toPlainText()


def test_drafting_before_the_knowledge_is_ready_says_so_and_runs_when_ready(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)
    window = make_window(context)
    window.start()  # the packs open on a worker; the agent types at once
    qtbot.keyClicks(window.search.box, QUESTION)
    qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
    assert not window.shell.knowledge_ready
    assert "Knowledge is still loading" in window.draft.view.toPlainText()
    with qtbot.waitSignal(window.draft_finished, timeout=LONG) as finished:
        pass
    answer = finished.args[0]
    assert answer.status == "answered" and answer.question == QUESTION
    assert answer.draft and "still loading" not in window.draft.view.toPlainText()
