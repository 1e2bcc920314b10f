"""Question in, grounded draft out, as a stream of typed events.

``Assistant.ask`` retrieves approved passages, and then either streams the local model's cited
reply or, when generation is off or no model is available, assembles an extractive reply from the
passages' own sentences. Every sentence of the result carries a verdict. Nothing here knows about
Qt: the window iterates the generator on a worker thread, the CLI prints it.

The events, in order: one :class:`Sources` (the passages the draft may cite); while the model
writes, :class:`Token` pieces, and a :class:`Verdict` as soon as each sentence is complete; an
:class:`Error` when the model fails part-way, or :class:`Replaced` when too few of its sentences
are supported (either way the tokens and verdicts so far are void, and an extractive draft
follows); a :class:`Verdict` for each sentence not yet judged; and last, :class:`Done` with the
whole :class:`Answer`, whose sentences are the final verdicts.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.core import answerable, compose, listen, tasks
from desktop.core.errors import ModelError, UserError
from desktop.core.generation import guard, prompts, verify
from desktop.core.knowledge.index import Hit, Pack
from desktop.core.knowledge.search import (
    article_passages,
    hybrid_search,
    one_per_article,
    options_from_settings,
    search,
)
from desktop.core.sensitive import Detection, handling_hit
from desktop.core.steer import Steer

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.core.knowledge.embedder import Embedder

MAX_QUESTION_CHARS = 4000
CLOSE_TO_BEST = 0.12
PROMPT_OVERHEAD_TOKENS = 320
EXTRACTIVE_HITS = 3  # passages an extractive draft is composed from


@dataclass
class Answer:
    """The outcome of one request: status, draft, verified sentences, sources and timings."""

    status: str  # "answered" | "no_source" | "route_to_human"
    question: str
    draft: str = ""
    mode: str = "model"  # "model" | "extractive"
    sentences: list[verify.Sentence] = field(default_factory=list)
    sources: list[Hit] = field(default_factory=list)
    nearest: list[Hit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    stopped: bool = False
    route: dict[str, str] = field(default_factory=dict)  # topic, reason, rule, source
    task: str = "reply"
    # A model draft replaced for lack of support: {"draft", "supported", "sentences"}.
    replaced: dict[str, Any] = field(default_factory=dict)
    limit: str = ""  # what ended the model's writing early: "time_budget" | "repetition" | ""
    cut: bool = False  # the model was stopped before it finished: a limit, the token cap, a stop
    not_sensitive: str = ""  # the sensitive topic the agent said this case is not

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "task": self.task,
            "question": self.question,
            "draft": self.draft,
            "mode": self.mode,
            "stopped": self.stopped,
            "notice": self.notice,
            "sentences": [s.to_json() for s in self.sentences],
            "sources": [{"n": n, **h.to_json()} for n, h in enumerate(self.sources, start=1)],
            "nearest": [h.to_json() for h in self.nearest],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "route": self.route or None,
            "replaced": self.replaced or None,
            "limit": self.limit or None,
            "not_sensitive": self.not_sensitive or None,
        }


@dataclass(frozen=True)
class Sources:
    hits: list[Hit]


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Verdict:
    """The verdict on sentence *index* of the draft, sent as soon as that sentence is complete."""

    index: int
    sentence: verify.Sentence


@dataclass(frozen=True)
class Error:
    """The model failed part-way: discard the tokens so far; a fallback draft follows."""

    message: str
    fix: str


@dataclass(frozen=True)
class Replaced:
    """Too little of the model's draft is supported: discard it; an extractive draft follows."""

    reason: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Sources | Token | Verdict | Error | Replaced | Done


