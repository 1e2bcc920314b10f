"""Sensitive cases are routed to a person, from the demo content's own rules (real embedder)."""

from __future__ import annotations

import json

import pytest

from desktop.core.assist import Assistant, Done
from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings


def _answer(context, text: str):
    events = list(Assistant(context).ask(text))
    assert isinstance(events[-1], Done)
    return events[-1].answer


@pytest.fixture
def no_model(context, monkeypatch):
    def explode(*args, **kwargs):
        raise AssertionError("a sensitive case must never reach the model")

    monkeypatch.setattr(context, "load_model", explode)
    return context


@pytest.mark.slow
@pytest.mark.parametrize(
    ("message", "topic"),
    [
        ("My husband passed away last week and I need to cancel his contract.", "bereavement"),
        ("My dad died last month and the bills are still in his name.", "bereavement"),
        ("Someone has taken over my account and changed the email address.", "fraud"),
        ("My phone suddenly says SOS only and money has left my bank account.", "fraud"),
        ("This is a joke, I'm going to take this to the ombudsman.", "legal_threat"),
        ("If this isn't fixed I'll be speaking to my solicitor.", "legal_threat"),
        ("I lost my job and I can't afford food this week, let alone this bill.", "vulnerable"),
        ("Honestly I don't see the point in going on any more.", "self_harm"),
        (
            "My ex keeps turning up wherever I go, I think he is tracking my phone.",
            "domestic_abuse",
        ),
    ],
)
def test_sensitive_messages_are_routed_with_rule_and_article(no_model, message, topic) -> None:
    answer = _answer(no_model, message)
    assert answer.status == "route_to_human"
    assert answer.route["topic"] == topic
    assert answer.route["rule"].startswith("Rule:")
    assert answer.route["reason"]
    source = answer.sources[0]
    assert source.source.startswith("sensitive/")
    # The source pane can highlight the rule: the offsets point at it in the document.
    text = no_model.packs()[0].document_text(source.source)
    assert text[source.start : source.end].startswith("Rule:")
    assert answer.sentences == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "message",
    [
        "My phone battery died overnight, how do I get it to charge?",
        "How much is the late payment fee?",
        "How do I set up two-step sign-in?",
        "My parcel was damaged in delivery, what do I do?",
    ],
)
def test_ordinary_questions_are_not_routed(context, message) -> None:
    detection = context.sensitive_detector().detect(message)
    assert detection is None, detection


@pytest.mark.slow
def test_most_urgent_topic_wins(context) -> None:
    detection = context.sensitive_detector().detect(
        "My husband died in March. I really don't want to be here any more."
    )
    assert detection is not None and detection.topic.name == "self_harm"


@pytest.mark.slow
def test_case_mentioned_late_in_a_long_conversation_is_found(context) -> None:
    chat = "\n".join(
        f"Agent: Is there anything else about order {n}? Customer: Yes." for n in range(300)
    )
    chat += "\nCustomer: Also I'm the executor of my aunt's estate and need her number closed."
    detection = context.sensitive_detector().detect(chat)
    assert detection is not None and detection.topic.name == "bereavement"


@pytest.mark.slow
def test_policy_can_add_a_sensitive_topic(tmp_path, monkeypatch, demo_pack, embedder) -> None:
    policy = Paths.from_env().policy
    policy.write_text(
        json.dumps(
            {
                "sensitive_topics": {
                    "gambling": {
                        "rule": "Rule: transfer gambling-harm cases to the Extra Care Team.",
                        "triggers": ["betting"],
                        "examples": ["I spent all my wages on online betting"],
                    }
                }
            }
        )
    )
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    answer = _answer(context, "My betting app bills keep hitting my phone account.")
    assert answer.status == "route_to_human" and answer.route["topic"] == "gambling"
    assert "Extra Care" in answer.route["rule"] and answer.sources == []
