"""The words to listen for: product and topic names from the installed packs, for Whisper.

Whisper tiny.en mis-hears names it rarely saw ("roaming", "Cloud Block Storage"). Given as
``hotwords`` (text Whisper reads as if it had been said just before), the packs' own vocabulary
makes it likelier to write those words when they are said. The words come from the documents'
titles and headings (never their text): the terms that head the most documents first, one
spelling each, capped (:data:`MAX_CHARS`) because every word of context costs decoding time on
every turn and Whisper reads at most 223 tokens of it.

:func:`hotwords` reads only the packs' document lists (no search, no model) and is computed once
per set of packs: call it off the UI thread (the listening thread does).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.core.knowledge.index import Pack

MAX_CHARS = 300  # about 75 tokens of context
MIN_LETTERS = 3
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+-]*[A-Za-z0-9+]|[A-Za-z]")
COMMON = frozenset(
    str.split(
        """a about after all also an and any are as at be before but by can do does for from get
    has have how i if in into is it its my new not of off on one or our out over set so than that
    the their them then there these this to too up use using us was we what when where which who
    why will with you your yours faq faqs overview introduction guide get started getting about
    more other how-to step steps prerequisites related additional next create configure install
    add change enable disable delete view manage check log remove update list information
    example examples note notes"""
    )
)
TITLE_WEIGHT = 2  # a word in a title counts for this many headings

_lock = threading.Lock()
_cache: dict[tuple[tuple[str, str, str], ...], str] = {}


def hotwords(packs: Sequence[Pack], max_chars: int = MAX_CHARS) -> str:
    """The packs' vocabulary as one line of comma-separated terms ("" with no packs)."""
    key = tuple(sorted((p.id, p.version, str(p.path)) for p in packs))
    with _lock:
        if key not in _cache:
            _cache[key] = terms_line(_heads(packs), max_chars)
        return _cache[key]


def _heads(packs: Sequence[Pack]) -> list[tuple[str, list[str]]]:
    """Each document's title and headings."""
    documents = []
    for pack in packs:
        for source, meta in pack.documents_meta():
            headings = [text for _level, text, _at in pack.document_headings(source)]
            documents.append((str(meta.get("title", "")), headings))
    return documents


def terms_line(documents: Sequence[tuple[str, Sequence[str]]], max_chars: int = MAX_CHARS) -> str:
    """The terms that head the most *documents* (title, headings), a title counting
    TITLE_WEIGHT times, most first, joined by commas within *max_chars*; each term in its most
    frequent spelling."""
    spread: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for title, headings in documents:
        for weight, text in ((TITLE_WEIGHT, title), (1, " ".join(headings))):
            seen = set()
            for word in WORD.findall(text):
                low = word.lower()
                if (len(word) < MIN_LETTERS and not word.isupper()) or low in COMMON:
                    continue
                spellings.setdefault(low, Counter())[word] += 1
                seen.add(low)
            spread.update({low: weight for low in seen})
    line = ""
    for low, _count in sorted(spread.items(), key=lambda kv: (-kv[1], kv[0])):
        term = spellings[low].most_common(1)[0][0]
        longer = f"{line}, {term}" if line else term
        if len(longer) > max_chars:
            break
        line = longer
    return line