class Assistant:
    """Answers questions from the installed knowledge packs."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        # Sensitive topics the agent said the current conversation is not ("not a sensitive
        # case"): a detection of one of them no longer stops a draft or a wrap-up.
        self.not_sensitive: set[str] = set()

    def search(
        self,
        query: str,
        limit: int | None = None,
        categories: tuple[str, ...] = (),
        locale: str | None = None,
        packs: Sequence[Pack] | None = None,
    ) -> list[Hit]:
        """The best passages for *query*, searched as the settings say, in *packs* (by default
        every installed pack)."""
        options = options_from_settings(
            self.context.settings, limit=limit, categories=categories, locale=locale
        )
        chosen = self.context.packs() if packs is None else packs
        return search(chosen, self.context.embedder, query, options)

    def ask(
        self,
        question: str,
        stop: threading.Event | None = None,
        task: str = "reply",
        tone: str = "shorter",
        *,
        judge_extractive: bool = True,
        steer: Steer | None = None,
    ) -> Iterator[Event]:
        """Run *task* (reply, wrapup or rewrite) on *question*, as a stream of events.

        A reply's sources come only from the packs *steer* allows, its lead article's passages
        first (see :mod:`desktop.core.steer`).

        With *judge_extractive* False, an extractive reply's sentences (the sources' own, so
        supported by construction) are not verified again: batch checks that need only the
        status, sources and draft (golden questions) skip most of the cost.
        """
        if task not in tasks.TASKS or tone not in tasks.TONES:
            raise UserError(
                f"Unknown task {task!r} or tone {tone!r}.",
                f"Use one of {', '.join(tasks.TASKS)}; tones {', '.join(tasks.TONES)}.",
            )
        question, notice = _clean_question(question)
        answer = Answer(status="answered", question=question, notice=notice, task=task)
        started = time.perf_counter()
        detector = self.context.sensitive_detector()
        # A wrap-up reads a conversation: routed as the listen panel routes it (customer turns).
        # A rewrite reads the agent's own draft, never the customer's words: not routed (the
        # case was checked when the draft was asked for, and only customer words route).
        if task == "rewrite":
            detection = None
        elif task == "wrapup":
            detection = listen.route(detector, question)
        else:
            detection = detector.detect(question)
        answer.timings["sensitive_check_s"] = time.perf_counter() - started
        if detection is not None and detection.topic.name in self.not_sensitive:
            answer.not_sensitive = detection.topic.name
            answer.notice = _join(
                answer.notice,
                f"You marked this as not a sensitive case ({detection.topic.label}).",
            )
        elif detection is not None:
            yield from _route_to_human(answer, detection)
            return
        if task != "reply":
            yield from self._transform(question, answer, stop, tone)
            answer.timings["total_s"] = time.perf_counter() - started
            yield Done(answer)
            return
        steer = steer or Steer()
        packs = steer.allowed(self.context.packs())
        hits = steer.ordered(self.search(question, packs=packs))
        answer.timings["retrieval_s"] = time.perf_counter() - started
        floor = float(self.context.settings.get("answer.min_score"))
        # Answerability reads the best passages by relevance, not by the search's word-coverage
        # order: that order favours passages holding the question's words, which would let a
        # question about a name the knowledge only mentions in passing look answered.
        if (
            not hits
            or max(hit.rank_score for hit in hits) < floor
            or not self._covers(question, sorted(hits, key=lambda h: -h.rank_score), answer)
        ):
            answer.status = "no_source"
            answer.draft = "No approved source covers this question."
            near = hits or hybrid_search(
                packs, self.context.embedder, question, limit=8, min_score=0.0
            )
            answer.nearest = one_per_article(near, 3)
            yield Done(answer)
            return
        best = max(hit.rank_score for hit in hits)
        # Only passages nearly as relevant as the best one ground the draft: weaker ones mostly
        # lead a small model astray and earn citations to the wrong article.
        close = max(floor, best - CLOSE_TO_BEST)
        hits = [hit for hit in hits if hit.rank_score >= close or steer.leads(hit)]
        # The sources' own sentences unless the model is to write replies (generation.replies).
        engine = self._engine(answer) if self.context.settings.get("generation.replies") else None
        meaning = verify.EmbeddingMeaning(self.context.embedder.embed)
        judged = 0
        if engine is not None:
            try:
                answer.sources = self._fit_context(engine, question, hits)
                yield Sources(answer.sources)
                judged = yield from self._generate(engine, question, answer, stop, meaning)
            except ModelError as exc:
                answer.notice = _join(answer.notice, f"{exc} Showing an extractive draft instead.")
                yield Error(exc.message, exc.fix)
                engine, judged = None, 0
        if engine is not None:
            answer.sentences = verify.verify(answer.draft, _passages(answer.sources), meaning)
            if answer.cut:
                verify.flag_unfinished(answer.sentences)
            verify.flag_yes_no_to_open_question(question, answer.sentences)
            reason = self._too_little_support(answer)
            if reason:
                answer.notice = _join(answer.notice, reason)
                yield Replaced(reason)
                engine, judged = None, 0
        if engine is None:
            answer.mode = "extractive"
            answer.draft, answer.sources = extractive_draft(
                question, hits, self.context.embedder, lead=steer.article, packs=packs
            )
            yield Sources(answer.sources)
            if not judge_extractive:
                answer.timings["total_s"] = time.perf_counter() - started
                yield Done(answer)
                return
            answer.sentences = verify.verify(answer.draft, _passages(answer.sources), meaning)
        answer.draft = verify.with_citations(answer.draft, answer.sentences)
        for index in range(judged, len(answer.sentences)):
            yield Verdict(index, answer.sentences[index])
        answer.timings["total_s"] = time.perf_counter() - started
        yield Done(answer)

    def _covers(self, question: str, hits: list[Hit], answer: Answer) -> bool:
        """Whether the passages answer the question by its words (see desktop.core.answerable)."""
        started = time.perf_counter()
        assessment = answerable.assess_in_context(self.context, question, hits)
        answer.timings["answerable_s"] = time.perf_counter() - started
        if not assessment.answerable:
            answer.notice = _join(answer.notice, assessment.reason)
        return assessment.answerable

    def _transform(
        self, text: str, answer: Answer, stop: threading.Event | None, tone: str
    ) -> Iterator[Event]:
        """Wrap-up or rewrite: the supplied text is the only source."""
        answer.sources = [Hit("input", "input", "Your text", "", 0, len(text), text, 1.0)]
        yield Sources(answer.sources)
        engine = self._engine(answer)
        if engine is not None:
            messages = (
                tasks.wrapup_messages(text)
                if answer.task == "wrapup"
                else tasks.rewrite_messages(text, tone)
            )
            try:
                yield from self._generate_messages(engine, messages, answer, stop, stop_words=[])
            except ModelError as exc:
                answer.notice = _join(answer.notice, str(exc))
                engine = None
        if engine is not None and answer.task == "wrapup" and not tasks.is_wrapup(answer.draft):
            answer.notice = _join(
                answer.notice,
                "The model did not write the wrap-up fields; "
                "this note is assembled from the conversation's own lines.",
            )
            engine = None
        if engine is None:
            answer.mode = "extractive"
            if answer.task == "wrapup":
                answer.draft = tasks.extractive_wrapup(text)
            else:
                answer.draft = text
                answer.notice = _join(
                    answer.notice, "No language model is available, so the text is unchanged."
                )
        answer.sentences = tasks.check_against(answer.draft, text)
        if answer.cut and answer.mode == "model":
            verify.flag_unfinished(answer.sentences)
        if answer.task == "rewrite":
            _flag_new_contacts(answer.sentences, text)

    def _too_little_support(self, answer: Answer) -> str:
        """Why the model's draft should not be shown, or "" to keep it."""
        if answer.stopped or not answer.sentences:
            return ""  # the agent stopped it and sees what was written, verdicts and all
        supported = sum(s.verdict == "supported" for s in answer.sentences)
        share = supported / len(answer.sentences)
        if share >= float(self.context.settings.get("answer.min_supported")):
            return ""
        answer.replaced = {
            "draft": answer.draft,
            "supported": round(share, 3),
            "sentences": [s.to_json() for s in answer.sentences],
        }
        return (
            "The model's wording was not fully backed by the approved sources, so this reply "
            "uses the sources' own sentences instead. Read it through before you send it."
        )

    def _engine(self, answer: Answer) -> Any:
        """The model, or None (extractive mode); a broken model is reported, not fatal."""
        try:
            return self.context.load_model()
        except ModelError as exc:
            answer.notice = _join(answer.notice, f"{exc} Showing an extractive draft instead.")
            return None

    def _fit_context(self, engine: Any, question: str, hits: list[Hit]) -> list[Hit]:
        """As many top passages as fit beside the instructions, question and answer budget."""
        max_tokens = int(self.context.settings.get("model.max_tokens"))
        budget = engine.context_size - max_tokens - PROMPT_OVERHEAD_TOKENS
        budget -= engine.count_tokens(question)
        kept: list[Hit] = []
        for hit in hits[:5]:
            cost = engine.count_tokens(hit.text) + 24
            if cost > budget:
                break
            kept.append(hit)
            budget -= cost
        return kept or hits[:1]

    def _generate(
        self,
        engine: Any,
        question: str,
        answer: Answer,
        stop: threading.Event | None,
        meaning: verify.Meaning,
    ) -> Generator[Event, None, int]:
        """Stream the model's reply, judging each sentence once the next one has begun.

        Returns how many sentences were judged while streaming.
        """
        messages = prompts.reply_messages(question, answer.sources)
        passages = _passages(answer.sources)
        text, judged = "", 0
        for event in self._generate_messages(engine, messages, answer, stop, prompts.STOP):
            yield event
            if not isinstance(event, Token):
                continue
            text += event.text
            draft = text.strip()
            spans = verify.sentence_spans(draft)
            # The last sentence may still grow (its citation often comes after the full stop).
            while judged < len(spans) - 1:
                start, end = spans[judged]
                sentence = verify.check(draft[start:end], passages, meaning)
                yield Verdict(judged, sentence)
                judged += 1
        return judged

    def _generate_messages(
        self,
        engine: Any,
        messages: list[dict[str, str]],
        answer: Answer,
        stop: threading.Event | None,
        stop_words: list[str],
    ) -> Iterator[Event]:
        settings = self.context.settings
        pieces: list[str] = []
        limit = guard.Guard(float(settings.get("generation.time_budget_s")))
        try:
            stream = engine.stream(
                messages,
                max_tokens=int(settings.get("model.max_tokens")),
                temperature=float(settings.get("model.temperature")),
                stop=stop,
                stop_words=stop_words,
                prompt_lookup=bool(settings.get("generation.prompt_lookup")),
            )
            for piece in limit.guarded(stream):
                pieces.append(piece)
                yield Token(piece)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"The model failed while writing ({exc}).",
                "Try again; if it keeps failing, run `deskmate doctor`.",
            ) from exc
        answer.limit = limit.reason
        if limit.reason == guard.REPETITION or (limit.reason and not "".join(pieces).strip()):
            raise ModelError(limit.message(), "Check the draft below before sending.")
        answer.draft = "".join(pieces).strip()
        answer.stopped = bool(stop is not None and stop.is_set())
        answer.notice = _join(answer.notice, limit.message())
        stats = engine.last_stats
        capped = stats is not None and stats.completion_tokens >= int(
            settings.get("model.max_tokens")
        )
        answer.cut = bool(limit.reason) or answer.stopped or capped
        if stats is not None:
            answer.timings["first_token_s"] = stats.first_token_s
            answer.timings["tokens_per_s"] = stats.tokens_per_s


