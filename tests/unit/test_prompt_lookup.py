"""Prompt-lookup decoding: the draft finder, the text cutter, the same reply from a real GGUF."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from desktop.core.generation.lookup import TextStream, find_draft

# --- the draft finder (no model) ----------------------------------------------------------------


def test_draft_continues_the_longest_matching_ngram() -> None:
    # "1 2 3" occurs once (followed by 4 5); "3" alone occurs later (followed by 9).
    history = [1, 2, 3, 4, 5, 6, 3, 9, 9, 1, 2, 3]
    assert find_draft(history, length=2, max_ngram=3) == [4, 5]
    # Limited to 1-grams, the latest "3" wins.
    assert find_draft(history, length=2, max_ngram=1) == [9, 9]


def test_draft_takes_the_latest_occurrence_and_respects_length() -> None:
    history = [7, 8, 1, 2, 7, 8, 3, 4, 5, 6, 7, 8]
    assert find_draft(history, length=3, max_ngram=2) == [3, 4, 5]
    assert find_draft(history, length=1, max_ngram=2) == [3]
    assert find_draft(history, length=0) == []


def test_no_draft_without_an_earlier_occurrence() -> None:
    assert find_draft([1, 2, 3, 4], length=4) == []
    assert find_draft([5], length=4) == []
    # A 2-gram is required: the last token alone occurs earlier, the pair does not.
    assert find_draft([1, 2, 3, 9, 3], length=2, max_ngram=2, min_ngram=2) == []
    assert find_draft([1, 2, 3, 9, 3], length=2, max_ngram=2, min_ngram=1) == [9, 3]


# --- the text cutter (a fake detokenizer: one byte string per token id) -------------------------


class _Bytes:
    def __init__(self, pieces: dict[int, bytes]) -> None:
        self.pieces = pieces

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)


def _pieces(pieces: dict[int, bytes], tokens: list[int], stops: list[str]) -> tuple[list[str], str]:
    text = TextStream(_Bytes(pieces), stops)
    out = []
    for token in tokens:
        out.append(text.push(token))
        if text.stopped:
            return out, "".join(out)
    out.append(text.finish())
    return out, "".join(out)


def test_text_ends_before_a_stop_word_split_over_tokens_and_never_shows_it() -> None:
    pieces = {1: b"Go to Orders", 2: b" </sou", 3: b"rce> more", 4: b" tail"}
    out, text = _pieces(pieces, [1, 2, 3, 4], ["</source>"])
    assert text == "Go to Orders "
    assert out[1] == " "  # "</sou" was held back: it may begin the stop word
    assert all("<" not in piece for piece in out)


def test_held_back_text_is_released_when_it_is_not_a_stop_word() -> None:
    pieces = {1: b"a </", 2: b"b> c"}
    out, text = _pieces(pieces, [1, 2], ["</source>"])
    assert out[0] == "a " and text == "a </b> c"


def test_a_cut_utf8_character_waits_for_its_last_byte() -> None:
    euro = "€".encode()
    pieces = {1: b"5 " + euro[:2], 2: euro[2:] + b" fee"}
    out, text = _pieces(pieces, [1, 2], [])
    assert out[0] == "5 " and text == "5 € fee"


# --- a real GGUF (SmolLM2) ---------------------------------------------------------------------

# Short enough that every key/value fits llama.cpp's first 256-cell KV block: there, a batched
# decode gives bit-identical logits to one-token decodes on this build, so the replies must be
# identical token for token (beyond it the CPU kernels round differently; see the benchmark).
COPY = [
    {
        "role": "user",
        "content": "Repeat exactly: To return a damaged item, open Orders, choose the order, "
        "select Return item and print the free label. Refunds reach your card within 5 working "
        "days.",
    },
]


@pytest.fixture
def engines(smollm2_path: Path) -> Any:
    from desktop.core.generation.engine import LlamaEngine

    # Two fresh engines: the same seed sequence, the same empty cache.
    plain, lookup = LlamaEngine(smollm2_path, threads=2), LlamaEngine(smollm2_path, threads=2)
    yield plain, lookup
    for engine in (plain, lookup):
        engine._llama.close()


def _reply(engine: Any, lookup: bool, **kwargs: Any) -> str:
    return "".join(engine.stream(COPY, prompt_lookup=lookup, **kwargs))


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [0.0, 0.2])
def test_lookup_writes_the_plain_paths_reply_with_fewer_passes(engines: Any, temperature: float):
    plain, lookup = engines
    for _ in range(2):  # the second request reuses the cached prefix
        expected = _reply(plain, False, max_tokens=40, temperature=temperature)
        got = _reply(lookup, True, max_tokens=40, temperature=temperature)
        assert got == expected and len(expected) > 40
        stats = lookup.last_stats
        assert plain.last_stats.drafted == 0
        # Drafts were checked and many were right: fewer passes than tokens.
        assert stats.accepted >= 10
        tokens = plain._llama.input_ids[: plain._llama.n_tokens].tolist()
        looked = lookup._llama.input_ids[: len(tokens)].tolist()
        assert looked == tokens  # token for token, prompt and reply


@pytest.mark.slow
def test_lookup_honours_stop_words_max_tokens_and_the_stop_event(engines: Any) -> None:
    plain, lookup = engines
    full = _reply(plain, False, max_tokens=40, temperature=0.0)
    word = full.split()[6]
    cut = _reply(lookup, True, max_tokens=40, temperature=0.0, stop_words=[word])
    assert cut == full[: full.index(word)] and word not in cut

    _reply(lookup, True, max_tokens=7, temperature=0.0)
    assert lookup.last_stats.completion_tokens == 7

    stop = threading.Event()
    pieces = []
    for piece in lookup.stream(COPY, max_tokens=40, temperature=0.0, stop=stop, prompt_lookup=True):
        pieces.append(piece)
        stop.set()
    assert len(pieces) == 1 and lookup.last_stats.completion_tokens < 20


@pytest.mark.slow
def test_the_setting_chooses_the_path(context) -> None:  # type: ignore[no-untyped-def]
    from desktop.core.assist import Assistant

    question = "How do I return a damaged item?"
    drafted = {}
    for enabled in (False, True):
        context.settings.set("generation.prompt_lookup", enabled)
        list(Assistant(context).ask(question))
        drafted[enabled] = context.load_model().last_stats.drafted
    assert drafted[False] == 0 and drafted[True] > 0
