"""A pasted or typed conversation, read one way for every feature that reads it.

The listen panel (what does the customer need now?), the wrap-up note (why did they call, what
was done?) and the sensitive-case check all take the same text, so they must agree on who said
what. Lines start with a speaker label (``Customer:``, ``Agent:``, ``Rep:``, ``You:`` ...);
unlabelled lines continue the turn before them, and text before any label is "unknown".

"You" and "Me" are the agent: the text is the agent's own transcript, written from their side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CUSTOMER = "customer"
AGENT = "agent"
UNKNOWN = "unknown"
ROLES = (CUSTOMER, AGENT, UNKNOWN)

# Label (lower case) -> role. Anything else before a colon ("Note:", "Order:") is text.
SPEAKERS = {
    **dict.fromkeys(("customer", "caller", "client", "user", "cust", "c"), CUSTOMER),
    **dict.fromkeys(
        ("agent", "advisor", "adviser", "rep", "representative", "me", "you", "a"), AGENT
    ),
}
_LABEL = re.compile(r"^\s*([A-Za-z][\w .'-]{0,30}?)\s*:\s*(.*)$")


@dataclass(frozen=True)
class Turn:
    speaker: str  # one of ROLES
    text: str


def speaker_of(label: str) -> str:
    """The role a speaker label stands for ("" when it is not a speaker label)."""
    return SPEAKERS.get(label.strip().lower(), "")


def turns(conversation: str) -> list[Turn]:
    """The conversation split into turns; unlabelled lines continue the previous turn.

    Linear in the text: a turn's lines are collected and joined once (appending each line to
    the turn's text so far made a pasted log of 100,000 lines take minutes).
    """
    parts: list[tuple[str, list[str]]] = []
    for raw in conversation.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LABEL.match(line)
        role = speaker_of(match.group(1)) if match else ""
        if match and role:
            parts.append((role, [match.group(2).strip()]))
        elif parts:
            parts[-1][1].append(line)
        else:
            parts.append((UNKNOWN, [line]))
    out = [Turn(role, " ".join(line for line in lines if line)) for role, lines in parts]
    return [turn for turn in out if turn.text]
