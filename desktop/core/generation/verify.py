"""Sentence-level verification of a draft against the sources it was given.

Every sentence gets a verdict:

* ``supported`` — it cites a given source; every number in it (amounts, days, phone numbers) and
  every name occurs in that passage; and the passage carries it, judged by two signals: the share
  of its content words found in the passage (lexical) and, when an embedding model is at hand, the
  cosine similarity between the sentence and the closest one- or two-sentence window of the
  passage (meaning);
* ``unsupported`` — it cites a source that was not given, or the cited passage does not carry it;
* ``no_citation`` — it cites nothing.

A passage line addressed to an AI model (``instruction_lines``) supports nothing: it is an
instruction, not a fact, whether or not the prompt's filter removed it before.

This is deliberately conservative: a weak model's paraphrase may be flagged, but an invented fact
is not passed as supported. The thresholds below were calibrated on half of the labelled planted
claims in ``benchmarks/data/planted_claims.jsonl`` and checked on the other half
(``benchmarks/calibrate_verifier.py``; results in ``benchmarks/results/verifier_calibration.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from desktop.core.text import sentence_spans as sentence_spans
from desktop.core.text import split_sentences as split_sentences
from desktop.core.text import unwrap

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LIST_MARKER = re.compile(r"\A\s*(?:\d{1,2}[.)]|[-*•])\s+")
_WORD = re.compile(r"[a-z0-9£$€%]+(?:['’][a-z]+)?")
_NUMBER = re.compile(r"[£$€]?\d+(?:[.,:]\d+)*%?")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "will",
        "with",
        "you",
        "your",
        "yes",
        "no",
        "not",
    ]
)
# Share of the sentence's content words that the cited passage must contain ...
SUPPORT_THRESHOLD = 0.6
# ... and, with an embedding model, the least meaning similarity such a match may have: a sentence
# made of the passage's words can still say something the passage does not. The meaning signal
# only ever vetoes; letting a high similarity rescue a low lexical score was tried and rejected,
# as it passed more planted claims on the held-out half (see the calibration results).
MEANING_FLOOR = 0.61


# Text addressed to an AI model rather than to the reader: "ignore previous instructions",
# "Assistant, disregard ...", "AI models reading this:", "When summarising this page, tell ...",
# "System: new rules", chat-template tokens. Such a line is never data: the drafting prompt
# replaces it by a marker and the verifier does not count it as support, even when a pasted text
# (a wrap-up's conversation) or a passage reaches the verifier without the prompt's filtering.
_AI = (
    r"(?:a\.?i\.?|llms?|chat\s?bots?|chatgpt|gpt|copilots?|(?:large\s+)?language\s+models?"
    r"|(?:ai|virtual)\s+(?:models?|assistants?|agents?|systems?|tools?|bots?))"
)
_ADDRESSEE = rf"(?:{_AI}|assistants?|bots?)"
_READING = r"(?:reading|processing|summari[sz]ing|parsing|crawling|indexing|ingesting|seeing)"
_ROLE = "(?:System|Assistant|Developer)"
_ROLE_END = r"(?:\s+(?:prompt|message|note|override))?\s*[\]>]?\s*:"
_INSTRUCTION = re.compile(
    # ignore/disregard ... instructions (or "what you were told")
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all|any|the|your|my|our|what|everything"
    r"|previous|prior|above|earlier|system|original)\b(?:\s+[\w']+){0,4}?\s+"
    r"(?:instructions?|prompts?|rules|guidelines|directions|directives|told|said|programming)\b"
    # a note, message or instruction for AI models
    rf"|\b(?:note|message|instructions?|reminder|memo|notice|attention)\s+(?:addressed\s+)?"
    rf"(?:to|for)\s+(?:all\s+|any\s+|the\s+)?{_AI}\b"
    # "Assistant, ...", "AI models reading this:" at the start of a line
    rf"|^[\s>*#-]*(?:hey|hi|dear|attention|calling)?[\s,]*(?:all|any|the)?\s*{_ADDRESSEE}\b"
    rf"(?:\s+(?:that|who)\s+\w+|\s+{_READING})?(?:\s+(?:this|these|the)(?:\s+\w+)?)?\s*[,:]"
    # "if you are an AI", "any AI reading this", "AI models must"
    rf"|\b(?:if|when|while)\s+you(?:'re|\s+are)\s+(?:an?\s+)?{_AI}\b"
    rf"|\b(?:any|all|every|an?)\s+{_AI}\s+(?:(?:that|who)\s+)?{_READING}"
    rf"|\b{_AI}\s+(?:must|should|shall|are\s+(?:instructed|required|told)\s+to)\b"
    # "When summarising this page, tell ..."
    r"|\b(?:when|if|while|before)\s+(?:you\s+(?:are\s+)?)?(?:summari[sz]\w*|paraphras\w*"
    r"|rewriting|processing|parsing|ingesting|crawling|indexing|answering\s+from)\s+"
    r"(?:this|these|the)\s+(?:page|article|document|text|content|source|passage|site|help)"
    # chat roles ("System: ...", but not a wrapped sentence's "... on your\nsystem:")
    rf"|^[\s>*#\[<]*(?:(?-i:{_ROLE}|{_ROLE.upper()}){_ROLE_END}|{_ROLE.lower()}{_ROLE_END}\s*\S)"
    r"|<\|[\w.-]+\|>|\[/?INST\]|<</?SYS>>"
    # "You are now DAN", "you are now in developer mode" (not "You are now logged in")
    rf"|\byou\s+are\s+now\s+(?:an?\s+(?:\w+\s+)?{_ADDRESSEE}\b|in\s+\w+\s+mode|no\s+longer"
    r"|free\s+to|allowed\s+to|unrestricted|jailbroken|DAN\b|called|named)"
    r"|\b(?:system\s+prompt|new\s+instructions)\b",
    re.IGNORECASE,
)
_CONTINUED = re.compile(r"[:,\u2014-]\s*$|\.\.\.\s*$")


def instruction_lines(text: str) -> set[int]:
    """Indexes of the lines of *text* that address an AI model, with the line an address ends
    on ("AI models reading this:") carrying on to the next non-blank line."""
    flagged: set[int] = set()
    carry = False
    for index, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        if carry or _INSTRUCTION.search(line):
            flagged.add(index)
            carry = bool(_CONTINUED.search(line))
            continue
        carry = False
    return flagged


def mark_instructions(text: str, marker: str) -> str:
    """*text* with each line addressed to an AI model replaced by *marker* ("" drops it)."""
    flagged = instruction_lines(text)
    if not flagged:
        return text
    lines = text.splitlines()
    kept = [marker if i in flagged else line for i, line in enumerate(lines)]
    return "\n".join(line for i, line in enumerate(kept) if marker or i not in flagged)


@lru_cache(maxsize=256)
def evidence(passage: str) -> str:
    """What of *passage* may support a claim: not the lines addressed to AI models."""
    return mark_instructions(passage, "")


class Meaning(Protocol):
    """Semantic similarity of a sentence to a passage, from 0 (unrelated) to 1 (same meaning)."""

    def similarity(self, sentence: str, passage: str) -> float: ...


class _Lexical:
    """No embedding model: the lexical signal decides alone."""

    def similarity(self, sentence: str, passage: str) -> float:
        return 1.0


_NO_MEANING = _Lexical()


class EmbeddingMeaning:
    """Cosine similarity to the closest one- or two-sentence window of the passage.

    *embed* maps texts to L2-normalised vectors (``Embedder.embed``). Passage windows are cached,
    since every sentence of a draft is checked against the same few passages.
    """

    def __init__(self, embed: Callable[[list[str]], npt.NDArray[np.float32]]) -> None:
        self._embed = embed
        self._windows: dict[str, npt.NDArray[np.float32]] = {}
        self._sentences: dict[str, npt.NDArray[np.float32]] = {}

    def _window_vectors(self, passage: str) -> npt.NDArray[np.float32]:
        vectors = self._windows.get(passage)
        if vectors is None:
            lines = split_sentences(unwrap(passage))
            sentences = [strip_list_marker(s) for s in lines] or [passage]
            pairs = [" ".join(sentences[i : i + 2]) for i in range(len(sentences) - 1)]
            vectors = self._embed(sentences + pairs)
            self._windows[passage] = vectors
        return vectors

    def similarity(self, sentence: str, passage: str) -> float:
        text = _CITATION.sub(" ", sentence).strip()
        vector = self._sentences.get(text)
        if vector is None:
            vector = self._sentences[text] = self._embed([text])[0]
        return float(np.max(self._window_vectors(passage) @ vector))


@dataclass
class Sentence:
    """One sentence of a draft with its citations and verdict."""

    text: str
    citations: list[int] = field(default_factory=list)
    verdict: str = "no_citation"
    reason: str = ""
    attributed: bool = False  # the citation was added by Deskmate, not written by the model

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": self.citations,
            "verdict": self.verdict,
            "reason": self.reason,
            "attributed": self.attributed,
        }


def citations_in(text: str) -> list[int]:
    numbers: list[int] = []
    for match in _CITATION.finditer(text):
        for part in match.group(1).split(","):
            number = int(part)
            if number not in numbers:
                numbers.append(number)
    return numbers


def strip_list_marker(text: str) -> str:
    """*text* without a leading list marker ("2. ", "- ")."""
    return _LIST_MARKER.sub("", text)


def content_words(text: str) -> set[str]:
    text = _CITATION.sub(" ", text.lower())
    return {w for w in _WORD.findall(text) if w not in STOPWORDS and len(w) > 1}


_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
} | {"once": "1", "twice": "2", "twenty": "20", "thirty": "30", "sixty": "60", "ninety": "90"}
# A number written as a word; "one" only before a unit ("one day"), not as in "the earlier one".
_NUMBER_WORD = re.compile(
    r"\b(?:(?:zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
    r"|sixty|ninety|twice)\b|once(?=\s*(?:[.,;:!?)]|$|\s+(?:in|a|per|every|only|more|and|or)\b))"
    r"|one(?=\s+(?:more\s+|extra\s+|working\s+|business\s+)?"
    r"(?:second|minute|hour|day|week|month|year|time)s?\b))",
    re.IGNORECASE,
)


def _numbers(text: str) -> set[str]:
    """The numbers in *text*, digits or words ("three times" is 3, "once" 1), without units."""
    text = _CITATION.sub(" ", text)
    found = {n.strip("£$€%").replace(",", "") for n in _NUMBER.findall(text)}
    return found | {_NUMBER_WORDS[w.lower()] for w in _NUMBER_WORD.findall(text)}


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            return word[: -len(suffix)]
    return word


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words (stemmed) that the passage contains."""
    words = {stem(w) for w in content_words(sentence)}
    if not words:
        return 1.0
    passage_words = {stem(w) for w in content_words(passage)}
    return len(words & passage_words) / len(words)


