"""Answerability: a question is answered only when the passages cover it (real embedder, packs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.core import answerable
from desktop.core.assist import Answer, Assistant, Done
from desktop.core.context import AppContext
from desktop.core.knowledge.build import build_pack
from desktop.core.knowledge.index import Hit, Pack
from desktop.core.paths import Paths
from desktop.core.settings import Settings

REFUSAL = "No approved source covers this question."

NEAR_DOMAIN = [
    # Each names something no demo article mentions, next to words that match real articles.
    ("Can I pay my Northwind bill with Klarna?", "Klarna"),
    ("Does Northwind's roaming cost less than Vodafone's?", "Vodafone"),
]
CASUAL = [
    "stuff i ordered never showed up, courier came twice",
    "how do i get rid of the late fee on my bill",
    "forgot my password and the reset email never came",
]

ROUTERS = {
    "reset.md": "# Reset the Zephyr router\n\nHold the pinhole button on the back of the Zephyr "
    "router for 10 seconds until the light flashes amber. The router restarts with its factory "
    "settings and the Wi-Fi name printed on its label.\n",
    "lights.md": "# Zephyr router lights\n\nA solid green light means the router is online. A "
    "flashing red light means there is no broadband signal: check that the grey cable is in "
    "the socket marked DSL.\n",
    "mesh.md": "# Add a Zephyr mesh point\n\nPress the pair button on the router, then on the "
    "mesh point within two minutes. The mesh point's light turns solid green when paired.\n",
}


def _ask(context: AppContext, question: str) -> Answer:
    events = list(Assistant(context).ask(question))
    assert isinstance(events[-1], Done)
    return events[-1].answer


@pytest.fixture
def extractive(context):  # type: ignore[no-untyped-def]
    context.settings.set("generation.enabled", False)
    return context


@pytest.fixture
def router_context(tmp_path: Path, embedder) -> AppContext:  # type: ignore[no-untyped-def]
    return _pack_context(tmp_path, embedder, ROUTERS)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "name"), NEAR_DOMAIN)
def test_near_domain_question_naming_an_absent_product_is_refused(
    extractive: AppContext, question: str, name: str
) -> None:
    answer = _ask(extractive, question)

    # Search alone finds a relevant-looking article: the old floor would have drafted from it.
    best = max(hit.rank_score for hit in Assistant(extractive).search(question))
    assert best >= float(extractive.settings.get("answer.min_score"))
    assert answer.status == "no_source"
    assert answer.draft == REFUSAL
    assert answer.nearest and not answer.sources and not answer.sentences
    assert name in answer.notice


@pytest.mark.slow
@pytest.mark.parametrize("question", CASUAL)
def test_casually_phrased_answerable_questions_are_answered(
    extractive: AppContext, question: str
) -> None:
    answer = _ask(extractive, question)

    assert answer.status == "answered", answer.notice
    assert answer.sources and answer.draft != REFUSAL


@pytest.mark.slow
def test_turning_the_checks_off_restores_the_floor_alone(extractive: AppContext) -> None:
    extractive.settings.set("answer.refuse_unknown_names", False)
    extractive.settings.set("answer.min_coverage", 0.0)
    extractive.settings.set("answer.match_answer_type", False)
    extractive.settings.set("answer.refuse_absent_focus", False)

    assert _ask(extractive, NEAR_DOMAIN[0][0]).status == "answered"


@pytest.mark.slow
def test_small_pack_refuses_a_question_it_does_not_cover(router_context: AppContext) -> None:
    answered = _ask(router_context, "how do i factory reset my zephyr router?")
    brand = _ask(router_context, "How do I reset my Netgear Orbi router?")
    uncovered = _ask(router_context, "what does the router's monthly rental cost per year?")

    assert answered.status == "answered"
    assert answered.sources[0].source == "reset.md"
    assert brand.status == "no_source" and "Netgear" in brand.notice
    assert brand.nearest
    assert uncovered.status == "no_source"


@pytest.mark.slow
def test_pack_statistics_are_cached_by_manifest_hash_outside_the_pack(
    router_context: AppContext, tmp_path: Path
) -> None:
    pack = router_context.packs()[0]
    os.chmod(pack.path, 0o555)  # a read-only pack folder: the cache lives elsewhere
    try:
        stats = answerable.pack_stats(pack, router_context.paths.cache)
    finally:
        os.chmod(pack.path, 0o755)
    cached = (
        router_context.paths.cache / "answerable" / f"{answerable.manifest_hash(pack.path)}.json"
    )

    assert cached.is_file()
    assert stats.passages == len(pack.passage_texts())
    assert stats.frequency[answerable.stem("zephyr")] == stats.passages
    reread = answerable.pack_stats(
        Pack(pack.path, router_context.embedder), router_context.paths.cache
    )
    assert reread == stats


@pytest.mark.slow
def test_unknown_terms_count_casual_words_as_common_and_names_as_rare(embedder) -> None:
    stats = answerable.TermStats.of_texts(["Reset the Zephyr router", "Router lights"])
    common = answerable.common_words(answerable.vocabulary_file(embedder))

    assert answerable.unknown_terms("my wife's laptop stuff", stats, common) == ()
    assert answerable.unknown_terms("Does it work with NordVPN?", stats, common) == ("NordVPN",)
    assert answerable.unknown_terms("does it work with nordvpn", stats, common) == ("nordvpn",)
    # Sentence case: a capital that only starts the sentence is not a name.
    assert answerable.unknown_terms("Misspelt router lights?", stats, common) == ()


@pytest.mark.slow
def test_cli_ask_json_keeps_its_shape_for_a_refusal(
    deskmate_home: Path, demo_pack: Path, tmp_path: Path
) -> None:
    settings = Paths.from_env().settings_file
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"generation.enabled": False}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop",
            "ask",
            NEAR_DOMAIN[0][0],
            "--json",
            "--pack",
            str(demo_pack),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"status", "draft", "sources", "sentences", "nearest"} <= answer.keys()
    assert answer["status"] == "no_source" and answer["draft"] == REFUSAL
    assert answer["sources"] == [] and answer["sentences"] == []
    assert answer["nearest"]


# --- What the question asks for (answer type) and what it is about (focus names) ---

RENTAL_WITHOUT_PRICE = (
    "# Rent a Zephyr router\n\nYou can rent the Zephyr router instead of buying it. The rental "
    "is added to your broadband bill each month, and the router stays ours: send it back when "
    "you leave.\n"
)
RENTAL_WITH_PRICE = RENTAL_WITHOUT_PRICE.replace(
    "The rental is added", "Renting the Zephyr router costs £4.50 a month. The rental is added"
)
ADVICE_ARTICLE = (
    "# Restart or reset the Zephyr router\n\nWe recommend restarting the Zephyr router first: a "
    "restart keeps your settings. Reset it only when a restart does not help.\n"
)


def _pack_context(tmp_path: Path, embedder, articles: dict[str, str]) -> AppContext:  # type: ignore[no-untyped-def]
    source = tmp_path / "kb"
    source.mkdir()
    for name, text in articles.items():
        (source / name).write_text(text, encoding="utf-8")
    build_pack(source, tmp_path / "pack", embedder, pack_id="routers", title="Routers")
    paths = Paths.from_env()
    context = AppContext(
        paths, Settings.load(paths), pack_dirs=[tmp_path / "pack"], embedder=embedder
    )
    context.settings.set("generation.enabled", False)
    return context


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rental", "expected"), [(RENTAL_WITH_PRICE, "answered"), (RENTAL_WITHOUT_PRICE, "no_source")]
)
def test_a_price_question_is_answered_only_when_a_passage_states_a_price(
    tmp_path: Path, embedder, rental: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    context = _pack_context(tmp_path, embedder, {**ROUTERS, "rental.md": rental})
    question = "How much does it cost to rent the Zephyr router?"

    answer = _ask(context, question)

    assert answerable.asked_for(question) == ("a price",)
    assert answer.status == expected, answer.notice
    if expected == "answered":
        assert answer.sources[0].source == "rental.md"
        assert "£4.50" in answer.draft
    else:
        assert "asks for a price" in answer.notice and answer.nearest
        context.settings.set("answer.match_answer_type", False)
        assert _ask(context, question).status == "answered"  # the check alone refused it


@pytest.mark.slow
def test_a_recommendation_is_answered_from_a_passage_that_recommends(
    tmp_path: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    context = _pack_context(tmp_path, embedder, {**ROUTERS, "restart.md": ADVICE_ARTICLE})

    advised = _ask(context, "Should I restart or reset my Zephyr router when the Wi-Fi drops?")

    assert answerable.asked_for(advised.question) == ("a recommendation",)
    assert advised.status == "answered", advised.notice
    assert advised.sources[0].source == "restart.md"


@pytest.mark.slow
def test_personal_advice_no_passage_gives_is_refused(extractive: AppContext) -> None:
    question = "Is it worth upgrading to Full Fibre 900?"

    answer = _ask(extractive, question)

    assert answer.status == "no_source"
    assert "asks for a recommendation" in answer.notice and answer.nearest
    extractive.settings.set("answer.match_answer_type", False)
    assert _ask(extractive, question).status == "answered"  # the advice check alone refused it


@pytest.mark.slow
def test_demo_price_and_number_questions_whose_passages_state_them_are_answered(
    extractive: AppContext,
) -> None:
    for question, value in (
        ("How much is next-day delivery, and what's the cut-off time to order?", "£"),
        ("How many Device Cover claims is a customer allowed to make in a year?", "2"),
    ):
        answer = _ask(extractive, question)

        assert answerable.asked_for(question)
        assert answer.status == "answered", (question, answer.notice)
        assert any(value in hit.text for hit in answer.sources)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("How do I pair my Apple Watch with the Northwind app?", "Watch"),
        ("Can I use my Northwind SIM in my Samsung Galaxy?", "Samsung"),
    ],
)
def test_a_question_about_a_device_the_passages_never_name_is_refused(
    extractive: AppContext, question: str, names: str
) -> None:
    answer = _ask(extractive, question)

    assert answer.status == "no_source"
    assert names in answer.notice and answer.nearest
    extractive.settings.set("answer.refuse_absent_focus", False)
    assert _ask(extractive, question).status == "answered"  # the focus check alone refused it


def test_asked_for_reads_the_question_not_its_nouns() -> None:
    assert answerable.asked_for("how much is privacy pro in the UK?") == ("a price",)
    assert answerable.asked_for("Does Cloud DNS cost extra on top of the account?") == ("a price",)
    assert answerable.asked_for("What's the release date for IPv6 support?") == ("a date",)
    assert answerable.asked_for("Who decides, and how many are on the list?") == ("a number",)
    assert "a percentage" in answerable.asked_for("What percentage of the fee do I get back?")
    # An embedded "how much" in a yes/no question, a charge as a thing, a "what should" step.
    assert answerable.asked_for("is there a cap on how much i can use the chat?") == ()
    assert answerable.asked_for("Can they still dispute a charge from April?") == ()
    assert answerable.asked_for("The screen was cracked in the box. What should they do?") == ()


def test_absent_focus_takes_owned_names_and_product_heads_not_places_or_units() -> None:
    hits = [Hit("p", "a.md", "Install the app", "", 0, 10, "Install the app on Windows.", 0.9)]

    assert answerable.absent_focus("How do I install it on my Apple Watch?", hits) == (
        "Apple",
        "Watch",
    )
    assert answerable.absent_focus("Where do I get the Cloud Functions app?", hits) == (
        "Functions",
    )
    assert answerable.absent_focus("Can I install the app in the UK?", hits) == ()
    assert answerable.absent_focus("Can I install a 12 GB ISO app on Windows?", hits) == ()
    assert answerable.absent_focus("how do i install it on my apple watch", hits) == ()
