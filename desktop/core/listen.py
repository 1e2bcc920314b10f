"""The "second pair of ears": what does the customer need, from the conversation so far?

The agent types or pastes the live conversation (``Customer: ...`` / ``Agent: ...`` lines, or
unlabelled text). The latest customer turns say what is needed now, so they become the search
query; older turns and the agent's own lines would only dilute it. Everything here is plain text
in, plain data out: the window runs the search on a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEAKER = re.compile(r"^\s*([A-Za-z][\w .'-]{0,30}?)\s*:\s*(.*)$")
CUSTOMER = frozenset({"customer", "caller", "client", "user", "cust", "c"})
AGENT = frozenset({"agent", "advisor", "adviser", "me", "rep", "a", "you"})
MAX_QUERY_CHARS = 600
ENOUGH_WORDS = 6  # a latest turn shorter than this is read with the one before
MAX_TURNS = 3


@dataclass(frozen=True)
class Turn:
    speaker: str  # "customer" | "agent" | "unknown"
    text: str


@dataclass(frozen=True)
class Need:
    """What to search for, and which turns it came from (shown to the agent as the reason)."""

    query: str
    turns: tuple[Turn, ...]

    @property
    def empty(self) -> bool:
        return not self.query


def turns(conversation: str) -> list[Turn]:
    """The conversation split into turns; unlabelled lines continue the previous turn."""
    out: list[Turn] = []
    for raw in conversation.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _SPEAKER.match(line)
        who = match.group(1).strip().lower() if match else ""
        if match and (who in CUSTOMER or who in AGENT):
            speaker = "customer" if who in CUSTOMER else "agent"
            out.append(Turn(speaker, match.group(2).strip()))
        elif out:
            out[-1] = Turn(out[-1].speaker, f"{out[-1].text} {line}".strip())
        else:
            out.append(Turn("unknown", line))
    return [turn for turn in out if turn.text]


def customer_need(conversation: str, enough_words: int = ENOUGH_WORDS) -> Need:
    """The search query for what the customer needs now: their latest turn.

    A short latest turn ("yes, that one", "and how long?") is read together with the turns
    before it, up to about *enough_words* words. With no labelled customer turns, the latest
    lines of whatever was pasted are used the same way.
    """
    all_turns = turns(conversation)
    theirs = [t for t in all_turns if t.speaker == "customer"]
    if not theirs:
        theirs = [t for t in all_turns if t.speaker == "unknown"]
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