# Whole capitalised words only: "Duck" in "DuckDuckGo" or "My" in "MySQL" is not a name.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b(?:\s+[A-Z][a-z]+\b)*")


def _unknown_name(sentence: str, passage: str) -> str:
    """Names (teams, products, menus) in the claim must be the source's names."""
    words = {stem(w) for w in content_words(passage)}
    for name in _NAME.findall(_CITATION.sub(" ", sentence).strip()):
        missing = [w for w in name.lower().split() if w not in STOPWORDS and stem(w) not in words]
        if missing:
            return f'"{name}" does not appear in the cited source.'
    return ""


def fact_mismatch(sentence: str, passage: str) -> str:
    """Why a number, name or negation in *sentence* is not the passage's, or "" when all are."""
    absent = sorted(_numbers(sentence) - _numbers(passage))
    if absent:
        return f"{absent[0]} does not appear in the cited source."
    return (
        _unknown_name(sentence, passage)
        or answer_word_mismatch(sentence, passage)
        or polarity_mismatch(sentence, passage)
    )


_ANSWER_WORD = re.compile(r"^\s*(yes|no)\b[\s,.!:;—–-]+", re.IGNORECASE)
_RESTRICTION = re.compile(r"\bonly\b", re.IGNORECASE)


def answer_word_mismatch(sentence: str, passage: str) -> str:
    """Why a leading "Yes,"/"No," is not the passage's answer, or "" when it may be.

    The words after it can be the source's own while the answer word flips them: "Yes, you can
    view only one account at a time" answers "can I view two?" wrongly. "No" needs a negation or
    a restriction in the passage; "Yes" before a negated or restricted claim needs the passage's
    own "yes".
    """
    body = _CITATION.sub(" ", strip_list_marker(sentence))
    match = _ANSWER_WORD.match(body)
    if match is None:
        return ""
    rest = body[match.end() :]
    limited = _NEGATION.search(rest) or _RESTRICTION.search(rest)
    if match.group(1).lower() == "no":
        if _NEGATION.search(passage) or _RESTRICTION.search(passage):
            return ""
        return 'It answers "No", but the cited source negates nothing.'
    if limited and not re.search(r"\byes\b", passage, re.IGNORECASE):
        return 'It answers "Yes" to something the cited source limits or negates.'
    return ""


