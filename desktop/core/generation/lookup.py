"""Prompt-lookup speculative decoding: several reply tokens per pass over the model's weights.

A grounded reply copies much of its wording from the passages in its prompt. After each token,
the last few tokens of the prompt + reply are looked up in that same text; the tokens that
followed their latest earlier occurrence are a guess (the draft) for what comes next. The last
sampled token and the draft go through ONE batched ``llama_decode`` with logits requested for
every position of that batch only (llama-cpp-python's own ``LlamaPromptLookupDecoding`` needs
``logits_all=True``, which also computes and copies logits for every prompt token, and was
slower than no lookup at all). On CPU a decode is bound by reading the weights, so a batch of
a few tokens costs little more than one.

Verification uses the plain path's own llama.cpp sampler chain (repeat penalty, top-k/top-p/
min-p, temperature or greedy), seeded as ``Llama.create_completion`` seeds it: at each batch
position the chain samples the model's real next token, exactly as one-token-at-a-time decoding
would from the same context; a draft token is kept only while it equals that sample, and the
first sample that differs is kept too (the token the pass yields for free). So every token is the
one the plain path samples, for greedy decoding and with temperature alike: a draft only decides
how much is computed in one pass, never what is written. (Batched and single-token matrix
products may round differently in the last bits; see benchmarks/prompt_lookup.py.)

The prompt's evaluated prefix is reused from the previous request (the fixed instructions and
worked example) exactly as ``Llama.generate`` does, and the model's token bookkeeping
(``input_ids``, ``n_tokens``) is kept, so the plain path and this one share that cache.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DRAFT_LENGTH = 8
MAX_NGRAM = 3
MIN_NGRAM = 1


def find_draft(
    history: npt.NDArray[np.intc] | Sequence[int],
    *,
    length: int = DRAFT_LENGTH,
    max_ngram: int = MAX_NGRAM,
    min_ngram: int = MIN_NGRAM,
) -> list[int]:
    """Up to *length* tokens that followed the latest earlier occurrence of the longest n-gram
    (*max_ngram* down to *min_ngram* tokens) that ends *history*; [] when none occurs."""
    tokens = np.asarray(history)
    if length <= 0 or len(tokens) < 2:
        return []
    # Start positions whose token equals the last one, with at least one token after the n-gram.
    ends = np.flatnonzero(tokens[:-1] == tokens[-1])
    for n in range(min(max_ngram, len(tokens) - 1), min_ngram - 1, -1):
        starts = ends[ends >= n - 1] - (n - 1)
        for offset in range(n - 1):  # the earlier tokens of the n-gram must match too
            if not len(starts):
                break
            starts = starts[tokens[starts + offset] == tokens[len(tokens) - n + offset]]
        if len(starts):
            after = int(starts[-1]) + n
            return [int(t) for t in tokens[after : after + length]]
    return []


@dataclass
class LookupStats:
    """What one generation's drafts achieved."""

    tokens: int = 0  # reply tokens produced
    passes: int = 0  # batched decodes after the prompt
    drafted: int = 0  # draft tokens sent to the model
    accepted: int = 0  # draft tokens the model agreed with

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


