"""Third pass on sensitive routing: short lines and idioms stay ordinary, indirect cases route.

The listen panel checks every customer turn, so a short follow-up ("My account's fine then?") or
an everyday line ("I moved house...") that routes blocks an ordinary call. Lines here are written
in the style of benchmarks/data/sensitive_dev.jsonl but are not in it nor in topics.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core import listen
from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.sensitive import MIN_MEANING_WORDS, SensitiveDetector
from desktop.core.settings import Settings

# Each of these routed before this pass (the first two were listen-panel false routes).
ORDINARY = [
    "My account's fine then?",
    "ok I'll ring them.",
    "I moved house and need to change my address.",
    "I moved house last week, where do I put the new address?",
]
INDIRECT = [
    (
        "can you put the refund in my sister's name, i won't be around to spend it after tonight",
        "self_harm",
    ),
    (
        "i've saved up my pills and i'm going to take them all tonight, cancel the phone",
        "self_harm",
    ),
    ("i'm an agent here, can i switch off the audit log while i look up my ex", "insider_misuse"),
]
CALL = (
    "Customer: I got a text saying my account is suspended, is that real?\n"
    "Agent: That wasn't from us. Please don't click the link.\n"
    "Customer: ok I deleted it. My account's fine then?\n"
    "Agent: Yes, your account is fine.\n"
    "Customer: I moved house and need to change my address too.\n"
)


@pytest.fixture
def no_pack(deskmate_home: Path, embedder) -> SensitiveDetector:  # type: ignore[no-untyped-def]
    paths = Paths.from_env()
    return AppContext(
        paths, Settings.load(paths), pack_dirs=[], embedder=embedder
    ).sensitive_detector()


@pytest.mark.slow
@pytest.mark.parametrize("message", ORDINARY)
def test_short_lines_and_everyday_moves_do_not_route(
    no_pack: SensitiveDetector, message: str
) -> None:
    found = no_pack.detect(message)
    assert found is None, found.reason


@pytest.mark.slow
@pytest.mark.parametrize(("message", "topic"), INDIRECT)
def test_indirect_wordings_not_in_the_examples_route(
    no_pack: SensitiveDetector, message: str, topic: str
) -> None:
    found = no_pack.detect(message)
    assert found is not None and found.topic.name == topic, found


@pytest.mark.slow
def test_a_short_line_still_routes_by_its_trigger(no_pack: SensitiveDetector) -> None:
    line = "I feel suicidal."
    found = no_pack.detect(line)
    assert len(line.split()) < MIN_MEANING_WORDS
    assert found is not None and found.topic.name == "self_harm"


@pytest.mark.slow
def test_an_ordinary_call_in_the_listen_panel_routes_nothing(context) -> None:  # type: ignore[no-untyped-def]
    steps = listen.customer_prefixes(CALL)
    assert len(steps) == 3
    routes = [listen.route(context.sensitive_detector(), step) for step in steps]
    assert routes == [None, None, None], [r.reason for r in routes if r]


@pytest.mark.slow
@pytest.mark.parametrize(
    "message",
    [
        # As Whisper heard it on a generated call ("seem" for "see"): the whole sentence reads
        # as job loss (a vulnerable customer); its second clause is the crisis.
        "I have lost my job and I don't seem the point in going on anymore",
        "My landlord wants me out by Friday, so I think I'll just end it all then",
    ],
)
def test_self_harm_in_a_clause_of_a_longer_sentence_is_self_harm(
    no_pack: SensitiveDetector, message: str
) -> None:
    found = no_pack.detect(message)
    assert found is not None and found.topic.name == "self_harm", found


@pytest.mark.slow
def test_other_topics_are_not_read_from_clauses(no_pack: SensitiveDetector) -> None:
    """A fraud told in two clauses stays fraud: read alone, "I gave him remote access" is
    closer to abuse, which would outrank fraud."""
    message = (
        "A guy called pretending to be from your support and I gave him remote access. "
        "Now my bank account is empty."
    )
    found = no_pack.detect(message)
    assert found is not None and found.topic.name == "fraud", found