def _route_to_human(answer: Answer, detection: Detection) -> Iterator[Event]:
    """Sensitive case: no draft; the company's rule and its article instead."""
    topic = detection.topic
    answer.status = "route_to_human"
    answer.mode = "none"
    answer.draft = f"Route to a person ({topic.label}): do not send a drafted reply. {topic.rule}"
    answer.route = {
        "topic": topic.name,
        "reason": detection.reason,
        "rule": topic.rule,
        "source": topic.source,
        "title": topic.title,
    }
    hit = handling_hit(topic)
    answer.sources = [hit] if hit is not None else []
    yield Sources(answer.sources)
    yield Done(answer)


# Addresses a customer could act on: web links, e-mail addresses, phone numbers.
_CONTACT = re.compile(
    r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d[\d ()-]{6,}\d",
    re.IGNORECASE,
)


def new_contacts(text: str, source: str) -> list[str]:
    """Links, e-mail addresses and phone numbers in *text* that *source* does not contain."""
    digits = re.sub(r"\D", "", source)
    lowered = source.lower()
    found = []
    for match in _CONTACT.finditer(text):
        value = match.group(0).rstrip(".,;:)]")
        number = re.sub(r"\D", "", value)
        known = number in digits if value[0].isdigit() or value[0] == "+" else False
        if not known and value.lower() not in lowered:
            found.append(value)
    return found


