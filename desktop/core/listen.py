"""The "second pair of ears": what does the customer need, from the conversation so far?

The agent types or pastes the live conversation (``Customer: ...`` / ``Agent: ...`` lines, or
unlabelled text), read by :mod:`desktop.core.conversation`. The latest customer turns say what is
needed now, so they become the search query; older turns and the agent's own lines would only
dilute it. Everything here is plain text in, plain data out: the window runs the search on a
worker thread.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.conversation import AGENT, CUSTOMER, UNKNOWN, Turn, turns
from desktop.core.errors import UserError

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.core.knowledge.index import Hit, Pack
    from desktop.core.sensitive import Detection, SensitiveDetector

MAX_QUERY_CHARS = 600
ENOUGH_WORDS = 6  # a latest turn shorter than this is read with the one before
MAX_TURNS = 3
SUGGESTIONS = 5  # suggested articles: one per article
OVERRIDES_FILE = "not_sensitive.jsonl"


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


def customer_said(conversation: str) -> str:
    """Everything the customer said: the customer's turns and unlabelled text, never the agent's.

    This, and only this, is what may route a conversation to a person: an agent explaining "I can
    see charges from before your plan started" is not a customer reporting fraud.
    """
    return "\n".join(t.text for t in turns(conversation) if t.speaker != AGENT)


def route(detector: SensitiveDetector, conversation: str) -> Detection | None:
    """The sensitive topic the customer's words raise in *conversation*, or None.

    Each customer turn is checked on its own (the most urgent topic found wins): a sentence is
    compared with its neighbours in the same turn, never glued to an unrelated one from minutes
    before (which raised false routes: "Oh right, I forgot about the trial." after "a payment I
    don't recognise"). The detector caches what it has seen, so older turns cost little.
    """
    from desktop.core.sensitive import PRIORITY

    theirs = [t.text for t in turns(conversation) if t.speaker != AGENT]
    found = [d for d in map(detector.detect, reversed(theirs)) if d is not None]
    rank = {name: i for i, name in enumerate(PRIORITY)}
    return min(found, key=lambda d: rank.get(d.topic.name, len(PRIORITY)), default=None)


@dataclass
class Suggestion:
    """What the listen panel shows for a conversation: the need, its articles and any route."""

    need: Need
    hits: list[Hit] = field(default_factory=list)
    detection: Detection | None = None

    def to_json(self) -> dict[str, Any]:
        found = self.detection
        return {
            "need": self.need.query,
            "articles": [{"n": n, **h.to_json()} for n, h in enumerate(self.hits, start=1)],
            "route": None
            if found is None
            else {"topic": found.topic.name, "label": found.topic.label, "reason": found.reason},
        }


def suggest(
    context: AppContext, conversation: str, packs: Sequence[Pack] | None = None
) -> Suggestion:
    """The need, suggested articles and any route for *conversation*: what the listen panel
    shows at each pause and what ``deskmate listen --text`` prints, computed the same way."""
    from desktop.core.knowledge.search import one_per_article, options_from_settings, search

    need = customer_need(conversation)
    detection = route(context.sensitive_detector(), conversation)
    hits: list[Hit] = []
    if not need.empty:
        chosen = context.packs() if packs is None else packs
        options = options_from_settings(context.settings)
        hits = one_per_article(search(chosen, context.embedder, need.query, options), SUGGESTIONS)
    return Suggestion(need, hits, detection)


def customer_prefixes(conversation: str) -> list[str]:
    """The conversation as it stood after each of the customer's turns (unlabelled text counts
    as the customer's), as labelled text: what the panel saw at each of those moments."""
    out: list[str] = []
    lines: list[str] = []
    for turn in turns(conversation):
        label = "Agent" if turn.speaker == AGENT else "Customer"
        lines.append(f"{label}: {turn.text}")
        if turn.speaker != AGENT:
            out.append("\n".join(lines))
    return out


def record_not_sensitive(data_dir: Path, topic: str, action: str) -> dict[str, str]:
    """Record, content-free, that the agent said a case is not *topic* (the time, the topic and
    what they went on to do), appended and fsynced to the data folder; returns the entry."""
    from desktop.core.feedback import append_line

    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "topic": topic,
        "action": action,
    }
    path = data_dir / OVERRIDES_FILE
    try:
        append_line(path, json.dumps(entry))
    except OSError as err:
        raise UserError(
            f"Could not record your choice in {path}: {err}.",
            "Check that you may write to that folder.",
        ) from err
    return entry
