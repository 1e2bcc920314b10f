"""Fourth pass on sensitive routing: the voices a second data author used, as phrase families.

The fresh folds (benchmarks/data/sensitive_fresh.jsonl) showed wordings the built-in phrases did
not cover in any form: an agent's paraphrase in the third person ("Customer says she has been
thinking about killing herself"), a former partner who turns up, a member of staff misusing what
they saw, a death said as "my husband's death", a phishing link followed by details typed in, a
caller who sounds young. Each family is a phrase or pattern in topics.yaml; the lines here are
new (in neither the data nor topics.yaml), and the ordinary ones share their words. No embedder
is needed: phrases and patterns decide before any likeness is computed.
"""

from __future__ import annotations

import pytest

from desktop.core.context import resources_dir
from desktop.core.sensitive import SensitiveDetector, builtin_topics

ROUTED = [
    ("Caller says he keeps thinking about killing himself since the divorce.", "self_harm"),
    ("customer told me she wants to end her life, she asked who gets her deposit", "self_harm"),
    ("i've been saving up my tablets for a while now. how do i cancel", "self_harm"),
    ("Sorry. I think I might do something stupid to myself tonight.", "self_harm"),
    ("my ex-husband showed up at the school gates again and knew my new address", "domestic_abuse"),
    ("I think I'm being stalked, please take my address off everything.", "domestic_abuse"),
    ("Since my father's death I can't get into his email to close it.", "bereavement"),
    ("I clicked a link in a text and filled in my card number, now there's money missing", "fraud"),
    ("Somebody has transferred my number to another network overnight", "fraud"),
    ("The caller seems very young and keeps asking for her mummy.", "minor"),
    ("mum isn't home and the tv box stopped working, i'm not allowed to call", "minor"),
    ("Going through chemo at the moment so please keep calls short.", "vulnerable"),
    ("honestly I can't cope with this bill on top of everything", "vulnerable"),
    (
        "your technician took my phone number off the job sheet and started messaging me",
        "insider_misuse",
    ),
    ("One of your agents is selling customer details on a forum, I saw it.", "insider_misuse"),
]

ORDINARY = [
    "The wifi can't cope with all the devices in the house.",
    "I'm a carer for my mum, can I be added to her account?",
    "Your driver texted me that he's outside, where do I sign?",
    "Our engineer is calling me tomorrow to confirm the time.",
    "There's a payment on my account I don't recognise, £4.99 from the app store.",
    "My ex-colleague recommended you, what plans do you have?",
    "I won't be needing the second SIM after I move in with my partner.",
    "This game is killing me, level 12 is impossible.",
    # A phrase taken back at once (spoken self-correction, the listen panel's last false route)
    "It's about my late father's... no sorry, my dad's old tablet, he gave it to me.",
]


@pytest.fixture(scope="module")
def by_phrase() -> SensitiveDetector:
    """The built-in topics' phrases and patterns alone (no embedder, so no likeness)."""
    return SensitiveDetector(builtin_topics(resources_dir()).topics, None)


@pytest.mark.parametrize(("message", "topic"), ROUTED)
def test_each_voice_routes_to_its_topic(
    by_phrase: SensitiveDetector, message: str, topic: str
) -> None:
    found = by_phrase.detect(message)
    assert found is not None and found.topic.name == topic, found


@pytest.mark.parametrize("message", ORDINARY)
def test_look_alikes_of_the_new_phrases_stay_ordinary(
    by_phrase: SensitiveDetector, message: str
) -> None:
    found = by_phrase.detect(message)
    assert found is None, found.reason


def test_a_phrase_taken_back_routes_only_if_something_else_is_said(
    by_phrase: SensitiveDetector,
) -> None:
    found = by_phrase.detect("my late father's... no sorry, my late father passed in May")
    assert found is not None and found.topic.name == "bereavement"
    found = by_phrase.detect("I want to kill myself... no sorry, I don't know")
    assert found is not None and found.topic.name == "self_harm"  # never taken back


@pytest.mark.parametrize(
    "message",
    [
        "I'm an admin, how do I read my colleague's email without her knowing?",
        "your staff member opened my account without my permission, then someone hacked my email",
    ],
)
def test_insider_misuse_at_work_outranks_abuse_and_fraud_phrases(
    by_phrase: SensitiveDetector, message: str
) -> None:
    found = by_phrase.detect(message)
    assert found is not None and found.topic.name == "insider_misuse", found


def test_away_from_work_the_usual_order_holds(by_phrase: SensitiveDetector) -> None:
    found = by_phrase.detect("how can i check his location without him knowing")
    assert found is not None and found.topic.name == "domestic_abuse"
