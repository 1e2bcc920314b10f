"""Whether the retrieved passages answer a question, or no approved source covers it.

Similarity alone cannot tell: a question about a product the knowledge never mentions ("How does
your VPN's price compare to NordVPN's?") lands as close to the VPN pricing article as a question
that article answers. What does tell is the question's own words. Each content word (stop words
removed, lightly stemmed) is weighted by how rare it is in the installed packs (its IDF over the
packs' passages), and the question is answerable when

* it names nothing the knowledge has never heard of: a word absent from every pack that is not a
  common English word (not a single token of the embedding model's WordPiece vocabulary; a
  product, a company, a brand: "nordvpn", "startpage", "antivirus"), and
* the best passages carry enough of its weight (coverage).

Two more checks read what the question asks for (:func:`assess`): a question asking for a price,
a number, a percentage, a date or a recommendation needs a best passage that states one
(:func:`lacking`), and a name the question is about ("my Apple Watch", "with Netflix", "Cloud
Functions") must occur in the best passages (:func:`absent_focus`).

Casual words absent from the packs ("stuff", "laptop", "wife") are common words: they weigh on
coverage but do not refuse on their own. The per-pack word statistics are computed once per pack
version and cached under the cache folder (a pack folder may be read-only), keyed by the hash of
the pack's manifest.

The thresholds were chosen on the tuning half of benchmarks/data/helpcentre_questions.jsonl and
checked on the held-out half (benchmarks/answerability.py; benchmarks/results/answerability.md,
which also lists the approaches tried and rejected).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import Hit, Pack

STATS_VERSION = 1
# Passages whose words count as covering the question: the best two (chosen on tune).
COVERING_PASSAGES = 2
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CASED_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_NUMBER = re.compile(r"\d")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any anyone anything are aren as at
    be because been before being below between both but by can cannot can't cant could couldn
    did didn do does doesn doing don done down during each either else even ever every few for
    from further get gets getting got had hadn has hasn have haven having he her here hers him his
    how i i'd i'll i'm i've if in into is isn it it's its itself just let like lol me might mine
    more most much must my myself need needs no nor not now of off on once one only or other our
    ours out over own please pls really same say says she should so some someone something still
    such than thank thanks that that's the their theirs them then there these they this those
    through thru to too under until up us very want wanted wants was wasn way we were weren what
    what's when where which while who whom why will with won would wouldn yes yet you you'd
    you're your yours yourself customer customers anymore actually tell know cust im ive id
    youre theyre theyve weve dont doesnt didnt isnt wasnt arent werent hadnt hasnt havent wont
    wouldnt couldnt shouldnt whats thats theres""".split()  # noqa: SIM905
)
# British spellings, written the American way in both the question and the passages.
_SPELLING = (
    (re.compile(r"(?<=[vlbnm])our(?=ite|ed|s|$)"), "or"),
    (re.compile(r"(?<=[a-z]{3})is(?=e$|ed$|es$|ation)"), "iz"),
    (re.compile(r"(?<=[a-z]{3})tre$"), "ter"),
)