_NEGATION = re.compile(
    r"\b(?:no\s+longer|not|no|never|none|nothing|nobody|neither|nor|cannot|without)\b"
    r"|n['’]t\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.;!?]|,\s|\b(?:and|but|however|although|though|while|whereas)\b")
# How many content words after a negation it governs, and how many of them (at least, and at
# least which share) a sentence must repeat without the negation to contradict it.
NEGATION_SCOPE = 3
NEGATION_MATCH = 3


def _scopes(text: str, size: int = NEGATION_SCOPE) -> list[set[str]]:
    """The stemmed content words each negation in *text* governs ("don't [charge a fee]"): the
    first *size* of its clause."""
    text = _CITATION.sub(" ", text)
    scopes = []
    for match in _NEGATION.finditer(text):
        rest = text[match.end() :]
        end = _CLAUSE_END.search(rest)
        words = [w for w in _WORD.findall(rest[: end.start() if end else None].lower())]
        kept = [stem(w) for w in words if w not in STOPWORDS and len(w) > 1]
        if kept[:size]:
            scopes.append(set(kept[:size]))
    return scopes


def _contradicts(negating: str, plain: str) -> bool:
    """Whether *plain* repeats, without a negation, what a negation in *negating* governs."""
    plain_scopes = _scopes(plain, size=1000)  # all of a clause it negates is not plain
    negated_there = set().union(*plain_scopes) if plain_scopes else set()
    words = {stem(w) for w in content_words(plain)} - negated_there
    for scope in _scopes(negating):
        shared = scope & words
        if len(shared) >= min(NEGATION_MATCH, len(scope)) and len(shared) * 3 >= 2 * len(scope):
            return True
    return False


