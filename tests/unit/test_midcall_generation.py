"""The generation guard where the stream is consumed (issue 14): a looping model is stopped and
replaced, and the time budget ends a draft with a message, with the real SmolLM2 model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from desktop.core.assist import Assistant, Done, Error, Token
from desktop.core.generation import verify

pytestmark = pytest.mark.slow
QUESTION = "How long do refunds take to reach my card?"


class LoopingEngine:
    """A model that loops ("the the the ...") until closed; counts what it was asked to do."""

    context_size = 2048
    last_stats = None

    def __init__(self) -> None:
        self.yielded = 0
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[str]:
        try:
            yield "Refunds take "
            while self.yielded < 10_000:
                self.yielded += 1
                yield "five days and five "
        finally:
            self.closed = True


def _run(assistant: Assistant, **kwargs: Any) -> tuple[list[Any], Any]:
    events = list(assistant.ask(QUESTION, stop=threading.Event(), **kwargs))
    done = events[-1]
    assert isinstance(done, Done)
    return events, done.answer


def test_a_looping_model_is_stopped_early_and_the_fallback_follows(
    context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = LoopingEngine()
    monkeypatch.setattr(context, "load_model", lambda: engine)
    events, answer = _run(Assistant(context))
    assert engine.closed and engine.yielded < 50  # stopped within a few repeats, not 10,000
    assert answer.limit == "repetition"
    assert [e for e in events if isinstance(e, Error)]  # the pane drops the looping text
    assert answer.mode == "extractive" and answer.draft and "five days and five" not in answer.draft
    assert "repeating" in answer.notice


def test_the_time_budget_ends_a_real_models_draft_and_says_so(context: Any) -> None:
    context.settings.set("generation.time_budget_s", 0.5)
    events, answer = _run(Assistant(context))
    assert answer.limit == "time_budget"
    assert "Stopped after 0.5 s: check before sending." in answer.notice
    assert answer.draft  # the fallback as ever: never a blank pane
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) < 40  # SmolLM2 writes far more than this without the budget


def test_without_a_budget_the_real_model_writes_its_draft(context: Any) -> None:
    context.settings.set("generation.time_budget_s", 0)
    _, answer = _run(Assistant(context))
    assert answer.limit == "" and "Stopped after" not in answer.notice


class RewritingEngine(LoopingEngine):
    """A model whose rewrite adds a link and a phone number the original does not have."""

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[str]:
        yield "Your refund takes 5 days. Visit https://refunds-now.io/claim or call 0999 123 456."


def test_a_rewrite_that_adds_a_link_is_flagged(
    context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "load_model", RewritingEngine)
    events = list(Assistant(context).ask("Your refund takes 5 days.", task="rewrite"))
    answer = events[-1].answer
    assert answer.sentences[0].verdict == "supported"
    flagged = answer.sentences[1]
    assert flagged.verdict == "unsupported" and "https://refunds-now.io/claim" in flagged.reason


def test_a_sentence_cut_by_the_token_cap_is_not_shown_as_supported(context: Any) -> None:
    # Seen in the help-centre benchmark under load: "Yes, you can pick any of the AI models
    # from DuckD [1]" was cut by the time budget, judged supported, and kept as the draft.
    context.settings.set("generation.time_budget_s", 0)
    context.settings.set("model.temperature", 0.0)
    context.settings.set("model.max_tokens", 16)  # the least allowed
    _, answer = _run(Assistant(context))
    cut = (
        answer.replaced["sentences"] if answer.replaced else [s.to_json() for s in answer.sentences]
    )
    assert cut and cut[-1]["text"].rstrip()[-1] not in ".!?", cut  # 16 tokens end mid-sentence
    assert cut[-1]["verdict"] == "unsupported"
    assert cut[-1]["reason"] == verify.UNFINISHED
    assert answer.mode == "extractive"  # so the model's words are not what the agent gets
    assert answer.draft and answer.draft.rstrip()[-1] in ".]"


class YesEngine(LoopingEngine):
    """A model that answers "Yes" to a question asking how long, in its source's own words."""

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[str]:
        yield "Yes, refunds take days to reach your card [1]."


def test_a_yes_to_a_how_question_is_not_kept_as_the_draft(
    context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "load_model", YesEngine)
    _, answer = _run(Assistant(context))  # "How long do refunds take to reach my card?"
    assert (
        answer.replaced["sentences"][0]["reason"]
        == 'It answers "Yes" to a question that asks "how".'
    )
    assert answer.mode == "extractive" and not answer.draft.startswith("Yes")
