"""The listen logic the panel, `deskmate listen --text` and the routing benchmark share, and the
"not a sensitive case" override, over the real demo pack and embedder (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from desktop.core import listen
from desktop.core.assist import Assistant, Done

pytestmark = pytest.mark.slow

CRISIS = (
    "Customer: I need to cancel my broadband\n"
    "Agent: I can help with that, may I ask why?\n"
    "Customer: I've lost my job, my partner left, I don't see the point in going on any more."
)
# The agent's words alone would route this, were they the customer's.
AGENT_ONLY = (
    "Customer: my bill is higher than usual this month\n"
    "Agent: If you ever feel you want to end it all, please tell us. Let me check the bill.\n"
    "Customer: thanks, it went up by £6"
)


def test_only_the_customers_words_can_route(context: Any) -> None:
    detector = context.sensitive_detector()
    found = listen.route(detector, CRISIS)
    assert found is not None and found.topic.name == "self_harm"
    assert listen.route(detector, AGENT_ONLY) is None
    # Unlabelled text counts as the customer's.
    assert listen.route(detector, "I don't see the point in going on any more") is not None
    assert "end it all" not in listen.customer_said(AGENT_ONLY)


def test_suggest_gives_need_articles_and_route_as_the_panel_shows_them(context: Any) -> None:
    found = listen.suggest(context, CRISIS)
    assert found.detection is not None and found.detection.topic.name == "self_harm"
    assert "point in going on" in found.need.query
    plain = listen.suggest(
        context, "Customer: my phone arrived with a cracked screen, can I send it back?"
    )
    assert plain.detection is None
    assert "delivery-returns/return-damaged-or-faulty-item.md" in [h.source for h in plain.hits]
    assert json.loads(json.dumps(plain.to_json()))["route"] is None


def test_customer_prefixes_are_the_conversation_after_each_customer_turn() -> None:
    steps = listen.customer_prefixes(CRISIS)
    assert len(steps) == 2
    assert steps[0] == "Customer: I need to cancel my broadband"
    assert steps[1].endswith("any more.") and "Agent: I can help" in steps[1]


def test_not_sensitive_lets_the_wrapup_go_ahead_and_is_recorded(context: Any) -> None:
    context.settings.set("generation.enabled", False)
    fraud = (
        "Customer: someone has used my card without permission, there are payments I never made\n"
        "Agent: I will check the payments now."
    )
    assistant = Assistant(context)
    answer = next(e for e in assistant.ask(fraud, task="wrapup") if isinstance(e, Done)).answer
    assert answer.status == "route_to_human"
    topic = answer.route["topic"]

    entry = listen.record_not_sensitive(context.paths.data, topic, "wrapup")
    assistant.not_sensitive.add(topic)
    answer = next(e for e in assistant.ask(fraud, task="wrapup") if isinstance(e, Done)).answer
    assert answer.status == "answered" and answer.not_sensitive == topic
    assert "not a sensitive case" in answer.notice
    lines = (context.paths.data / listen.OVERRIDES_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [entry]
    assert set(entry) == {"time", "topic", "action"}  # content-free
