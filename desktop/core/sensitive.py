"""Sensitive cases: recognise them and route them to a person instead of drafting.

Three layers define the cases, merged by topic name (:func:`merge_topics`):

* **built in** (``resources/safety/topics.yaml``): self-harm, domestic abuse, bereavement, fraud,
  legal threats, minors, vulnerable customers and insider misuse, each with a default rule,
  trigger phrases, patterns (regular expressions for common indirect wordings) and example
  messages, plus ordinary messages that serve as counter-examples. They hold with any knowledge,
  or none;
* **the company's knowledge**: a document whose metadata says ``sensitive: <topic>`` states the
  rule (a paragraph starting "Rule:"), lists example messages under a "How to recognise it"
  heading and may list ``triggers``. It adds a topic, or replaces a built-in topic's rule with the
  company's own and adds its triggers and examples;
* **machine policy** (``sensitive_topics``, see :mod:`desktop.core.policy`): the same, and the
  only way to switch a built-in topic off (``{"minor": {"disabled": true}}``), which
  ``deskmate doctor`` reports.

A message is sensitive when it contains a trigger phrase or matches a pattern, or when one of its
sentences is close in meaning to one of the examples *and* clearly closer to it than to any
ordinary text: the installed packs' passages and the built-in ordinary messages. An absolute
similarity threshold alone flags ordinary messages that merely share a shape with an example; the
contrast with ordinary content is what keeps "my parcel never arrived" apart from "my dad never
woke up". A phrase or pattern match is more specific than a likeness, so it decides the topic
when there is one. Sentences are scored alone, in pairs of neighbours (a case is often said
across two) and, for a short message, all together.

The built-in topics also have a classifier (``resources/safety/classifier.json``, trained by
scripts/train-sensitive.py): a logistic regression on the sentence vector computed anyway (a dot
product). It learned each topic's wording from all its examples at once, where the nearest single
example overfits the examples (5-fold cross-validation over the training texts, no pack: 0.79 of
held-out cases routed and 0.03 of ordinary texts against 0.70 and 0.06). On its own it also routed
look-alike fragments ("What can you do?" as vulnerable), so a unit it routes must pass a
contrast: CLASSIFIER_MARGIN closer to its topic's nearest example than to ordinary text. Its
routes are added to the nearest-example ones (dropping those lost 1 of 16 tuning cases).

Three checks keep ordinary lines out (third pass, measured by benchmarks/sensitive_routing.py and
benchmarks/listen_routing.py): a unit shorter than MIN_MEANING_WORDS routes only by a phrase or
pattern ("My account's fine then?" was like a self-harm example); a phrase said in a sentence the
classifier reads as ordinary with probability TRIGGER_VETO or more routes nothing ("my lawyer
friend recommended you", "my brother passed me his old phone"), except for self-harm; and the
ordinary list holds idioms and look-alikes of every topic ("killing time", "I moved house").

Fourth pass (a second data author's folds e and f, benchmarks/data/sensitive_fresh.jsonl): the
phrases and patterns cover the voices that author used and the first did not, as families rather
than single lines: an agent's third-person paraphrase ("Customer says she has been thinking about
killing herself"), pills saved up, a former partner who turns up, staff misusing what they saw,
"my husband's death", a phishing link followed by details typed in, a caller who sounds young.
A built-in phrase the speaker takes back at once ("my late mother's... no sorry, my mum's old
phone") routes nothing, except self-harm's.

In a conversation with speaker labels only the customer's turns are read: the agent's "are you
safe right now?" routes nothing. Floor, margin, threshold and the number of neighbours were
chosen on the tuning half of benchmarks/data/helpcentre_questions.jsonl, fold "a" of
benchmarks/data/sensitive_dev.jsonl and the demo set (benchmarks/sensitive_routing.py); a vote
of a topic's 2 or 3 nearest examples routed fewer cases there than the single nearest one.
Detection runs before retrieval and before any model is called.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core import conversation, policy
from desktop.core.errors import KnowledgeError
from desktop.core.generation import verify
from desktop.core.knowledge.search import sql_quote

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import Hit, Pack
    from desktop.core.managed import MachinePolicy

SIMILARITY_FLOOR = 0.45  # a sentence must be at least this close to a sensitive example...
MARGIN = 0.08  # ...and this much closer to it than to the nearest ordinary text (also a unit the
# classifier routes must be this much closer to its topic's nearest example than to ordinary text)
MAX_SENTENCES = 40  # the latest part of a long conversation is what matters
WINDOW_SENTENCES = 12  # pairs of neighbouring sentences are also scored, among the latest ones
CACHE_SIZE = 512  # sentences whose nearest pack passage is remembered
# When a message matches several topics, the most urgent one decides where it goes.
URGENT = "self_harm"  # the case that must never be missed or given another topic's rule
PRIORITY = (
    "self_harm",
    "domestic_abuse",
    "minor",
    "fraud",
    "bereavement",
    "vulnerable",
    "insider_misuse",
    "legal_threat",
)
# Insider misuse found in a message about work outranks the topics whose phrases a workplace
# case also says ("read my coworker's email without her knowing" is not domestic abuse; "an agent
# reset my password... staff override" is not an outside fraud).
INSIDER = "insider_misuse"
OUTRANKED_AT_WORK = ("domestic_abuse", "fraud")
_AT_WORK = re.compile(
    r"\b(?:colleagues?|co-?workers?|my boss|my manager|my supervisor|an? admin|i'm an admin|"
    r"staff|employees?|my team|at work|(?:an|the|one of your|one of my) agents?)\b"
)
BUILTIN_FILE = Path("safety") / "topics.yaml"
CLASSIFIER_FILE = Path("safety") / "classifier.json"
# scripts/train-sensitive.py prints this after training; a test retrains and compares.
CLASSIFIER_SHA256 = "f3f5b4366615d78661e4c02835fc6e502b761431d8c60fdf4889a732242b374e"
CLASSIFIER_MARGIN = 0.05  # a unit the classifier routes must be this much closer to its topic's
# nearest example than to ordinary text (the classifier is the surer judge, so it needs less)
TRIGGER_VETO = (
    0.85  # a phrase in a sentence the classifier reads as this surely ordinary is dropped
)
# Topics whose phrases and patterns the classifier never drops: self-harm must never be missed.
# (Adding vulnerable routed "im using a food bank..." but also "while I'm in hospital for a
# minor operation": rejected, benchmarks/results/sensitive_routing.variants.md.)
NEVER_VETOED = ("self_harm",)
MIN_MEANING_WORDS = 5  # a shorter unit ("My account's fine then?") routes only by a trigger
WHOLE_MESSAGE_WORDS = 80  # a message up to this long is also classified as a whole
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
    patterns: tuple[re.Pattern[str], ...] = ()
    handling: str = ""
    builtin: bool = False
    added_triggers: tuple[str, ...] = ()  # a built-in topic's phrases from articles or policy

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Builtin:
    """The topics that ship with Deskmate and the ordinary messages that contrast with them."""

    topics: tuple[Topic, ...]
    ordinary: tuple[str, ...]


def builtin_topics(resources: Path) -> Builtin:
    """The built-in topics in *resources*/safety/topics.yaml.

    The file ships with the app; a missing or damaged one is a broken installation, so this
    raises :class:`KnowledgeError` (nothing is drafted) rather than silently routing nothing.
    """
    import yaml

    path = resources / BUILTIN_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return _builtin(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, re.error) as exc:
        raise KnowledgeError(
            f"The built-in sensitive-case rules ({path}) cannot be read ({exc}), so Deskmate "
            "cannot tell which messages must go to a person and drafts nothing.",
            "Reinstall Deskmate.",
        ) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(
            f"The built-in sensitive-case rules ({path}) are damaged ({exc}), so Deskmate "
            "cannot tell which messages must go to a person and drafts nothing.",
            "Reinstall Deskmate.",
        ) from exc


def _builtin(data: Any) -> Builtin:
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise ValueError("it has no topics")
    topics = tuple(
        Topic(
            name=str(name),
            rule=" ".join(str(spec["rule"]).split()),
            triggers=_triggers(spec.get("triggers")),
            examples=tuple(str(e) for e in spec.get("examples") or ()),
            title=str(spec.get("title") or name),
            patterns=tuple(re.compile(str(p)) for p in spec.get("patterns") or ()),
            handling=" ".join(str(spec.get("handling") or "").split()),
            builtin=True,
        )
        for name, spec in data["topics"].items()
    )
    return Builtin(topics, tuple(str(o) for o in data.get("ordinary") or ()))


@dataclass(frozen=True)
class Classifier:
    """The built-in topics' logistic regression over a sentence's (normalised) vector."""

    classes: tuple[str, ...]  # "ordinary" first, then the built-in topics
    weights: Any  # (dimension, classes)
    bias: Any  # (classes,)
    threshold: float  # a topic's probability at least this routes

    def probabilities(self, vectors: Any) -> Any:
        """(rows, classes): each row's probability of each class, "ordinary" first."""
        import numpy as np

        logits = vectors @ self.weights + self.bias
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits / logits.sum(axis=1, keepdims=True)

    def topics(self, vectors: Any) -> list[tuple[int, str, float]]:
        """(row, topic, probability) of each row whose likeliest topic reaches the threshold."""
        probability = self.probabilities(vectors)
        best = probability[:, 1:].argmax(axis=1) + 1
        return [
            (row, self.classes[column], float(probability[row, column]))
            for row, column in enumerate(best.tolist())
            if probability[row, column] >= self.threshold
        ]


