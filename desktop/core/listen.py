"""The "second pair of ears": what does the customer need, from the conversation so far?

The agent types or pastes the live conversation (``Customer: ...`` / ``Agent: ...`` lines, or
unlabelled text), read by :mod:`desktop.core.conversation`. The latest customer turns say what is
needed now, so they become the search query; older turns and the agent's own lines would only
dilute it. Everything here is plain text in, plain data out: the window runs the search on a
worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop.core.conversation import CUSTOMER, UNKNOWN, Turn, turns

MAX_QUERY_CHARS = 600
ENOUGH_WORDS = 6  # a latest turn shorter than this is read with the one before
MAX_TURNS = 3


@dataclass(frozen=True)
class Need:
    """What to search for, and which turns it came from (shown to the agent as the reason)."""

    query: str
    turns: tuple[Turn, ...]

    @property
    def empty(self) -> bool:
        return not self.query


def customer_need(conversation: str, enough_words: int = ENOUGH_WORDS) -> Need:
    """The search query for what the customer needs now: their latest turn.

    A short latest turn ("yes, that one", "and how long?") is read together with the turns
    before it, up to about *enough_words* words. With no labelled customer turns, the latest
    lines of whatever was pasted are used the same way.
    """
    all_turns = turns(conversation)
    theirs = [t for t in all_turns if t.speaker == CUSTOMER]
    if not theirs:
        theirs = [t for t in all_turns if t.speaker == UNKNOWN]
    chosen: list[Turn] = []
    words = 0
    for turn in reversed(theirs[-MAX_TURNS:]):
        chosen.insert(0, turn)
        words += len(re.findall(r"\w+", turn.text))
        if words >= enough_words:
            break
    query = " ".join(t.text for t in chosen)
    if len(query) > MAX_QUERY_CHARS:
        query = query[-MAX_QUERY_CHARS:].split(" ", 1)[-1]
    return Need(query.strip(), tuple(chosen))