def stem(word: str) -> str:
    """A light stem, the same for a question and the passages: plurals, -ing, -ed."""
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    for pattern, replacement in _SPELLING:
        word = pattern.sub(replacement, word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def terms(text: str) -> list[str]:
    """The stems of *text*'s words, stop words left out, in order (repeats kept)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class TermStats:
    """How many passages each stem occurs in, over one or more packs."""

    passages: int
    frequency: dict[str, int]

    def idf(self, term: str) -> float:
        return math.log((self.passages + 1) / (self.frequency.get(term, 0) + 0.5))

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> TermStats:
        frequency: Counter[str] = Counter()
        count = 0
        for text in texts:
            count += 1
            frequency.update(set(terms(text)))
        return cls(count, dict(frequency))

    @classmethod
    def merged(cls, parts: Sequence[TermStats]) -> TermStats:
        total: Counter[str] = Counter()
        for part in parts:
            total.update(part.frequency)
        return cls(sum(p.passages for p in parts), dict(total))


def manifest_hash(pack_dir: Path) -> str:
    return hashlib.sha256((pack_dir / "manifest.json").read_bytes()).hexdigest()


def pack_stats(pack: Pack, cache_dir: Path | None) -> TermStats:
    """*pack*'s term statistics: from the cache, or computed from its passages and cached."""
    return _pack_stats(pack, manifest_hash(pack.path), str(cache_dir) if cache_dir else "")


@lru_cache(maxsize=32)
def _pack_stats(pack: Pack, digest: str, cache_dir: str) -> TermStats:
    file = Path(cache_dir) / "answerable" / f"{digest}.json" if cache_dir else None
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("version") == STATS_VERSION:
                return TermStats(int(data["passages"]), dict(data["frequency"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing or damaged: compute it again
    stats = TermStats.of_texts(pack.passage_texts())
    if file is not None:
        _write_json(file, {"version": STATS_VERSION, **stats.__dict__})
    return stats


def _write_json(file: Path, data: object) -> None:
    """Write atomically; a cache that cannot be written is only a cache."""
    temp = ""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temp, file)
    except OSError:
        if temp:
            Path(temp).unlink(missing_ok=True)


def vocabulary_file(embedder: Embedder) -> Path | None:
    """The embedding model's WordPiece vocabulary, if it has one."""
    folder = embedder.model_dir
    return folder / "vocab.txt" if folder is not None and (folder / "vocab.txt").is_file() else None


@lru_cache(maxsize=4)
def common_words(vocab_file: Path | None) -> frozenset[str]:
    """Words that are a single WordPiece token of the embedding model: common English words."""
    if vocab_file is None:
        return frozenset()
    try:
        lines = vocab_file.read_text(encoding="utf-8").split()
    except OSError:
        return frozenset()
    return frozenset(w for w in lines if w.isalpha())


@dataclass(frozen=True)
class Assessment:
    """Why a question is (not) answered by the passages."""

    answerable: bool
    coverage: float  # IDF-weighted share of the question's terms found in the best passages
    unknown: tuple[str, ...]  # rare words absent from every pack (a product, a brand)
    absent: tuple[str, ...] = ()  # names the question is about that the best passages never use
    lacking: tuple[str, ...] = ()  # what the question asks for that no best passage states

    @property
    def reason(self) -> str:
        if self.unknown:
            return f"The knowledge never mentions {', '.join(self.unknown)}."
        if self.absent:
            return f"The best passages never mention {', '.join(self.absent)}."
        if self.lacking:
            return (
                f"The question asks for {' or '.join(self.lacking)}; the best passages state none."
            )
        if not self.answerable:
            return (
                f"The best passages cover only {self.coverage:.0%} of what the question asks about."
            )
        return ""


def unknown_terms(question: str, stats: TermStats, common: frozenset[str]) -> tuple[str, ...]:
    """The question's rare words that occur in no passage: not common English, no digits.

    In a question written with capitals, only capitalised words count (names: "NordVPN",
    "Shopify"); in one typed all in lower case, any word does.
    """
    cased = any(c.isupper() for c in question)
    found = []
    for match in _CASED_WORD.finditer(question):
        written = match.group()
        if cased and not _looks_like_name(written, question[: match.start()]):
            continue
        word = written.lower().replace("’", "'").removesuffix("'s")
        if word in STOPWORDS or len(word) < 3 or "'" in word or _NUMBER.search(word):
            continue
        if stats.frequency.get(stem(word), 0) or _is_common(word, common):
            continue
        name = re.sub(r"['’]s$", "", written)
        if name not in found:
            found.append(name)
    return tuple(found)


def _looks_like_name(word: str, before: str) -> bool:
    """A capital inside the word, or a capital first letter not at the start of a sentence."""
    if any(c.isupper() for c in word[1:]):
        return True
    starts_sentence = not before.strip() or before.rstrip()[-1] in ".!?:-–—\"'("
    return word[0].isupper() and not starts_sentence


def _is_common(word: str, common: frozenset[str]) -> bool:
    """Whether *word*, or *word* without an inflection, is a common English word."""
    if word in common:
        return True
    for suffix in ("s", "es", "ed", "d", "ing", "er", "ers", "ly"):
        base = word.removesuffix(suffix)
        if base != word and len(base) >= 3:
            if base in common or base + "e" in common:
                return True
            if len(base) > 3 and base[-1] == base[-2] and base[:-1] in common:
                return True  # plugged -> plug
    return False


def coverage(
    question: str, hits: Sequence[Hit], stats: TermStats, passages: int = COVERING_PASSAGES
) -> float:
    """The IDF-weighted share of the question's distinct terms found in the best passages."""
    asked = set(terms(question))
    if not asked:
        return 1.0
    seen: set[str] = set()
    for hit in hits[:passages]:
        seen.update(terms(f"{hit.title} {hit.heading} {hit.text}"))
    weights = {t: stats.idf(t) for t in asked}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in seen) / total if total else 1.0


# What the question asks for, and whether a best passage states a value of that kind. A question
# that asks "how much", "how many", "what percentage", "what date" or "should I" is answered only
# by a passage holding a price, a number, a percentage, a date or a recommendation: the article
# that talks about the subject without the figure does not answer it.
TYPED_PASSAGES = 3
_CLAUSE = r"(?:^|[.?!,;:—–(-]\s*|\b(?:and|but|so|or|also|pls|please)\s+)"
_ASKS = {
    "a price": re.compile(
        r"\bhow much (?:is|are|does|do|will|would|did|was|were|to|for|money)\b"
        r"|\bhow much\b[^?.]{0,40}\b(?:cost|charge|pay)"
        r"|\b(?:what|which)\b[^?.]{0,50}\b(?:price|cost|fee|charge|rate|revenue|salary|income|profit)s?\b"
        r"|\b(?:price|prices|pricing|priced|cheaper|expensive|revenue|salary)\b"
        r"|\b(?:cost|costs|charge|charged|pay|paying)\s+(?:extra|more|anything|less)\b"
        r"|\bis there an? (?:charge|fee|cost)\b|\bcharged for\b|\bcosts? per\b|[$£€]\s?\d",
        re.IGNORECASE,
    ),
    "a percentage": re.compile(
        r"\b(?:what|which|how much)\b[^?.]{0,20}\b(?:percentage|percent|proportion)\b",
        re.IGNORECASE,
    ),
    "a number": re.compile(
        _CLAUSE
        + r"(?:exactly\s+|roughly\s+|about\s+)?how (?:many|big|large|long|soon|often|fast)\b"
        r"|\b(?:what|which)(?: i|')s the (?:max|maximum|min|minimum|largest|biggest|smallest|"
        r"highest|lowest|longest|shortest|limit|most|least)\b",
        re.IGNORECASE,
    ),
    "a date": re.compile(
        r"\b(?:release|launch|due|expiry|end|start) date\b"
        r"|\b(?:what|which) (?:date|year|month|day)\b"
        r"|\bwhen (?:is|are|will|was|were|did|does|do)\b[^?.]{0,60}\b(?:release|launch|come out|"
        r"coming out|available|ready|arriv|support|add|introduc)",
        re.IGNORECASE,
    ),
    "a recommendation": re.compile(
        r"\b(?:should i|should we|is it worth|worth it|do you recommend|would you recommend|"
        r"what do you recommend|which is better|better for me|best for me)\b",
        re.IGNORECASE,
    ),
}
# "how much" on its own: a number, unless the question already asks for a price.
_HOW_MUCH = re.compile(_CLAUSE + r"(?:exactly\s+|roughly\s+|about\s+)?how much\b", re.IGNORECASE)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|half|single|double|twice"
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_VALUES = {
    "a price": re.compile(
        r"[$£€¥]\s?\d|\d\s?(?:usd|gbp|eur|dollars?|pounds?|euros?|cents?|pence|p)\b"
        r"|\b(?:free|no[- ]charge|no[- ]cost|no additional|no extra|included|complimentary|"
        r"at no|without charge|not charged|not be charged|won't be charged|no fee|"
        r"costs? nothing)\b",
        re.IGNORECASE,
    ),
    "a percentage": re.compile(r"%|\bper ?cent", re.IGNORECASE),
    "a number": re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE),
    "a date": re.compile(
        rf"\b(?:(?:{_MONTHS})\b\.?\s*\d|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b|(?:19|20)\d\d\b"
        r"|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
        rf"|(?:\d+|{_NUMBER_WORDS})\s+(?:working\s+|business\s+)?(?:minute|hour|day|week|month|year)s?\b"
        r"|today|tomorrow|quarter|q[1-4]\b|now available|already available)",
        re.IGNORECASE,
    ),
    "a recommendation": re.compile(
        r"\b(?:recommend\w*|we suggest|suggested|advis\w+|best practice|best option|you should|"
        r"should use|better|prefer\w*|ideal)\b",
        re.IGNORECASE,
    ),
}


def asked_for(question: str) -> tuple[str, ...]:
    """What kinds of value *question* asks for ("a price", "a number", "a date"…), if any."""
    found = [kind for kind, pattern in _ASKS.items() if pattern.search(question)]
    if "a price" not in found and "a number" not in found and _HOW_MUCH.search(question):
        found.append("a number")
    return tuple(found)


def stated(hits: Sequence[Hit], passages: int = TYPED_PASSAGES) -> frozenset[str]:
    """The kinds of value (see :func:`asked_for`) the best passages state."""
    text = " ".join(f"{hit.title} {hit.heading} {hit.text}" for hit in hits[:passages])
    return frozenset(kind for kind, pattern in _VALUES.items() if pattern.search(text))


def lacking(question: str, hits: Sequence[Hit], passages: int = TYPED_PASSAGES) -> tuple[str, ...]:
    """What *question* asks for when none of it is stated in the best passages; else ().

    A question asking for two things ("how much is it and how long does it take?") is
    answered by passages stating either: the draft answers that part.
    """
    asked = asked_for(question)
    if not asked or set(asked) & stated(hits, passages):
        return ()
    return asked


# Names a question is about: after a possessive or a preposition that introduces the thing it
# concerns ("my Apple Watch", "with Netflix", "Apple's"), or the last word of a multi-word name
# (the word that tells "Cloud Functions" from "Cloud Files"). Places ("in the UK") are context.
FOCUS_BEFORE = frozenset(
    "my your our their his her with for on via using through alongside into".split()  # noqa: SIM905
)


def _name_runs(question: str) -> list[list[re.Match[str]]]:
    """The question's names, as runs of consecutive capitalised words ("Apple Watch")."""
    words = list(_CASED_WORD.finditer(question))
    runs: list[list[re.Match[str]]] = []
    for i, match in enumerate(words):
        written = match.group()
        plain = written.lower().replace("’", "'").removesuffix("'s")
        unit = i > 0 and words[i - 1].group().isdigit()  # "12 GB" is a size, not a name
        if unit or plain in STOPWORDS or not _looks_like_name(written, question[: match.start()]):
            continue
        joined = runs and not question[runs[-1][-1].end() : match.start()].strip()
        if joined and runs[-1][-1] is words[i - 1]:
            runs[-1].append(match)
        else:
            runs.append([match])
    return runs


def absent_focus(
    question: str,
    hits: Sequence[Hit],
    passages: int = TYPED_PASSAGES,
    introducers: frozenset[str] = FOCUS_BEFORE,
) -> tuple[str, ...]:
    """The names *question* is about that none of the best passages uses (cased questions)."""
    if not any(c.isupper() for c in question):
        return ()
    seen: set[str] = set()
    for hit in hits[:passages]:
        seen.update(terms(f"{hit.title} {hit.heading} {hit.text}"))
    found: list[str] = []
    for run in _name_runs(question):
        before = question[: run[0].start()].split()
        owned = bool(before) and before[-1].lower() in introducers
        owned = owned or any(re.search(r"['’]s$", m.group()) for m in run)
        for position, match in enumerate(run):
            name = re.sub(r"['’]s$", "", match.group())
            head = len(run) > 1 and position == len(run) - 1
            if (owned or head) and not _NUMBER.search(name) and stem(name.lower()) not in seen:
                found.append(name)
    return tuple(dict.fromkeys(found))


def assess(
    question: str,
    hits: Sequence[Hit],
    stats: TermStats,
    common: frozenset[str],
    min_coverage: float,
    *,
    answer_type: bool = False,
    focus: bool = False,
) -> Assessment:
    """Whether *hits* (best first) answer *question*, from its words (see the module doc).

    With *answer_type*, a question asking for a price, a number, a percentage, a date or a
    recommendation also needs a best passage that states one (:func:`lacking`); with *focus*,
    the names it is about (after "my", "with", "for"…, or a product's last word) must occur in
    the best passages (:func:`absent_focus`).
    """
    unknown = unknown_terms(question, stats, common)
    covered = coverage(question, hits, stats)
    absent = absent_focus(question, hits) if focus else ()
    missing = lacking(question, hits) if answer_type else ()
    ok = not unknown and not absent and not missing and covered >= min_coverage
    return Assessment(ok, covered, unknown, absent, missing)


def assess_in_context(context: AppContext, question: str, hits: Sequence[Hit]) -> Assessment:
    """:func:`assess` with the context's packs, embedding vocabulary and settings."""
    settings = context.settings
    min_coverage = float(settings.get("answer.min_coverage"))
    names = bool(settings.get("answer.refuse_unknown_names"))
    answer_type = bool(settings.get("answer.match_answer_type"))
    focus = bool(settings.get("answer.refuse_absent_focus"))
    if min_coverage <= 0 and not (names or answer_type or focus):
        return Assessment(True, 1.0, ())
    stats = TermStats.merged(_usable_stats(context))
    common = common_words(vocabulary_file(context.embedder)) if names else frozenset()
    found = assess(
        question, hits, stats, common, min_coverage, answer_type=answer_type, focus=focus
    )
    if not names and found.unknown:
        ok = found.coverage >= min_coverage and not (found.absent or found.lacking)
        return Assessment(ok, found.coverage, (), found.absent, found.lacking)
    return found


def _usable_stats(context: AppContext) -> list[TermStats]:
    """The statistics of every installed pack that can be read (a damaged one is left out)."""
    from desktop.core.errors import KnowledgeError

    found = []
    for pack in context.packs():
        try:
            found.append(pack_stats(pack, context.paths.cache))
        except KnowledgeError:
            continue  # Pack.passage_texts names the damage; search already leaves it out
    return found
