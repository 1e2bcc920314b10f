"""Reply drafts are the sources' own sentences unless the model is to write them
(``generation.replies``, off by default: benchmarks/results/model_replies.md); the model still
writes wrap-ups. Real demo pack, real SmolLM2."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.core.assist import Assistant, Done, Token
from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings

pytestmark = pytest.mark.slow
QUESTION = "How do I return a damaged item?"
CONVERSATION = (
    "Customer: my parcel arrived with a cracked screen\n"
    "Agent: sorry to hear that, I have booked a free return for you\n"
    "Customer: thanks, I'll drop it at the post office tomorrow"
)


def _ask(context: AppContext, text: str, **kwargs: Any) -> tuple[list[Any], Any]:
    events = list(Assistant(context).ask(text, **kwargs))
    assert isinstance(events[-1], Done)
    return events, events[-1].answer


@pytest.fixture
def default_context(demo_pack: Any, embedder: Any) -> AppContext:
    paths = Paths.from_env()
    return AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)


def test_by_default_a_reply_is_the_sources_sentences_and_no_model_writes_it(
    default_context: AppContext,
) -> None:
    assert default_context.settings.get("generation.replies") is False
    events, answer = _ask(default_context, QUESTION)
    assert answer.status == "answered" and answer.mode == "extractive"
    assert not [e for e in events if isinstance(e, Token)]
    assert all(s.verdict == "supported" and s.citations for s in answer.sentences)
    assert answer.sources[0].source.startswith("delivery-returns/")


def test_the_model_still_writes_the_wrap_up(default_context: AppContext) -> None:
    events, answer = _ask(default_context, CONVERSATION, task="wrapup")
    assert [e for e in events if isinstance(e, Token)]  # the model wrote it
    assert answer.task == "wrapup" and answer.draft


def test_with_the_setting_on_the_model_writes_the_reply(default_context: AppContext) -> None:
    default_context.settings.set("generation.replies", True)
    default_context.settings.set("answer.min_supported", 0.0)  # keep what it wrote
    events, answer = _ask(default_context, QUESTION)
    assert answer.mode == "model" and [e for e in events if isinstance(e, Token)]