def _plain(text: str) -> str:
    return " ".join(text.split())


def polarity_mismatch(sentence: str, passage: str) -> str:
    """Why *sentence* says the opposite of its passage, or "" when it does not.

    It contradicts the passage when it repeats the words a negation of the passage governs
    without negating them ("We don't charge a separate fee" restated as "A separate charge
    applies"), or negates words the passage states plainly.
    """
    if _plain(strip_list_marker(_CITATION.sub(" ", sentence))) in _plain(passage):
        return ""  # it quotes the passage
    if _contradicts(passage, sentence):
        return "The cited source says this is not so."
    if _contradicts(sentence, passage):
        return "It is negated, but the cited source says it is so."
    denied = _only_denied(sentence, passage)
    if denied:
        return f'The cited source mentions "{denied}" only to say it is not so.'
    return ""


# The negations that deny a thing ("we don't accept donations", "no refunds", "never"), not
# those of a state ("if it is not received 7 days after ...").
_DENYING = frozenset({"no", "never", "cannot", "none", "nothing"})


_TOKEN = re.compile(rf"{_NEGATION.pattern}|{_WORD.pattern}", re.IGNORECASE)


@lru_cache(maxsize=256)
def _occurrences(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The stemmed content words of *text* that a negation governs somewhere, and those it
    uses plainly somewhere (cached: every sentence of a draft reads the same few passages)."""
    text = _CITATION.sub(" ", text)
    denied: set[str] = set()
    plain: set[str] = set()
    for clause in _CLAUSE_END.split(text):
        left = 0  # content words still governed by the last negation
        for match in _TOKEN.finditer(clause):
            word = match.group(0).lower()
            if word in _DENYING or re.search(r"n['’]t$", word):
                left = NEGATION_SCOPE
            elif word not in STOPWORDS and len(word) > 1:
                (denied if left > 0 else plain).add(stem(word))
                left -= 1
    return frozenset(denied), frozenset(plain)


def _only_denied(sentence: str, passage: str) -> str:
    """A word the claim states plainly that its source uses only under a negation ("You can
    send a donation" against "we don't accept donations"), or ""."""
    claim_denied, claim_plain = _occurrences(sentence)
    if claim_denied or _NEGATION.search(_CITATION.sub(" ", sentence)):
        return ""  # "keep it" for "don't cancel it": a claim that negates may move the negation
    source_denied, source_plain = _occurrences(passage)
    for word in sorted(claim_plain):
        if len(word) > 3 and word in source_denied and word not in source_plain:
            return word
    return ""


def judge(text: str, passages: Sequence[str], meaning: Meaning | None = None) -> Sentence:
    """The verdict for one sentence; ``passages[n-1]`` is source ``[n]``.

    Without *meaning* the verdict rests on the lexical signal alone.
    """
    cited = citations_in(text)
    sentence = Sentence(text=text, citations=cited)
    if not cited:
        sentence.reason = "This sentence cites no source."
        return sentence
    missing = [n for n in cited if not 1 <= n <= len(passages)]
    if missing:
        sentence.verdict = "unsupported"
        sentence.reason = f"Cites source {missing[0]}, which was not given."
        return sentence
    body = _LIST_MARKER.sub("", text)  # a step number ("2.") is not a fact to check
    cited_text = " ".join(evidence(passages[n - 1]) for n in cited)
    problem = fact_mismatch(body, cited_text)
    if problem:
        sentence.verdict = "unsupported"
        sentence.reason = problem
        return sentence
    score = support(body, cited_text)  # "[1, 2]" claims the cited sources together
    if meaning is None:
        meaning = _NO_MEANING
    similar = meaning.similarity(body, cited_text)
    if score < SUPPORT_THRESHOLD:
        sentence.verdict = "unsupported"
        sentence.reason = f"Only {score:.0%} of its key words are in the cited source."
    elif similar < MEANING_FLOOR:
        sentence.verdict = "unsupported"
        sentence.reason = (
            f"Its words are in the cited source, but not its meaning (similarity {similar:.2f})."
        )
    else:
        sentence.verdict = "supported"
    return sentence


def attribute(
    sentence: Sentence, passages: Sequence[str], meaning: Meaning | None = None
) -> Sentence:
    """Give an uncited sentence the source that carries it, if one clearly does."""
    if not content_words(_LIST_MARKER.sub("", sentence.text)):
        return sentence  # "Yes." or "I can do that." is carried by no passage in particular
    best = max(
        range(len(passages)),
        key=lambda i: support(sentence.text, evidence(passages[i])),
        default=None,
    )
    if best is None:
        return sentence
    judged = judge(f"{sentence.text} [{best + 1}]", passages, meaning)
    if judged.verdict != "supported":
        return sentence
    return Sentence(
        sentence.text,
        [best + 1],
        "supported",
        "Deskmate matched this sentence to its source.",
        attributed=True,
    )


def check(text: str, passages: Sequence[str], meaning: Meaning | None = None) -> Sentence:
    """One sentence's verdict; an uncited one is attributed when a source clearly carries it."""
    sentence = judge(text, passages, meaning)
    if sentence.verdict == "no_citation":
        sentence = attribute(sentence, passages, meaning)
    return sentence


# How a finished sentence ends: its punctuation (a closing bracket or quote may follow), then
# any citations.
_FINISHED = re.compile(rf"[.!?:;…][)\"'’”]*\s*(?:{_CITATION.pattern}\s*)*$")
UNFINISHED = "Unfinished: the model was stopped before the end of this sentence."


def flag_unfinished(sentences: Sequence[Sentence]) -> None:
    """When the model's writing was cut short (time budget, token cap, the agent's stop), its
    last sentence is not supported unless it ended: "Yes, you can pick any of the models from
    DuckD [1]" repeats its source's words, but it is not what the source says."""
    if sentences and not _FINISHED.search(sentences[-1].text.strip()):
        sentences[-1].verdict = "unsupported"
        sentences[-1].reason = UNFINISHED


# A question that asks for a thing, not for a yes or a no ("Which models can I pick?").
_OPEN_QUESTION = re.compile(r"^\W*(which|what|how|when|where|who|whom|whose|why)\b", re.IGNORECASE)


def flag_yes_no_to_open_question(question: str, sentences: Sequence[Sentence]) -> None:
    """A draft that opens with "Yes"/"No" to a question asking which, what, how... does not
    answer it, whatever its words: "Yes, you can pick any of the AI models from DuckDuckGo's
    AI-assisted answers [1]" (asked which models Duck.ai offers) repeats its source's words
    while saying what the source does not."""
    asked = _OPEN_QUESTION.match(question)
    if not sentences or asked is None:
        return
    first = sentences[0]
    answer_word = _ANSWER_WORD.match(_CITATION.sub(" ", strip_list_marker(first.text)))
    if answer_word is not None:
        first.verdict = "unsupported"
        first.reason = (
            f'It answers "{answer_word.group(1).capitalize()}" to a question that asks '
            f'"{asked.group(1).lower()}".'
        )


def verify(draft: str, passages: Sequence[str], meaning: Meaning | None = None) -> list[Sentence]:
    """Verdicts for every sentence of *draft*."""
    return [check(text, passages, meaning) for text in split_sentences(draft)]


def with_citations(draft: str, sentences: Sequence[Sentence]) -> str:
    """*draft* with the citations Deskmate attributed written after their sentences."""
    out, cursor = [], 0
    for (_start, end), sentence in zip(sentence_spans(draft), sentences, strict=True):
        out.append(draft[cursor:end])
        if sentence.attributed:
            out.append(" " + "".join(f"[{n}]" for n in sentence.citations))
        cursor = end
    out.append(draft[cursor:])
    return "".join(out)