def _flag_new_contacts(sentences: list[verify.Sentence], source: str) -> None:
    """A rewrite's sentence that adds a link, address or phone number is not supported."""
    for sentence in sentences:
        added = new_contacts(sentence.text, source)
        if added:
            sentence.verdict = "unsupported"
            sentence.reason = f"Adds {', '.join(added)}, which the original text does not have."


def task_input(task: str, typed: str, conversation: str, current: Answer | None) -> tuple[str, str]:
    """The text *task* works on, from what the agent has in the window, and what to tell them
    when there is none: ``(text, missing)``, *text* blank when there is nothing to work on.

    A wrap-up reads the *conversation*; a rewrite the *current* answer's draft (else what is
    *typed*); a reply what is *typed*, else the customer's latest need in the conversation.
    """
    if task == "wrapup":
        return conversation, "Paste the conversation into the Listen panel first."
    if task == "rewrite":
        drafted = current is not None and current.status == "answered"
        text = current.draft if current is not None and drafted else typed
        return text, "Write or draft a reply first: Rewrite works on the current draft."
    text = typed if typed.strip() else listen.customer_need(conversation).query
    return text, "Type the customer's question in the search box first."


def _passages(hits: list[Hit]) -> list[str]:
    """The sources' text as the model and the verifier see it."""
    return [prompts.passage(hit) for hit in hits]


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _clean_question(question: str) -> tuple[str, str]:
    question = question.strip()
    if not question:
        raise UserError(
            "The question is empty.", "Type a question or paste the customer's message."
        )
    if len(question) > MAX_QUESTION_CHARS:
        kept = question[-MAX_QUESTION_CHARS:]
        return kept, (
            f"The text was {len(question):,} characters; only the last "
            f"{MAX_QUESTION_CHARS:,} were used."
        )
    return question, ""