def builtin_classifier(resources: Path) -> Classifier:
    """The classifier in *resources*/safety/classifier.json, checked against CLASSIFIER_SHA256.

    Like the topics file, it ships with the app: a missing or changed one raises
    :class:`KnowledgeError` (nothing is drafted).
    """
    path = resources / CLASSIFIER_FILE
    try:
        return _classifier(path.read_bytes())
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise KnowledgeError(
            f"The built-in sensitive-case classifier ({path}) cannot be read ({exc}), so "
            "Deskmate cannot tell which messages must go to a person and drafts nothing.",
            "Reinstall Deskmate.",
        ) from exc


@lru_cache(maxsize=4)
def _classifier(raw: bytes) -> Classifier:
    import numpy as np

    if hashlib.sha256(raw).hexdigest() != CLASSIFIER_SHA256:
        raise ValueError("it is not the file this version was built with")
    data = json.loads(raw)
    weights = np.asarray(data["weights"], dtype=np.float32).T
    bias = np.asarray(data["bias"], dtype=np.float32)
    if weights.shape[1] != len(data["classes"]) or bias.shape != (len(data["classes"]),):
        raise ValueError("its weights do not match its classes")
    classes = tuple(str(c) for c in data["classes"])
    return Classifier(classes, weights, bias, float(data["threshold"]))


