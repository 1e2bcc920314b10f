"""Sentences of a text: where each one starts and ends.

Sentence boundaries come from pySBD (rule-based, the "Golden Rules" of sentence boundary
disambiguation), so "e.g.", "Dr.", "U.S." and decimals do not end a sentence. Around it, two rules
of our own: a line break always ends a sentence (a list item "1. Open Settings" or a greeting is a
sentence of its own), and citation markers ``[n]`` belong to the sentence before them, even when
they follow its full stop ("... 7 days. [1][3] Is it ...").

Knowledge articles are often hard-wrapped; ``unwrap`` joins a paragraph's lines first, so that a
sentence is not cut where its line ends. Code (a fenced block, or lines indented four spaces after
a blank line) is never joined: each of its lines stays a line (``code_lines`` finds them).

Splitting runs on every streamed token of a draft, so each line's spans are cached: while a draft
streams, only its last line is new.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Any

# A list item's marker at the start of a line ("1. ", "- ", "Step 2: "), for re.match.
LIST_ITEM = re.compile(r"\s*(?:\d{1,2}[.)]|[-*•]|step\s+\d+\s*[:.)-])\s+", re.IGNORECASE)
# Site-generator markup a document's stored text may still carry: Kramdown attribute lists and
# blocks ({:target="_blank"}, {::nomarkdown}, {:/}), Liquid tags and output ({% include x %},
# {{ site.baseurl }}) and Hugo shortcodes ({{< note >}}). Shown, it is noise to the agent.
SITE_MARKUP = re.compile(r"\{:[^{}\n]*\}|\{%[^%\n]*%\}|\{\{[^{}\n]*\}\}")
_WRAPPED = re.compile(r"(?<=\S)[ \t]*\n(?=[ \t]*\S)")
_LEADING_CITATIONS = re.compile(r"(?:\[\d+(?:\s*,\s*\d+)*\][ \t]*)+")
_WORD = re.compile(r"\w")


# pySBD's English abbreviations include US state codes that are everyday words at the end of a
# sentence ("... does this for me. I don't ..."): those end a sentence here.
_WORDS_NOT_ABBREVIATIONS = frozenset({"me", "is", "ok", "id", "may", "pa", "la", "hi"})


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd  # imported here: the window starts without it
    from pysbd.lang.english import English

    abbreviations = English.Abbreviation.ABBREVIATIONS
    English.Abbreviation.ABBREVIATIONS = [
        a for a in abbreviations if a not in _WORDS_NOT_ABBREVIATIONS
    ]
    return pysbd.Segmenter(language="en", clean=False)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of *text*, each with the citations that follow it."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        spans += [(offset + start, offset + end) for start, end in _line_spans(line.rstrip("\r\n"))]
        offset += len(line)
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences of *text*, each keeping the citation markers that follow it."""
    return [text[start:end] for start, end in sentence_spans(text)]


def line_offsets(text: str) -> list[tuple[int, str]]:
    """(offset, line) for every line of *text*, newline excluded."""
    out, offset = [], 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def indent_of(line: str) -> int:
    """How far *line* is indented, a tab counting as four spaces."""
    body = line.expandtabs(4)
    return len(body) - len(body.lstrip())


def code_lines(text: str) -> set[int]:
    """Numbers of the lines of *text* that are code: inside a ``` fence (the fences included), or
    indented four spaces or a tab and following a blank line or another code line (Markdown).

    Inside a list, as in CommonMark, code is indented four more than the item's text: a nested
    item or a paragraph of the item indented to its text ("1. Open it:" then "    - Public: ...")
    is prose, not code.
    """
    code: set[int] = set()
    fenced = False
    previous_blank = True
    content = 0  # where the current list item's text starts (0: not in a list)
    for number, line in enumerate(text.splitlines()):
        indent = indent_of(line)
        if line.lstrip().startswith("```"):
            fenced = not fenced
            code.add(number)
        elif fenced or (
            indent >= content + 4 and line.strip() and (previous_blank or number - 1 in code)
        ):
            code.add(number)
        elif line.strip():
            item = LIST_ITEM.match(line.expandtabs(4))
            if item and indent < content + 4:
                content = min(item.end(), indent + 5)  # "1.    Text": at most 4 spaces count
            elif indent == 0 and previous_blank:
                content = 0  # a paragraph after the list
        previous_blank = not line.strip()
    return code


def unwrap(text: str) -> str:
    """*text* with hard-wrapped lines joined: a line break inside a paragraph becomes a space,
    unless the next line starts a list item or either line is code. The length of *text* does
    not change."""
    code = code_lines(text)
    breaks = [m.start() for m in re.finditer("\n", text)] if code else []

    def join(match: re.Match[str]) -> str:
        line = bisect.bisect_left(breaks, match.start()) if code else -2
        if LIST_ITEM.match(text, match.end()) or line in code or line + 1 in code:
            return match.group(0)
        return " " * len(match.group(0))

    return _WRAPPED.sub(join, text) if "\n" in text else text


@lru_cache(maxsize=4096)
def _line_spans(line: str) -> tuple[tuple[int, int], ...]:
    if not _WORD.search(line):
        return ()
    spans: list[list[int]] = []
    cursor = 0
    for segment in _segmenter().segment(line):
        piece = segment.strip()
        if not piece:
            continue
        start = line.find(piece, cursor)
        if start < 0:  # pySBD changed the text: keep the rest of the line as one sentence
            spans.append([cursor, len(line)])
            break
        end = start + len(piece)
        cursor = end
        lead = _LEADING_CITATIONS.match(line, start)
        if lead and spans:  # "[1][3] Is it ...": the markers close the sentence before
            spans[-1][1] = start + len(lead.group(0).rstrip())
            start = lead.end()
        if start < end:
            spans.append([start, end])
    if len(spans) > 1 and LIST_ITEM.fullmatch(line[spans[0][0] : spans[0][1]] + " "):
        spans[1][0] = spans[0][0]  # "1.  Log in": pySBD ends a sentence at "1." + 2 spaces
        del spans[0]
    return tuple(_trimmed(line, a, b) for a, b in spans if _WORD.search(line[a:b]))


def _trimmed(line: str, start: int, end: int) -> tuple[int, int]:
    piece = line[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())
