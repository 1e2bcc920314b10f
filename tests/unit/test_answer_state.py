"""The answer card says its state first: verified and ready to send, check N sentences, or not
verified: do not send (issue 14's design pass)."""

from __future__ import annotations

from desktop.core import render
from desktop.core.assist import Answer
from desktop.core.generation.verify import Sentence


def _answer(verdicts: list[str], **extra: object) -> Answer:
    sentences = [Sentence(f"Sentence {i}.", [1], v) for i, v in enumerate(verdicts)]
    draft = " ".join(s.text for s in sentences)
    return Answer(status="answered", question="q", draft=draft, sentences=sentences, **extra)


def test_every_sentence_supported_is_verified_and_ready_to_send() -> None:
    answer = _answer(["supported", "supported"])
    assert render.answer_state(answer)[0] == "verified"
    html = render.answer_html(answer)
    assert html.index("Ready to send") < html.index("Sentence 0")


def test_flagged_sentences_are_counted_in_the_state_line() -> None:
    state, line = render.answer_state(_answer(["supported", "unsupported", "no_citation"]))
    assert state == "check" and "Check 2 sentences before sending" in line


def test_a_stopped_or_wholly_unsupported_draft_is_not_to_be_sent() -> None:
    assert render.answer_state(_answer(["supported"], stopped=True))[0] == "unverified"
    assert render.answer_state(_answer(["unsupported", "no_citation"]))[0] == "unverified"
    cut = _answer(["supported"], limit="time_budget", mode="model")
    state, line = render.answer_state(cut)
    assert state == "unverified" and "do not send" in line
    assert "Ready to send" not in render.answer_html(cut)
