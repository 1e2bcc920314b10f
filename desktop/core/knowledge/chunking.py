"""Split a document into passages that follow its structure.

Passages never cross a heading; paragraphs (and list items) are packed together until the next one
would exceed the token budget of the embedding model; a paragraph longer than the budget is cut
at sentence boundaries. Each passage keeps its exact character span in the document text, which
is what the source pane highlights.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from desktop.core.knowledge.documents import Document

_BLOCK = re.compile(r"\S(?:.*?\S)??(?=\n\s*\n|\s*\Z)", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document with its exact span in the document's text."""

    source: str
    title: str
    heading: str
    start: int
    end: int
    text: str
    page: int | None = None

    def embedding_text(self) -> str:
        """What is embedded: the passage with its title and section, which carry its topic."""
        context = " > ".join(part for part in (self.title, self.heading) if part)
        return f"{context}\n{self.text}"


def estimate_tokens(text: str) -> int:
    """A cheap stand-in for a tokenizer: about 1.3 word-piece tokens per word."""
    return int(len(text.split()) * 1.3) + 1


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    for match in _BLOCK.finditer(text):
        yield match.start(), match.end()


def _split_long(
    text: str, start: int, end: int, budget: int, count: Callable[[str], int]
) -> Iterator[tuple[int, int]]:
    """Cut one oversized block at sentence ends (or words) into spans within *budget*."""
    cuts = [start] + [start + m.end() for m in _SENTENCE_END.finditer(text[start:end])] + [end]
    piece_start = start
    last_good = start
    for cut in cuts[1:]:
        if count(text[piece_start:cut]) > budget and last_good > piece_start:
            yield from _split_words(text, piece_start, last_good, budget, count)
            piece_start = last_good
        last_good = cut
    if piece_start < end:
        yield from _split_words(text, piece_start, end, budget, count)


def _split_words(
    text: str, start: int, end: int, budget: int, count: Callable[[str], int]
) -> Iterator[tuple[int, int]]:
    if count(text[start:end]) <= budget:
        yield start, end
        return
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    step = max(1, int(budget / 1.5))
    index = 0
    while index < len(words):
        # The word-count guess is only a first try: a real tokenizer may need many tokens for a
        # word (URLs, code, numbers), so shrink the group until it fits (one word always goes).
        size = min(step, len(words) - index)
        while size > 1 and count(text[words[index][0] : words[index + size - 1][1]]) > budget:
            size = max(1, size * 3 // 4)
        yield words[index][0], words[index + size - 1][1]
        index += size


def chunk_document(
    doc: Document, budget: int = 200, count: Callable[[str], int] = estimate_tokens
) -> list[Chunk]:
    """Passages of *doc*, each at most *budget* tokens, within one section and one page."""
    heading_starts = {h.start for h in doc.headings}
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in _blocks(doc.text):
        if start in heading_starts:
            if current:
                spans.append(current)
            current = None
            continue
        if count(doc.text[start:end]) > budget:
            if current:
                spans.append(current)
                current = None
            spans.extend(_split_long(doc.text, start, end, budget, count))
            continue
        same_page = current is None or doc.page_at(current[0]) == doc.page_at(start)
        if current and same_page and count(doc.text[current[0] : end]) <= budget:
            current = (current[0], end)
        else:
            if current:
                spans.append(current)
            current = (start, end)
    if current:
        spans.append(current)
    return [
        Chunk(
            doc.source,
            doc.title,
            doc.heading_path(start),
            start,
            end,
            doc.text[start:end].strip(),
            doc.page_at(start),
        )
        for start, end in spans
        if doc.text[start:end].strip()
    ]