def extractive_draft(
    question: str,
    hits: list[Hit],
    embedder: Embedder | None = None,
    limit: int = EXTRACTIVE_HITS,
    lead: str = "",
    packs: Sequence[Pack] = (),
) -> tuple[str, list[Hit]]:
    """A reply made only of the sources' own sentences, each cited, composed for *question*
    (``desktop.core.compose``), starting with the *lead* article's, which is read in more of
    its passages from *packs*; and the sources it cites, numbered as cited."""
    by_id = {pack.id: pack for pack in packs}
    documents: dict[tuple[str, str], str] = {}  # an article read once, however many passages

    def read(hit: Hit) -> str:
        key = (hit.pack, hit.source)
        if key not in documents:
            documents[key] = by_id[hit.pack].document_text(hit.source) if hit.pack in by_id else ""
        return documents[key]

    def whole(found: Sequence[Hit]) -> list[Hit]:
        return [compose.whole_procedures(hit, read) for hit in found]

    if embedder is None:
        return compose.extractive(question, whole(hits[:limit]), None, lead)

    def article(hit: Hit) -> list[Hit]:
        return whole(article_passages(packs, embedder, question, hit, compose.ARTICLE_PASSAGES))

    return compose.extractive(question, whole(hits[:limit]), embedder.embed, lead, article)
