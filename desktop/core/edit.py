"""Editing a draft before copying it: what the editor starts with, whether the edited text may be
copied, and how far it is from the draft (for the audit trail).

The editor holds exactly what Copy would copy (:func:`desktop.core.render.copy_text`). Policy
``ui.copy_flagged`` still holds for an edited draft:

* allowed (the default): copying an edited draft that needed checking asks first, and the
  question says the draft had flagged sentences and how many of them are still in the text;
* forbidden: the sentences the checks flagged are left out of the editor, and an edited text is
  refused while any of them is in it (pasted back, say). "In it" ignores case, spacing,
  punctuation and citation marks, so removing a "[2]" or a full stop does not get one past; a
  sentence the agent rewrites in their own words is their own text. A stopped or cut-short draft
  stays refused, as it is unedited.

The edit distance is the Levenshtein distance on characters between the copied text and the
draft's copy text, after their common beginning and end are set aside (edits are local, so this
is usually tiny). It is computed with a bit-parallel algorithm (Myers/Hyyrö: one pass of big
integer operations per character) while the two remaining lengths' product is at most
:data:`MAX_CELLS`; beyond that (texts of megabytes rewritten throughout) on words (runs of non-space
characters) under the same bound; beyond that, the upper bound ``max(len)`` in characters. The
unit says which one a number is.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from desktop.core import render
from desktop.core.text import sentence_spans

if TYPE_CHECKING:
    from desktop.core.assist import Answer
    from desktop.core.settings import Settings

MAX_CELLS = 1_000_000_000  # ~0.35 s on one core (two differing 31k-character texts)
CHARACTERS, WORDS, UPPER_BOUND = "characters", "words", "characters_upper_bound"
_CITATIONS = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_WORDS = re.compile(r"\w+")
_TOKENS = re.compile(r"\S+")
_CHUNK = 4096


@dataclass(frozen=True)
class Distance:
    """An edit distance and its unit: characters, words, or an upper bound in characters."""

    value: int
    unit: str


@dataclass(frozen=True)
class CopyCheck:
    """Whether an edited text may be copied: refused (why), or with a question first (why)."""

    refused: str = ""
    warning: str = ""
    flagged_left: int = 0  # flagged sentences still in the edited text


def editor_text(answer: Answer, with_sources: bool, flagged_allowed: bool) -> tuple[str, int]:
    """What the editor starts with, and how many flagged sentences were left out of it: the copy
    text, without the flagged sentences when policy forbids copying them."""
    flagged = _flagged_indexes(answer)
    if flagged_allowed or not flagged:
        return render.copy_text(answer, with_sources), 0
    spans = sentence_spans(answer.draft)
    pieces, cursor = [], 0
    for index in flagged:
        if index < len(spans):
            pieces.append(answer.draft[cursor : spans[index][0]])
            cursor = spans[index][1]
    pieces.append(answer.draft[cursor:])
    kept = re.sub(r"[ \t]{2,}", " ", "".join(pieces))
    kept = "\n".join(line.strip() for line in kept.splitlines())
    trimmed = replace(answer, draft=re.sub(r"\n{3,}", "\n\n", kept))
    return render.copy_text(trimmed, with_sources), len(flagged)


def check(answer: Answer, text: str, flagged_allowed: bool) -> CopyCheck:
    """Whether *text*, the agent's edit of *answer*, may be copied under policy."""
    left = len(flagged_left(answer, text))
    base = render.copy_warning(answer)
    if not base:
        return CopyCheck()
    if not flagged_allowed:
        if left:
            return CopyCheck(
                f"{_sentences(left)} the checks flagged {'is' if left == 1 else 'are'} still in "
                "your edited text, and your IT department does not allow copying them. "
                "Remove them to copy it.",
                flagged_left=left,
            )
        if render.incomplete(answer):
            return CopyCheck(f"{base} Your IT department does not allow copying it.")
        return CopyCheck()
    flagged = len(_flagged_indexes(answer))
    why = []
    if flagged:
        why.append(
            f"it had {flagged} of its {len(answer.sentences)} sentences not verified, "
            f"{left} of them still in your text"
        )
    if render.incomplete(answer):
        why.append(render.incomplete(answer))
    warning = "You edited a draft that needs checking: " + "; ".join(why) + "."
    return CopyCheck(warning=warning, flagged_left=left)


def flagged_left(answer: Answer, text: str) -> list[str]:
    """The flagged sentences of *answer* still in *text* (case, spacing, punctuation and citation
    marks ignored; whole words only)."""
    words = f" {_normal(text)} "
    found = []
    for index in _flagged_indexes(answer):
        sentence = _normal(answer.sentences[index].text)
        if sentence and f" {sentence} " in words:
            found.append(answer.sentences[index].text)
    return found


def distance(a: str, b: str, max_cells: int = MAX_CELLS) -> Distance:
    """The Levenshtein distance between *a* and *b*, bounded in work (see the module's note)."""
    start = _common_prefix(a, b)
    a, b = a[start:], b[start:]
    end = _common_prefix(a[::-1], b[::-1])
    a, b = a[: len(a) - end], b[: len(b) - end]
    if len(a) * len(b) <= max_cells:
        return Distance(levenshtein(a, b), CHARACTERS)
    words_a, words_b = _TOKENS.findall(a), _TOKENS.findall(b)
    if len(words_a) * len(words_b) <= max_cells:
        return Distance(levenshtein(words_a, words_b), WORDS)
    return Distance(max(len(a), len(b)), UPPER_BOUND)


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The exact Levenshtein distance between two sequences (Hyyrö's bit-vector form of Myers'
    algorithm: *a* is held as bits of big integers, one step per item of *b*)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    a, b = b, a  # the shorter one is the bit pattern
    m = len(a)
    peq: dict[Hashable, int] = {}
    for i, item in enumerate(a):
        peq[item] = peq.get(item, 0) | (1 << i)
    mask, high = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for item in b:
        eq = peq.get(item, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def _common_prefix(a: str, b: str) -> int:
    """The length of the common beginning of *a* and *b*, compared in chunks (fast on 10 MB)."""
    limit, at = min(len(a), len(b)), 0
    while at < limit and a[at : at + _CHUNK] == b[at : at + _CHUNK]:
        at += _CHUNK
    at = min(at, limit)
    while at < limit and a[at] == b[at]:
        at += 1
    return at


def _flagged_indexes(answer: Answer) -> list[int]:
    return [i for i, s in enumerate(answer.sentences) if s.verdict != "supported"]


def _normal(text: str) -> str:
    return " ".join(_WORDS.findall(_CITATIONS.sub(" ", render.plain(text)).lower()))


def _sentences(count: int) -> str:
    return "1 sentence" if count == 1 else f"{count} sentences"


def outgoing(answer: Answer, text: str, settings: Settings) -> tuple[str, int]:
    """What goes on the clipboard for *answer* whose copy text is *text*, and how many personal
    details were masked: a wrap-up note is redacted when ``privacy.redact_wrapup_copy`` is on
    (it goes into the CRM, issue 17); replies go to the customer as written."""
    if answer.task != "wrapup" or not settings.get("privacy.redact_wrapup_copy"):
        return text, 0
    from desktop.core.redact import RedactOptions, redact  # phonenumbers: only when needed

    done = redact(text, RedactOptions.from_settings(settings))
    return done.text, len(done.spans)