class LookupDecoder:
    """Token generation for one ``llama_cpp.Llama`` with prompt-lookup drafts.

    Sampling parameters are the plain path's (``LlamaEngine.stream``); call ``generate`` while
    holding the engine's lock.
    """

    def __init__(
        self,
        llama: Any,
        *,
        draft_length: int | None = None,
        max_ngram: int | None = None,
        min_ngram: int | None = None,
    ) -> None:
        from llama_cpp import _internals

        self._llama = llama
        self.draft_length = DRAFT_LENGTH if draft_length is None else draft_length
        self.max_ngram = MAX_NGRAM if max_ngram is None else max_ngram
        self.min_ngram = MIN_NGRAM if min_ngram is None else min_ngram
        self._batch: Any = _internals.LlamaBatch(
            n_tokens=self.draft_length + 1, embd=0, n_seq_max=1, verbose=False
        )
        self.stats = LookupStats()

    def close(self) -> None:
        self._batch.close()

    def generate(
        self,
        prompt: list[int],
        *,
        max_tokens: int,
        sampling: dict[str, Any],
        stop: threading.Event | None = None,
    ) -> Generator[int, None, None]:
        """The reply's tokens (end-of-generation excluded), at most *max_tokens*; stops early
        when *stop* is set. *sampling*: ``Llama._init_sampler`` keyword arguments."""
        import llama_cpp

        llama = self._llama
        # create_completion's seeding, so sampling with temperature draws what the plain path does
        llama.set_seed(random.Random(llama._seed).randint(0, 2**32))
        sampler = llama._init_sampler(**sampling)
        self._prefill(prompt)
        pending = [int(sampler.sample(llama._ctx, -1))]  # sampled; the last one is not in the cache
        produced = 0
        while True:
            for token in pending:
                if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                    return
                yield token
                produced += 1
                if produced >= max_tokens or (stop is not None and stop.is_set()):
                    return
            pending = self._step(sampler, pending[-1], max_tokens - produced)

    def _prefill(self, prompt: list[int]) -> None:
        """Evaluate *prompt*, reusing the longest prefix already in the cache (as
        ``Llama.generate`` does; at least one token is evaluated, for fresh logits)."""
        llama = self._llama
        cached = llama.input_ids[: llama.n_tokens].tolist()
        common = llama.longest_token_prefix(cached, prompt)
        reuse = common - 1 if common == len(prompt) else common
        if reuse > 0 and llama._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llama.n_tokens = reuse
        else:
            llama.reset()
        llama.eval(prompt[llama.n_tokens :])

    def _step(self, sampler: Any, last: int, remaining: int) -> list[int]:
        """Decode *last* and a draft in one batch; the tokens the model samples from it."""
        llama = self._llama
        n_past = llama.n_tokens
        # The bonus token counts too; the batch must fit the context.
        room = min(self.draft_length, remaining - 1, llama.n_ctx() - n_past - 1)
        draft = self._draft(last, room) if room > 0 else []
        batch = [last, *draft]
        self._batch.set_batch(batch, n_past=n_past, logits_all=True)
        llama._ctx.decode(self._batch)
        llama.input_ids[n_past : n_past + len(batch)] = batch
        llama._requires_eval = True  # these logits are not the last prompt token's
        sampled: list[int] = []
        for index, guess in enumerate([*draft, None]):
            sampled.append(int(sampler.sample(llama._ctx, index)))
            if sampled[-1] != guess:
                break
        kept = n_past + len(sampled)  # *last* and the accepted drafts
        if kept < n_past + len(batch):
            llama._ctx.kv_cache_seq_rm(-1, kept, -1)
        llama.n_tokens = kept
        self.stats.passes += 1
        self.stats.drafted += len(draft)
        self.stats.accepted += len(sampled) - 1
        return sampled

    def _draft(self, last: int, room: int) -> list[int]:
        llama = self._llama
        history = np.append(llama.input_ids[: llama.n_tokens], np.intc(last))
        return find_draft(history, length=room, max_ngram=self.max_ngram, min_ngram=self.min_ngram)


class TextStream:
    """Reply tokens to text pieces, as ``Llama.create_completion(stream=True)`` cuts them:
    the text ends before the first stop word, and nothing is yielded that may still turn out
    to be the start of a stop word or is an incomplete UTF-8 character."""

    def __init__(self, llama: Any, stop_words: Sequence[str]) -> None:
        self._llama = llama
        self._stops = [s.encode("utf-8") for s in stop_words if s]
        self._tokens: list[int] = []
        self._sent = 0  # bytes yielded
        self.stopped = False  # a stop word ended the text

    def push(self, token: int) -> str:
        """The text that *token* makes safe to show (may be "")."""
        self._tokens.append(token)
        text = self._llama.detokenize(self._tokens)
        found = [text.index(s) for s in self._stops if s in text]
        if found:
            self.stopped = True
            return self._send(text, min(found))
        rest = text[self._sent :]
        hold = max((_partial_stop(rest, s) for s in self._stops), default=0)
        return self._send(text, _complete_utf8(text, len(text) - hold))

    def finish(self) -> str:
        """What is left once generation has ended (not after a stop word)."""
        text = self._llama.detokenize(self._tokens)
        return self._send(text, len(text))

    def _send(self, text: bytes, end: int) -> str:
        piece = text[self._sent : end]
        self._sent = max(self._sent, end)
        return piece.decode("utf-8", errors="ignore")


def _partial_stop(rest: bytes, stop: bytes) -> int:
    """Length of the longest end of *rest* that begins *stop*."""
    for size in range(min(len(stop), len(rest)), 0, -1):
        if rest.endswith(stop[:size]):
            return size
    return 0


def _complete_utf8(text: bytes, end: int) -> int:
    """*end* moved back before a UTF-8 character that is cut off at *end*."""
    for back in range(1, min(4, end) + 1):
        byte = text[end - back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII)
            needed = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return end if needed <= back else end - back
    return end
