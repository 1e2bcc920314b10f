"""The Qt-free parts of the agent's window: listening, feedback and HTML rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core import feedback, listen, render
from desktop.core.assist import Answer
from desktop.core.generation.verify import Sentence
from desktop.core.knowledge.index import Hit

CONVERSATION = """Customer: Hi, I ordered a phone last week
Agent: Thanks, how can I help?
Customer: It arrived with a cracked screen.
I want to send it back
Agent: Sorry to hear that.
"""


def test_the_latest_customer_turn_is_the_need() -> None:
    need = listen.customer_need(CONVERSATION)
    # A continuation line belongs to the turn above it; agent lines are never the need.
    assert need.query == "It arrived with a cracked screen. I want to send it back"
    assert [t.speaker for t in need.turns] == ["customer"]


def test_a_short_latest_turn_is_read_with_the_one_before() -> None:
    need = listen.customer_need(CONVERSATION + "Customer: yes please\n")
    assert need.query.endswith("send it back yes please")
    assert len(need.turns) == 2


def test_unlabelled_text_and_empty_text() -> None:
    assert listen.customer_need("my bill is higher than expected this month").query == (
        "my bill is higher than expected this month"
    )
    assert listen.customer_need("Agent: hello\n\n").empty
    assert listen.customer_need("").empty


def test_feedback_is_appended_as_json_lines(tmp_path: Path) -> None:
    answer = Answer(status="answered", question="Q?", draft="A draft [1].", mode="extractive")
    feedback.record(tmp_path, answer, "up")
    feedback.record(tmp_path, answer, "down")
    lines = (tmp_path / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["rating"] for e in entries] == ["up", "down"]
    assert entries[0]["question_chars"] == 2 and entries[0]["status"] == "answered"
    assert "question" not in entries[0], "nothing the customer wrote is stored"
    assert entries[0]["draft_sha256"] == feedback.draft_hash("A draft [1].")
    assert "A draft" not in lines[0], "the draft itself is not stored"
    assert feedback.read_all(tmp_path) == entries
    with pytest.raises(ValueError):
        feedback.record(tmp_path, answer, "meh")


def test_document_html_highlights_exactly_the_passage() -> None:
    text = "Returns\n\nIntro line.\n\n- Step one here\n- Step two here\n\nAfter."
    start = text.index("Step one")
    end = text.index("two here") + len("two here")
    out = render.document_html(text, [(1, "Returns", 0)], start, end)
    assert out.startswith("<h2>Returns</h2>")
    assert "<ul><li><span" in out and "</li></ul>" in out
    assert ">- " not in out  # the list draws the bullet; the typed one is not shown too
    assert out.count(render.HIGHLIGHT) == 2  # one span per line of the passage
    assert f'<a name="{render.PASSAGE_ANCHOR}"></a><ul>' in out
    assert "Intro line." in out and "After." in out
    assert render.HIGHLIGHT not in render.document_html(text)


def test_pages_are_labelled() -> None:
    out = render.document_html("one\ntwo", pages=[(0, 1), (4, 2)])
    assert out.index("Page 1") < out.index("one") < out.index("Page 2") < out.index("two")


def test_draft_html_marks_flagged_sentences_with_their_reason() -> None:
    draft = "Returns are free [1]. You get a voucher."
    sentences = [
        Sentence("Returns are free [1].", [1], "supported"),
        Sentence("You get a voucher.", [], "no_citation", "This sentence cites no source."),
    ]
    out = render.draft_html(draft, sentences)
    assert '<a href="cite:1">[1]</a>' in out
    assert 'title="Check this (no citation): This sentence cites no source."' in out
    assert out.count("<span") == 1  # the supported sentence is not marked


def test_copy_text_and_sources() -> None:
    hits = [Hit("p", "a.md", "Article A", "", 0, 1, "x", 1.0)]
    answer = Answer(status="answered", question="q", draft=" Do this [1]. ", sources=hits)
    assert render.copy_text(answer) == "Do this [1]."
    assert render.copy_text(answer, True) == "Do this [1].\n\nSources:\n[1] Article A"


def test_copied_sources_name_an_article_once() -> None:
    """Two cited passages of one article are listed as one source, numbered as cited."""
    hits = [
        Hit("p", "a.md", "Article A", "Setup", 0, 1, "x", 1.0),
        Hit("p", "b.md", "Article B", "", 0, 1, "y", 1.0),
        Hit("p", "a.md", "Article A", "Troubleshooting", 5, 9, "z", 1.0),
    ]
    answer = Answer(status="answered", question="q", draft="A [1]. B [2]. C [3].", sources=hits)
    assert render.copy_text(answer, True).endswith("Sources:\n[1, 3] Article A\n[2] Article B")
    listed = render.sources_html(hits)
    assert listed.count("Article A") == 1
    assert '<a href="cite:1">[1]</a> <a href="cite:3">[3]</a> Article A' in listed


def test_original_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.md").write_text("x", encoding="utf-8")
    assert render.original_file("a/b.md", [tmp_path / "none", tmp_path]) == tmp_path / "a/b.md"
    assert render.original_file("a/missing.md", [tmp_path]) is None
    assert render.original_file("../a/b.md", [tmp_path / "a"]) is None


def test_snippet_bolds_query_words() -> None:
    text = "Intro. " * 50 + "Your refund arrives within 5 working days."
    out = render.snippet_html(text, "when does my refund arrive")
    assert "<b>refund</b>" in out and out.startswith("…")


def test_snippets_drop_list_markers() -> None:
    text = "To return it, the item must be:\n- complete, with its box\n- undamaged"
    assert "- " not in render.snippet_html(text, "return item")
    assert "complete, with its box undamaged" in render.snippet_html(text, "return item")


def test_a_card_line_is_the_sentence_about_the_question() -> None:
    text = (
        "You can open the box. To get a full refund, the item must be:\n"
        "- complete, with all accessories\n"
        "- undamaged, with no scratches, cracks or liquid damage\n"
        "Screen protectors can't be returned once the backing film is removed."
    )
    # "cracked" finds "cracks": the list item about damage, without its marker.
    line = render.card_line_html(text, "it arrived with a cracked screen")
    assert line == "undamaged, with no scratches, cracks or liquid damage"
    assert render.card_line_html(text, "screen protector film").startswith("<b>Screen</b>")
    long = render.card_line_html("word " * 60 + "refund.", "refund", length=50)
    assert long.endswith("…") and len(long) <= 51 and not long.startswith("…")


# --- logic the window used to hold, now in the core (issue 13) --------------------------------


def test_search_options_come_from_the_settings_in_one_place(tmp_path: Path) -> None:
    from desktop.core.knowledge.search import options_from_settings
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    settings = Settings.load(Paths.from_env())
    settings.set("search.limit", 5)
    settings.set("search.min_score", 0.42)
    options = options_from_settings(settings, categories=("billing",), locale="fr")
    assert (options.limit, options.min_score) == (5, 0.42)
    assert (options.categories, options.locale) == (("billing",), "fr")
    assert options_from_settings(settings, limit=2).limit == 2  # a caller's own limit wins


@pytest.mark.slow
def test_assistant_search_takes_its_options_from_the_settings_and_its_packs(context) -> None:
    from desktop.core.assist import Assistant
    from desktop.core.knowledge.search import categories

    assistant = Assistant(context)
    context.settings.set("search.limit", 3)
    hits = assistant.search("refund")
    assert len(hits) == 3, "search.limit must reach the search"
    assert assistant.search("refund", packs=[]) == []  # only the packs given are searched
    (pack,) = context.packs()
    assert assistant.search("refund", packs=[pack]) == hits
    found = categories([pack])
    assert "billing" in found and found == sorted(set(found))
    billing = assistant.search("refund", categories=("billing",))
    assert billing and {hit.category for hit in billing} == {"billing"}


def test_task_input_picks_the_text_each_task_works_on() -> None:
    from desktop.core.assist import task_input

    drafted = Answer(status="answered", question="q", draft="Returns are free [1].")
    refused = Answer(status="no_source", question="q", draft="No approved source covers this.")
    assert task_input("reply", "late fee?", CONVERSATION, None)[0] == "late fee?"
    # Nothing typed: the customer's latest need in the conversation.
    need = listen.customer_need(CONVERSATION).query
    assert task_input("reply", "  ", CONVERSATION, None)[0] == need
    assert task_input("wrapup", "late fee?", CONVERSATION, drafted)[0] == CONVERSATION
    assert task_input("rewrite", "typed", "", drafted)[0] == drafted.draft
    assert task_input("rewrite", "typed", "", refused)[0] == "typed"  # a refusal is not a draft
    text, missing = task_input("wrapup", "typed", "", None)
    assert text == "" and "Listen" in missing
    text, missing = task_input("reply", "", "", None)
    assert text == "" and "search box" in missing


def test_problem_text_and_html_tell_user_errors_from_bugs() -> None:
    from desktop.core.errors import KnowledgeError

    known = KnowledgeError("No knowledge pack <b>is</b> installed.", "Run `deskmate index`.")
    assert render.problem_text(known) == str(known)
    assert render.problem_html(known) == (
        "<p><b>No knowledge pack &lt;b&gt;is&lt;/b&gt; installed.</b></p>"
        "<p>Run `deskmate index`.</p>"
    )
    bug = RuntimeError("boom <i>")
    assert render.problem_text(bug) == "Something went wrong: boom <i>"
    assert "boom &lt;i&gt;" in render.problem_html(bug) and "deskmate doctor" in (
        render.problem_html(bug)
    )


class _Pack:
    def __init__(self, pack_id: str, damaged: bool = False) -> None:
        self.id, self.title, self.version = pack_id, f"{pack_id.title()} help", "3"
        self.damage = RuntimeError("torn") if damaged else None
        self.path = Path("/packs") / pack_id

    def document_meta(self, source: str) -> dict[str, str]:
        return {"updated": "2024-05-01"} if source == "a.md" else {}


def test_packs_summary_names_the_packs_left_out_and_what_to_do() -> None:
    from desktop.core.context import PackProblem

    packs = [_Pack("demo"), _Pack("other", damaged=True)]
    text, tip = render.packs_summary(packs, [])
    assert (text, tip) == ("Knowledge: Demo help v3", "")
    problem = PackProblem("other", Path("/packs/other"), "It is damaged.", "Repair it.")
    text, tip = render.packs_summary(packs, [problem])
    assert text == "Knowledge: Demo help v3 · not searched: other"
    assert tip == "other: It is damaged. Repair it."


def test_source_details_and_original_roots() -> None:
    from desktop.core.context import demo_source_dir, original_roots

    hit = Hit("demo", "a.md", "A", "", 0, 1, "x", 1.0, "billing", 2)
    details = render.source_details(_Pack("demo"), hit)
    assert details == "Pack: Demo help v3 · last updated 2024-05-01 · category billing · page 2"
    bare = Hit("demo", "b.md", "B", "", 0, 1, "x", 1.0)
    assert render.source_details(_Pack("demo"), bare) == "Pack: Demo help v3"
    assert original_roots(_Pack("demo")) == [Path("/packs/demo/originals"), demo_source_dir()]
    assert original_roots(_Pack("other")) == [Path("/packs/other/originals")]


def test_document_html_renders_tables_nested_lists_and_drops_site_markup() -> None:
    text = (
        "Plans\n\nPlan | Price\nBasic | £8\nPlus | £12\n\n"
        '- Report it via HackerOne{:target="\\_blank"}{:rel="noopener"}\n'
        "    - Desktop: open the menu\n"
        "  wrapped line\n"
        "1. First step {{< note >}}\n"
    )
    start = text.index("£12")
    out = render.document_html(text, [(1, "Plans", 0)], start, start + 3)
    assert "<table" in out and "<th>Plan</th>" in out and "<td>Basic</td>" in out
    assert f'<td><span style="background-color:{render.HIGHLIGHT}' in out
    assert "{:" not in out and "{{" not in out and "- " not in out
    assert "<li>Report it via HackerOne<ul><li>Desktop: open the menu wrapped line</li></ul>" in out
    assert "<li>1. First step </li>" in out