def merge_topics(
    builtin: Sequence[Topic], *layers: Sequence[Topic], disabled: Sequence[str] = ()
) -> list[Topic]:
    """Built-in topics, then each layer's: a topic of the same name takes the later rule (and its
    source article) and adds its triggers and examples. *disabled* names built-in topics that
    policy switched off."""
    merged: dict[str, Topic] = {t.name: t for t in builtin if t.name not in disabled}
    for layer in layers:
        for topic in layer:
            before = merged.get(topic.name)
            merged[topic.name] = topic if before is None else _override(before, topic)
    return list(merged.values())


def _override(before: Topic, later: Topic) -> Topic:
    keep = before if not later.rule else later
    return replace(
        keep,
        rule=later.rule or before.rule,
        triggers=tuple(dict.fromkeys(before.triggers + later.triggers)),
        examples=tuple(dict.fromkeys(before.examples + later.examples)),
        patterns=before.patterns,
        handling=before.handling,
        builtin=before.builtin,
        added_triggers=before.added_triggers + later.triggers,
        title=later.title if later.source else before.title,
    )


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


def policy_topics(machine: MachinePolicy) -> tuple[list[Topic], list[str]]:
    """Topics IT adds or changes in the mandatory policy's ``sensitive_topics`` sections, and the
    names of the built-in topics it switches off.

    Only the valid parts are used (see :mod:`desktop.core.policy`); the settings report the
    rest, and any unreadable policy source, so ``deskmate doctor`` names them.
    """
    specs = [
        spec
        for where, section in machine.topics
        for spec in policy.sensitive_topics({policy.SECTION: section}, Path(where))[0]
    ]
    topics = [
        Topic(
            name=spec.name,
            rule=spec.rule,
            triggers=_triggers(spec.triggers),
            examples=spec.examples,
            title="Machine policy",
        )
        for spec in specs
        if not spec.disabled
    ]
    return topics, [spec.name for spec in specs if spec.disabled]


