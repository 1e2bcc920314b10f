"""Wrap-up notes and rewrites: the supplied text is the only source, and it is checked."""

from __future__ import annotations

import pytest

from desktop.core import tasks
from desktop.core.assist import Assistant, Done
from desktop.core.errors import UserError

CONVERSATION = """\
Customer: Hi, my router light has been solid red since this morning.
Agent: I've checked your line and there's a fault at the exchange.
Agent: An engineer will fix it by 6pm tomorrow, and I've added a £5 credit to your account.
Customer: OK, thanks for your help.
"""


def _answer(context, text: str, **kwargs):
    events = list(Assistant(context).ask(text, **kwargs))
    assert isinstance(events[-1], Done)
    return events[-1].answer


@pytest.mark.slow
def test_extractive_wrapup_uses_only_the_conversation(context) -> None:
    context.settings.set("generation.enabled", False)
    answer = _answer(context, CONVERSATION, task="wrapup")
    assert answer.task == "wrapup" and answer.mode == "extractive"
    lines = answer.draft.splitlines()
    assert [line.split(":")[0] for line in lines] == list(tasks.WRAPUP_FIELDS)
    assert "router light has been solid red" in lines[0]
    assert "£5 credit" in lines[2]
    assert all(s.verdict == "supported" for s in answer.sentences)
    assert answer.sources[0].source == "input"


def test_wrapup_and_listen_read_the_same_speakers() -> None:
    """ "Rep:" and "You:" are the agent for both: the greeting is never the customer's reason."""
    from desktop.core import listen

    conversation = (
        "You: Hi, you're through to Sam, how can I help today?\n"
        "Customer: My parcel says delivered but it is not here.\n"
        "it was due on Monday\n"
        "Rep: I've opened a missing-parcel claim for you.\n"
    )
    note = dict(line.split(": ", 1) for line in tasks.extractive_wrapup(conversation).splitlines())
    assert note["Reason"] == "My parcel says delivered but it is not here. it was due on Monday"
    assert note["Resolution"] == "I've opened a missing-parcel claim for you."
    need = listen.customer_need(conversation)
    assert need.query == note["Reason"]
    assert [t.speaker for t in need.turns] == ["customer"]


def test_wrapup_claims_not_in_the_conversation_are_flagged() -> None:
    note = (
        "Reason: Router light solid red.\n"
        "Resolution: An engineer will fix it by 6pm tomorrow and a £10 credit was added.\n"
        "Follow-up: Not stated."
    )
    verdicts = {s.text.split(":")[0]: s for s in tasks.check_against(note, CONVERSATION)}
    assert verdicts["Reason"].verdict == "supported"
    assert verdicts["Follow-up"].verdict == "supported"  # states no fact
    assert verdicts["Resolution"].verdict == "unsupported"
    assert (
        "10" in verdicts["Resolution"].reason and "original text" in verdicts["Resolution"].reason
    )


@pytest.mark.slow
def test_model_wrapup_without_the_fields_falls_back_to_the_conversation(context) -> None:
    context.settings.set("model.max_tokens", 96)
    answer = _answer(context, CONVERSATION, task="wrapup")
    assert answer.status == "answered" and answer.task == "wrapup"
    if answer.mode == "model":  # the model kept the format: every field is there and checked
        assert tasks.is_wrapup(answer.draft)
    else:
        assert "did not write the wrap-up fields" in answer.notice
        assert tasks.is_wrapup(answer.draft)
    assert answer.sentences


@pytest.mark.slow
def test_rewrite_flags_added_facts_and_keeps_text_without_a_model(context) -> None:
    original = "Your refund will reach your card in 3 to 5 working days."
    added = tasks.check_against("Your refund arrives in 2 days with a £5 bonus.", original)
    assert added[0].verdict == "unsupported"
    context.settings.set("generation.enabled", False)
    answer = _answer(context, original, task="rewrite", tone="formal")
    assert answer.draft == original and "unchanged" in answer.notice


@pytest.mark.slow
def test_sensitive_conversation_is_routed_whatever_the_task(context) -> None:
    chat = CONVERSATION + "Customer: Also my wife passed away, the account is in her name.\n"
    answer = _answer(context, chat, task="wrapup")
    assert answer.status == "route_to_human" and answer.route["topic"] == "bereavement"


@pytest.mark.slow
def test_a_rewrite_of_the_agents_draft_is_not_routed(context) -> None:
    """The agent's own words never route (issue 14): a draft quoting the complaints article's
    "legal action, solicitors or the ombudsman" is rewritten, though as a customer's message
    the same text is a legal threat."""
    context.settings.set("generation.enabled", False)
    draft = (
        "If you're not happy with our answer, you can take your complaint to the ombudsman. "
        "We take complaints that mention legal action or solicitors seriously."
    )
    assert _answer(context, draft).status == "route_to_human"
    answer = _answer(context, draft, task="rewrite", tone="formal")
    assert answer.status == "answered" and answer.draft == draft


@pytest.mark.slow
def test_unknown_task_or_tone_is_a_user_error(context) -> None:
    with pytest.raises(UserError, match="Unknown task"):
        list(Assistant(context).ask("hello", task="poem"))
    with pytest.raises(UserError, match="Unknown task"):
        list(Assistant(context).ask("hello", task="rewrite", tone="angry"))
