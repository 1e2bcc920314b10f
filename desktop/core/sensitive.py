"""Sensitive cases: recognise them and route them to a person instead of drafting.

The company defines each case in its knowledge: a document whose metadata says
``sensitive: <topic>`` states the rule (a paragraph starting "Rule:"), lists example messages
under a "How to recognise it" heading and may list ``triggers`` (phrases that identify the case
on their own). Machine policy can add topics of its own (see :func:`policy_topics`).

A message is sensitive when it contains a trigger phrase, or when one of its sentences is close in
meaning to one of the examples *and* clearly closer to it than to any ordinary passage of the
installed packs (the packs' own chunk vectors are the counter-examples). An absolute similarity
threshold alone flags ordinary messages that merely share a shape with an example; the contrast
with ordinary content is what keeps "my parcel never arrived" apart from "my dad never woke up".
Floor and margin were calibrated on benchmarks/data/grounding_questions.jsonl (see
benchmarks/grounding.py). Detection runs before retrieval and before any model is called.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core import policy
from desktop.core.fileio import parse_json
from desktop.core.generation import verify
from desktop.core.knowledge.search import sql_quote

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import Hit, Pack

SIMILARITY_FLOOR = 0.45  # a sentence must be at least this close to a sensitive example...
MARGIN = 0.10  # ...and this much closer to it than to the nearest ordinary passage
MAX_SENTENCES = 40  # the latest part of a long conversation is what matters
# When a message matches several topics, the most urgent one decides where it goes.
PRIORITY = ("self_harm", "domestic_abuse", "fraud", "bereavement", "vulnerable", "legal_threat")
_RULE = re.compile(r"Rule:\s*(.+?)(?:\n\s*\n|\Z)", re.S)
_BULLET = re.compile(r"^\s*[-*•]\s+(.+)$", re.M)
_QUOTED = re.compile(r"[\"“]([^\"”]{6,})[\"”]")


@dataclass(frozen=True)
class Topic:
    """One kind of sensitive case and how the company handles it."""

    name: str
    rule: str
    triggers: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    pack: str = ""
    source: str = ""
    title: str = ""
    rule_start: int = 0
    rule_end: int = 0

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Detection:
    """Why a message was judged sensitive."""

    topic: Topic
    reason: str
    score: float


def _section(pack: Pack, source: str, text: str, heading: str) -> str:
    """The text under *heading* (up to the next heading of the same or a higher level)."""
    headings = pack.document_headings(source)
    for index, (level, title, start) in enumerate(headings):
        if title.lower() == heading.lower():
            end = next((s for lv, _, s in headings[index + 1 :] if lv <= level), len(text))
            return text[start:end]
    return ""


def topic_from_document(pack: Pack, source: str, meta: dict[str, Any]) -> Topic | None:
    name = str(meta.get("sensitive") or "").strip()
    if not name:
        return None
    text = pack.document_text(source)
    rule = _RULE.search(text)
    section = _section(pack, source, text, "How to recognise it")
    examples = tuple(quote for line in _BULLET.findall(section) for quote in _QUOTED.findall(line))
    return Topic(
        name=name,
        rule=" ".join(rule.group(0).split()) if rule else "",
        triggers=_triggers(meta.get("triggers")),
        examples=examples,
        pack=pack.id,
        source=source,
        title=str(meta.get("title") or source),
        rule_start=rule.start() if rule else 0,
        rule_end=rule.start(1) + len(rule.group(1)) if rule else 0,
    )


def pack_topics(packs: Sequence[Pack]) -> list[Topic]:
    topics = []
    for pack in packs:
        for source, meta in pack.documents_meta():
            topic = topic_from_document(pack, source, meta)
            if topic is not None:
                topics.append(topic)
    return topics


def policy_topics(policy_file: Path) -> list[Topic]:
    """Topics IT adds in the policy file's ``sensitive_topics`` section.

    Only the valid parts are used (see :mod:`desktop.core.policy`); the settings report the
    rest, and an unreadable policy file, so ``deskmate doctor`` names them.
    """
    try:
        data = parse_json(policy_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        Topic(
            name=spec.name,
            rule=spec.rule,
            triggers=_triggers(spec.triggers),
            examples=spec.examples,
            title="Machine policy",
        )
        for spec in policy.sensitive_topics(data, policy_file)[0]
    ]


def _triggers(triggers: object) -> tuple[str, ...]:
    """Trigger phrases as they are matched; one that would match nearly anything is dropped."""
    if isinstance(triggers, str):
        triggers = [triggers]
    if not isinstance(triggers, (list, tuple)):
        return ()
    phrases = [_normalise(str(trigger)) for trigger in triggers]
    return tuple(phrase for phrase in phrases if policy.usable_trigger(phrase))


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("‘", "'").split())


class SensitiveDetector:
    """Finds the sensitive topic of a message, if any."""

    def __init__(
        self,
        topics: Sequence[Topic],
        embedder: Embedder | None,
        packs: Sequence[Pack] = (),
        floor: float = SIMILARITY_FLOOR,
        margin: float = MARGIN,
    ) -> None:
        self.topics = list(topics)
        self.embedder = embedder
        self.packs = list(packs)
        self.floor = floor
        self.margin = margin
        sources = sorted({t.source for t in self.topics if t.source})
        quoted = ", ".join(sql_quote(source) for source in sources)
        self._ordinary_where = f"source NOT IN ({quoted})" if sources else None
        self._examples = [(t, e) for t in self.topics for e in t.examples]
        self._matrix: Any = None

    def _example_vectors(self) -> Any:
        if self._matrix is None and self.embedder is not None and self._examples:
            self._matrix = self.embedder.embed([e for _, e in self._examples])
        return self._matrix

    def detect(self, text: str) -> Detection | None:
        found = [d for d in (*self._by_trigger(text), *self._by_meaning(text)) if d]
        if not found:
            return None
        rank = {name: i for i, name in enumerate(PRIORITY)}
        return min(found, key=lambda d: (rank.get(d.topic.name, len(PRIORITY)), -d.score))

    def _by_trigger(self, text: str) -> list[Detection]:
        normalised = _normalise(text)
        found = []
        for topic in self.topics:
            for trigger in topic.triggers:
                if re.search(rf"(?<!\w){re.escape(trigger)}(?!\w)", normalised):
                    found.append(Detection(topic, f'the message says "{trigger}"', 1.0))
                    break
        return found

    def _by_meaning(self, text: str) -> list[Detection]:
        matrix = self._example_vectors()
        if matrix is None:
            return []
        sentences = [s for s in verify.split_sentences(text) if len(s.split()) >= 3]
        sentences = sentences[-MAX_SENTENCES:]
        if not sentences:
            return []
        vectors = self.embedder.embed(sentences)  # type: ignore[union-attr]
        scores = vectors @ matrix.T
        best: dict[str, Detection] = {}
        for row, sentence in enumerate(sentences):
            column = int(scores[row].argmax())
            score = float(scores[row, column])
            topic, example = self._examples[column]
            if score < self.floor or score <= getattr(best.get(topic.name), "score", 0):
                continue
            if score - self._ordinary_similarity(vectors[row]) >= self.margin:
                best[topic.name] = Detection(
                    topic, f'"{sentence.strip()}" is like "{example}" ({score:.2f})', score
                )
        return list(best.values())

    def _ordinary_similarity(self, vector: Any) -> float:
        """Similarity of the nearest passage that is not a sensitive-case article."""
        best = 0.0
        for pack in self.packs:
            rows = pack.vector_search(vector, 1, self._ordinary_where)
            if rows:
                best = max(best, 1.0 - float(rows[0]["_distance"]))
        return best


def handling_hit(topic: Topic) -> Hit | None:
    """The company's rule passage as a search hit, for the source pane."""
    from desktop.core.knowledge.index import Hit

    if not topic.source:
        return None
    return Hit(
        topic.pack,
        topic.source,
        topic.title,
        "Rule",
        topic.rule_start,
        topic.rule_end,
        topic.rule,
        1.0,
        "sensitive",
    )
