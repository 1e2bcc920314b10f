"""Question -> retrieval -> draft -> verdicts, over the real demo pack and the real SmolLM2."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from desktop.core.assist import MAX_QUESTION_CHARS, Answer, Assistant, Done, Sources, Token
from desktop.core.errors import UserError

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _run(assistant: Assistant, question: str, stop: threading.Event | None = None):
    events = list(assistant.ask(question, stop=stop))
    assert isinstance(events[-1], Done)
    return events, events[-1].answer


def test_model_draft_streams_tokens_and_cites_given_sources(context) -> None:
    events, answer = _run(Assistant(context), "How do I return a damaged item?")
    tokens = [e for e in events if isinstance(e, Token)]
    assert answer.status == "answered" and answer.mode == "model"
    assert len(tokens) > 3
    # The draft is what was streamed, plus citations Deskmate attributed after sentences.
    streamed = "".join(t.text for t in tokens).strip()
    assert streamed.split()[0] in answer.draft
    assert answer.sources and answer.sources[0].source.startswith("delivery-returns/")
    for sentence in answer.sentences:
        assert (
            all(1 <= n <= len(answer.sources) for n in sentence.citations)
            or sentence.verdict == "unsupported"
        )
    assert answer.timings["retrieval_s"] > 0 and answer.timings["first_token_s"] > 0
    # Sources events come before the first token so the window can show them at once.
    first_token = next(i for i, e in enumerate(events) if isinstance(e, Token))
    assert any(isinstance(e, Sources) for e in events[:first_token])


def test_sources_point_at_real_demo_articles_with_exact_offsets(context) -> None:
    _, answer = _run(Assistant(context), "How much is the late payment fee?")
    pack = context.packs()[0]
    assert answer.sources[0].source == "billing/late-payment-fees.html"
    for hit in answer.sources:
        assert (DEMO / hit.source).is_file()
        assert pack.document_text(hit.source)[hit.start : hit.end].strip() == hit.text


def test_no_relevant_source_means_no_model_call(context, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise AssertionError("the model must not be called without a relevant source")

    monkeypatch.setattr(context, "load_model", explode)
    _, answer = _run(Assistant(context), "What is the best recipe for chocolate cake?")
    assert answer.status == "no_source"
    assert answer.sources == [] and answer.sentences == []
    assert "No approved source" in answer.draft
    assert answer.nearest  # the nearest articles are still offered


def test_generation_disabled_gives_fully_supported_extractive_draft(context) -> None:
    context.settings.set("generation.enabled", False)
    events, answer = _run(Assistant(context), "How long do refunds take to reach my card?")
    assert answer.mode == "extractive"
    assert not [e for e in events if isinstance(e, Token)]
    assert answer.sentences and all(s.verdict == "supported" for s in answer.sentences)
    assert "[1]" in answer.draft


def test_broken_model_falls_back_to_extractive_with_message(context, tmp_path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 10)
    context.settings.set("model.path", str(broken))
    _, answer = _run(Assistant(context), "How do I reset my password?")
    assert answer.mode == "extractive" and answer.status == "answered"
    assert str(broken) in answer.notice and "extractive" in answer.notice


def test_stop_ends_generation_early(context) -> None:
    context.settings.set("model.max_tokens", 2048)
    stop = threading.Event()
    assistant = Assistant(context)
    answer: Answer | None = None
    count = 0
    for event in assistant.ask("Explain every step to set up the router", stop=stop):
        if isinstance(event, Token):
            count += 1
            if count == 3:
                stop.set()
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None and answer.stopped
    assert count <= 4


def test_empty_question_is_a_user_error(context) -> None:
    with pytest.raises(UserError, match="empty"):
        list(Assistant(context).ask("   "))


def test_huge_paste_is_trimmed_with_notice(context) -> None:
    context.settings.set("generation.enabled", False)
    paste = ("Customer: hello there. " * 20_000) + "How do I reset my password?"
    _, answer = _run(Assistant(context), paste)
    assert len(answer.question) == MAX_QUESTION_CHARS
    assert answer.question.endswith("How do I reset my password?")
    assert f"{len(paste):,}" in answer.notice