def _triggers(triggers: object) -> tuple[str, ...]:
    """Trigger phrases as they are matched; one that would match nearly anything is dropped."""
    if isinstance(triggers, str):
        triggers = [triggers]
    if not isinstance(triggers, (list, tuple)):
        return ()
    phrases = [_normalise(str(trigger)) for trigger in triggers]
    return tuple(phrase for phrase in phrases if policy.usable_trigger(phrase))


@functools.lru_cache(maxsize=256)
def _trigger_pattern(triggers: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled search for a topic's trigger phrases, as whole words.

    Compiled once: searching each of the ~430 built-in phrases with ``re.search`` compiled them
    again and again (they overflow ``re``'s cache), holding the interpreter lock on the worker
    long enough to stall the window (the soak benchmark's stacks).
    """
    if not triggers:
        return re.compile(r"(?!x)x")  # matches nothing
    longest_first = sorted(triggers, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, longest_first)) + r")(?!\w)")


# A speaker taking back what they just said: "my late mother's... no sorry, my mum's old phone".
_RETRACTION = re.compile(
    r"(?:'s)?\W{0,4}\s*(?:no,? sorry|sorry,? no|no,? wait|no no|scratch that)\b"
)


def _retracted(topic: Topic, normalised: str, said: re.Match[str]) -> bool:
    """Whether a built-in phrase is taken back at once (never self-harm's, nor a company's:
    applied to the demo pack's "late mother" too, the same call then routed as self-harm by a
    likeness, a worse false route than bereavement)."""
    if not _overridable(topic, said.group(0)):
        return False
    return _RETRACTION.match(normalised, said.end()) is not None


def _overridable(topic: Topic, said: str) -> bool:
    """Whether the built-in phrase *said* may be dropped (by a retraction or the classifier's
    veto): never self-harm's, nor one a company's articles or policy add."""
    return topic.builtin and topic.name not in NEVER_VETOED and said not in topic.added_triggers


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
        ordinary: Sequence[str] = (),
        classifier: Classifier | None = None,
        *,
        builtin_classifier_: bool = True,
    ) -> None:
        """*classifier* defaults to the built-in one when there is an embedder (pass
        ``builtin_classifier_=False`` for examples-only detection)."""
        self.topics = list(topics)
        self.embedder = embedder
        self.packs = list(packs)
        self.floor = floor
        self.margin = margin
        self.ordinary = list(ordinary)
        sources = sorted({t.source for t in self.topics if t.source})
        quoted = ", ".join(sql_quote(source) for source in sources)
        self._ordinary_where = f"source NOT IN ({quoted})" if sources else None
        if classifier is None and builtin_classifier_ and embedder is not None:
            from desktop.core.context import resources_dir

            classifier = builtin_classifier(resources_dir())
        self.classifier = classifier
        self._by_name = {t.name: t for t in self.topics}
        self._examples = [(t, e) for t in self.topics for e in t.examples]
        self._pack_cache: dict[str, float] = {}
        self._matrix: Any = None
        self._topic_matrix: dict[str, Any] | None = None
        self._ordinary_matrix: Any = None
        self.min_words = MIN_MEANING_WORDS
        self.trigger_veto: float | None = TRIGGER_VETO
        self.classifier_margin = CLASSIFIER_MARGIN

    def _topic_vectors(self) -> dict[str, Any]:
        """Each topic's examples (all of them), for the classifier's contrast check."""
        if self._topic_matrix is None and self.embedder is not None:
            named = [(t.name, list(t.examples)) for t in self.topics if t.examples]
            vectors = self.embedder.embed([e for _, examples in named for e in examples])
            self._topic_matrix, start = {}, 0
            for name, examples in named:
                self._topic_matrix[name] = vectors[start : start + len(examples)]
                start += len(examples)
            if self.ordinary and self._ordinary_matrix is None:
                self._ordinary_matrix = self.embedder.embed(self.ordinary)
        return self._topic_matrix or {}

    def _example_vectors(self) -> Any:
        if self._matrix is None and self.embedder is not None and self._examples:
            self._matrix = self.embedder.embed([e for _, e in self._examples])
            if self.ordinary:
                self._ordinary_matrix = self.embedder.embed(self.ordinary)
        return self._matrix

    def detect(self, text: str) -> Detection | None:
        """The topic of *text*, or None. A phrase or pattern match decides over a likeness.

        When *text* is a conversation with speaker labels, only what the customer said counts.
        """
        text = customer_text(text)
        found = self._by_trigger(text) or self._by_meaning(text)
        if not found:
            return None
        rank = {name: 2 * i for i, name in enumerate(PRIORITY)}
        if _AT_WORK.search(_normalise(text)):  # a colleague's mail read "without her knowing"
            rank[INSIDER] = min(rank[t] for t in OUTRANKED_AT_WORK) - 1
        return min(found, key=lambda d: (rank.get(d.topic.name, 2 * len(PRIORITY)), -d.score))

    def _by_trigger(self, text: str) -> list[Detection]:
        normalised = _normalise(text)
        found = []
        for topic in self.topics:
            said = next(
                (
                    m.group(0)
                    for pattern in (_trigger_pattern(topic.triggers), *topic.patterns)
                    for m in pattern.finditer(normalised)
                    if not _retracted(topic, normalised, m)
                    and not self._vetoed(topic, text, m.group(0))
                ),
                None,
            )  # the first phrase or pattern that is neither taken back nor read as ordinary
            if said is not None:
                found.append(Detection(topic, f'the message says "{said}"', 1.0))
        return found

    def _vetoed(self, topic: Topic, text: str, said: str) -> bool:
        """Whether the classifier reads the sentence that says *said* as ordinary (probability
        at least ``trigger_veto``): "my lawyer friend recommended you", "my brother passed me
        his old phone"). Only built-in phrases and patterns, never self-harm's: a phrase the
        company's articles or policy add is its own decision."""
        if self.trigger_veto is None or self.classifier is None or self.embedder is None:
            return False
        if not _overridable(topic, said):
            return False
        units = [unit for unit in meaning_units(text) if said in _normalise(unit)] or [text]
        vector = self.embedder.embed([min(units, key=len)])
        return bool(self.classifier.probabilities(vector)[0, 0] >= self.trigger_veto)

    def _by_meaning(self, text: str) -> list[Detection]:
        """Routes by likeness, of units at least ``min_words`` long: a short line ("My account's
        fine then?", "ok I'll ring them.") is close to too many things to route on meaning."""
        if self.embedder is None:
            return []
        sentences = _recent_sentences(text)  # split once for both kinds of unit
        units = meaning_units(text, sentences)
        whole = " ".join(text.split())
        if units and len(whole.split()) <= WHOLE_MESSAGE_WORDS and whole not in units:
            units.append(whole)
        units = [unit for unit in units if len(unit.split()) >= self.min_words]
        if not units:
            return []
        # Self-harm is also looked for in each clause of a long sentence: "I have lost my job
        # and I don't see the point in going on" says two things, and the likeness of the whole
        # goes to the first (job loss: a vulnerable customer). Only self-harm: in other topics'
        # clauses ("... and I gave him the code") the part misleads more than the whole.
        clauses = [c for c in clause_units(sentences) if c not in units]
        clauses = [c for c in clauses if len(c.split()) >= self.min_words]
        self._topic_vectors()  # ready before the first check, which the agent may be waiting on
        vectors = self.embedder.embed(units + clauses)
        whole_units, parts = vectors[: len(units)], vectors[len(units) :]
        found = self._by_classifier(units, whole_units) + self._by_example(units, whole_units)
        if clauses:
            in_parts = self._by_classifier(clauses, parts) + self._by_example(clauses, parts)
            found += [d for d in in_parts if d.topic.name == URGENT]
        best: dict[str, Detection] = {}
        for detection in found:
            name = detection.topic.name
            if name not in best or detection.score > best[name].score:
                best[name] = detection
        return list(best.values())

    def _by_classifier(self, units: list[str], vectors: Any) -> list[Detection]:
        """The likeliest built-in topic of any unit, if the classifier is sure enough and the unit
        is not closer to ordinary text than to that topic's own examples."""
        if self.classifier is None:
            return []
        for row, name, probability in sorted(
            self.classifier.topics(vectors), key=lambda found: -found[2]
        ):
            topic = self._by_name.get(name)  # a built-in topic policy switched off routes nothing
            if topic is None:
                continue
            if self._contrast(topic, units[row], vectors[row]) < self.classifier_margin:
                continue
            reason = f'"{units[row].strip()}" reads as {topic.label} ({probability:.2f})'
            return [Detection(topic, reason, probability)]
        return []

    def _contrast(self, topic: Topic, unit: str, vector: Any) -> float:
        """How much closer *vector* is to *topic*'s nearest example than to ordinary text."""
        examples = self._topic_vectors().get(topic.name)
        nearest = float((examples @ vector).max()) if examples is not None else 1.0
        ordinary = max(self._builtin_ordinary(vector), self._pack_ordinary(unit, vector))
        return nearest - ordinary

    def _by_example(self, units: list[str], vectors: Any) -> list[Detection]:
        """Units close to an example and clearly closer to it than to any ordinary text."""
        matrix = self._example_vectors()
        if matrix is None:
            return []
        scores = vectors @ matrix.T
        candidates = []
        for row, column in enumerate(scores.argmax(axis=1).tolist()):
            score = float(scores[row, column])
            if score >= self.floor and score - self._builtin_ordinary(vectors[row]) >= self.margin:
                candidates.append((score, row, column))
        best: dict[str, Detection] = {}
        for score, row, column in sorted(candidates, reverse=True):
            topic, example = self._examples[column]
            if topic.name in best or score - self._pack_ordinary(units[row], vectors[row]) < (
                self.margin
            ):
                continue
            best[topic.name] = Detection(
                topic, f'"{units[row].strip()}" is like "{example}" ({score:.2f})', score
            )
        return list(best.values())

    def _builtin_ordinary(self, vector: Any) -> float:
        if self._ordinary_matrix is None:
            return 0.0
        return float((self._ordinary_matrix @ vector).max())

    def _pack_ordinary(self, unit: str, vector: Any) -> float:
        """Similarity of the nearest passage that is not a sensitive-case article (cached per
        text: the listen panel checks the same sentences again at every pause)."""
        if unit not in self._pack_cache:
            best = 0.0
            for pack in self.packs:
                rows = pack.vector_search(vector, 1, self._ordinary_where)
                if rows:
                    best = max(best, 1.0 - float(rows[0]["_distance"]))
            if len(self._pack_cache) >= CACHE_SIZE:
                self._pack_cache.pop(next(iter(self._pack_cache)))
            self._pack_cache[unit] = best
        return self._pack_cache[unit]


def customer_text(text: str) -> str:
    """What the customer said in *text*: with speaker labels (see :mod:`desktop.core.conversation`)
    the agent's turns are left out; text with no labels is returned as it is."""
    turns = conversation.turns(text)
    if not any(turn.speaker == conversation.AGENT for turn in turns):
        return text
    return "\n".join(turn.text for turn in turns if turn.speaker != conversation.AGENT)


def _recent_sentences(text: str) -> list[str]:
    return [s.strip() for s in verify.split_sentences(text) if s.strip()][-MAX_SENTENCES:]


def meaning_units(text: str, sentences: list[str] | None = None) -> list[str]:
    """The parts of *text* compared with the examples: each sentence of at least three words,
    and each pair of neighbouring sentences (a case is often said across two: "I won't need any
    of it after Friday. I've made my peace with it."). The latest sentences matter most.
    *sentences*, if given, are *text*'s recent sentences already split."""
    sentences = _recent_sentences(text) if sentences is None else sentences
    units = [s for s in sentences if len(s.split()) >= 3]
    recent = sentences[-WINDOW_SENTENCES:]
    units += [f"{a} {b}" for a, b in pairwise(recent)]
    return list(dict.fromkeys(units))


_CLAUSE = re.compile(r",?\s+(?:and|but|so)\s+(?=i\b|i')|;\s+", re.IGNORECASE)


def clause_units(sentences: list[str]) -> list[str]:
    """The clauses of *sentences* that start with the speaker ("..., and I ...", "... but
    I ...", "...; ..."), when a sentence has more than one."""
    return [c.strip() for s in sentences for c in _CLAUSE.split(s) if c.strip() != s]


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
