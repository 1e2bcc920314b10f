"""Guards around a model's stream: stop a draft that loops, or that runs past its time budget.

A small model sometimes falls into a loop ("the the the", or the same sentence over and over)
and would stream nonsense until its token limit; a slow machine can take minutes over one draft.
:func:`guarded` wraps the stream where it is consumed: it passes the pieces through, and ends the
stream (closing it, so the engine stops decoding) when the text starts repeating itself or when
the time budget is spent. What ended it is left in :attr:`Guard.reason`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

NGRAM = 4  # words in the phrase whose repetition counts as a loop
REPEATS = 4  # the same phrase this often among the latest words is a loop
WINDOW_WORDS = 48  # the latest words looked at
MIN_CYCLE_CHARS = 8  # a repeated tail at least this long ...
CYCLES = 4  # ... repeated this often back to back is a loop (also without spaces)
REPETITION = "repetition"
TIME_BUDGET = "time_budget"


def repeating(text: str) -> bool:
    """Whether the end of *text* is a loop: a word n-gram repeated REPEATS times among the latest
    WINDOW_WORDS words, or the last characters cycling (the same stretch back to back)."""
    words = re.findall(r"\w+", text.lower())[-WINDOW_WORDS:]
    if len(words) >= NGRAM * REPEATS:
        counts: dict[tuple[str, ...], int] = {}
        for i in range(len(words) - NGRAM + 1):
            gram = tuple(words[i : i + NGRAM])
            counts[gram] = counts.get(gram, 0) + 1
            if counts[gram] >= (REPEATS if len(set(gram)) > 1 else REPEATS * 2):
                return True
    return _cycling(text[-400:])


def _cycling(tail: str) -> bool:
    """The last characters are one stretch repeated back to back, at least CYCLES times and over
    at least 2 * MIN_CYCLE_CHARS characters (e.g. "!!!!!!!!..." or "abcabcabc...")."""
    compact = "".join(tail.split())
    for size in range(1, len(compact) // CYCLES + 1):
        needed = max(CYCLES * size, MIN_CYCLE_CHARS * 2)
        if len(compact) < needed:
            break
        unit = compact[-size:]
        if compact[-needed:] == (unit * (needed // size + 1))[-needed:]:
            return True
    return False


class Guard:
    """Passes a stream's pieces through until it loops or its *budget_s* seconds are spent."""

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.reason = ""  # REPETITION or TIME_BUDGET once the guard ended the stream
        self.elapsed_s = 0.0

    def guarded(self, pieces: Iterator[str]) -> Iterator[str]:
        started = self.clock()
        text = ""
        try:
            for piece in pieces:
                self.elapsed_s = self.clock() - started
                if self.budget_s > 0 and self.elapsed_s > self.budget_s:
                    self.reason = TIME_BUDGET
                    return
                text += piece
                if repeating(text):
                    self.reason = REPETITION
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # the engine stops decoding and records its statistics

    def message(self) -> str:
        """What the agent is told about how the guard ended the draft ("" if it did not)."""
        if self.reason == TIME_BUDGET:
            return f"Stopped after {self.budget_s:g} s: check before sending."
        if self.reason == REPETITION:
            return "The model started repeating itself, so it was stopped."
        return ""
