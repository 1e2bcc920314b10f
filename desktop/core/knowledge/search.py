"""Hybrid search over one or more knowledge packs.

Vector (semantic) and full-text (BM25) candidates are fused by a weighted sum: the cosine
similarity plus a small share of the query's normalised BM25 score (CombSUM). On the labelled
Rackspace questions (benchmarks/retrieval.py) this beat reciprocal-rank fusion, which let the much
weaker keyword ranking pull good semantic matches down. The order also counts how much of the
query's words a passage holds, each weighted by how rare it is among the candidates
(``COVERAGE_WEIGHT``): the passage naming "Switzerland" beats the general one. A relevance floor
on the semantic similarity makes "nothing relevant" an answer rather than the least bad match,
except for passages that contain an exact code from the query (an error code, a model number),
which are what an agent typed them for. Near-duplicate passages (the same paragraph in several
articles) are collapsed into the best-ranked one, and each document contributes at most a few
passages so one long article cannot crowd out the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.core.knowledge.index import Hit, Pack

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.settings import Settings

CANDIDATES = 40
# Weight of the normalised BM25 score next to cosine similarity. Chosen on the even-numbered
# labelled questions, checked on the odd-numbered ones (benchmarks/results/retrieval.md).
KEYWORD_WEIGHT = 0.05
# Short keyword-style queries ("router lights") give the embedding little to go on, so exact terms
# count for more; on the labelled set this changed nothing on the tuning half and helped slightly
# on the held-out half.
SHORT_QUERY_WORDS = 4
SHORT_QUERY_KEYWORD_WEIGHT = 0.15
# Weight of the share of the query's words a passage (title, heading, text) contains, each word
# weighted by how rare it is among the candidates (IDF over them): the passage that has the
# words that tell the candidates apart ("Switzerland", "family plan") moves up. Chosen on the
# tune half of data/helpcentre_questions.jsonl, checked on the labelled Rackspace questions
# (benchmarks/results/retrieval.md: recall@1 0.688 -> 0.750 on tune, 0.637 -> 0.650 on Rackspace).
# It orders hits only: the relevance a hit reports, which the floors read, is unchanged.
COVERAGE_WEIGHT = 0.1
# An exact code ("NX-4417", "E52", "x86_64"): a run of letters, digits, "_" and "-" that starts with
# a letter or digit, has 3 or more characters and holds a digit and a letter. Found run by run
# with patterns that never look ahead: one regex with look-aheads took time quadratic in the
# length of a run (40 s for an 80 KB "a-a-a-…" query).
_RUN = re.compile(r"[\w-]+")
_CODE_START = re.compile(r"(?:^|(?<=-))[A-Za-z0-9]")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")
MODES = ("hybrid", "vector", "keyword")


@dataclass(frozen=True)
class SearchOptions:
    """How to search: result count, floor, per-document cap, filters and ranking mode."""

    limit: int = 8
    min_score: float = 0.3
    per_document: int = 2
    mode: str = "hybrid"
    categories: tuple[str, ...] = ()
    locale: str | None = None
    collapse_above: float = 0.95


@dataclass
class _Candidate:
    pack: Pack
    row: dict[str, Any]
    similarity: float
    keyword: float = 0.0  # BM25 score / the best BM25 score for this query in this pack
    fused: float = 0.0  # the relevance a hit reports (Hit.rank_score; floors apply to it)
    order: float = 0.0  # what ranks it: fused plus the query's word coverage (hybrid)
    duplicates: list[str] = field(default_factory=list)


def options_from_settings(
    settings: Settings,
    *,
    limit: int | None = None,
    categories: tuple[str, ...] = (),
    locale: str | None = None,
) -> SearchOptions:
    """The search options the settings ask for (``search.limit``, ``search.min_score``), with
    *limit* in place of the setting when given, and the filters. The one place the window's
    searches and :meth:`~desktop.core.assist.Assistant.search` take them from."""
    return SearchOptions(
        limit=limit or int(settings.get("search.limit")),
        min_score=float(settings.get("search.min_score")),
        categories=categories,
        locale=locale,
    )


def categories(packs: Iterable[Pack]) -> list[str]:
    """Every document category in *packs*, sorted: the choices of a category filter."""
    return sorted(
        {
            str(meta["category"])
            for pack in packs
            for _, meta in pack.documents_meta()
            if meta.get("category")
        }
    )


def sql_quote(value: str) -> str:
    """*value* as a LanceDB (SQL) string literal."""
    return "'" + value.replace("'", "''") + "'"


def where_clause(options: SearchOptions) -> str | None:
    """The LanceDB filter for the options' category and locale filters, or None."""
    parts = []
    if options.categories:
        parts.append(f"category IN ({', '.join(sql_quote(c) for c in options.categories)})")
    if options.locale:
        prefix = options.locale.split("-")[0]
        parts.append(
            f"(locale = '' OR locale = {sql_quote(options.locale)} "
            f"OR locale LIKE {sql_quote(prefix + '-%')} OR locale = {sql_quote(prefix)})"
        )
    return " AND ".join(parts) or None


def _gather(
    packs: Iterable[Pack], qvec: Any, query: str, options: SearchOptions
) -> dict[tuple[str, int], _Candidate]:
    import numpy as np

    where = where_clause(options)
    found: dict[tuple[str, int], _Candidate] = {}
    for pack in packs:
        if options.mode in ("hybrid", "vector"):
            for row in pack.vector_search(qvec, CANDIDATES, where):
                found[(pack.id, row["id"])] = _Candidate(pack, row, 1.0 - float(row["_distance"]))
        if options.mode in ("hybrid", "keyword"):
            rows = pack.keyword_search(query, CANDIDATES, where)
            best = max((float(r["_score"]) for r in rows), default=0.0) or 1.0
            for row in rows:
                key = (pack.id, row["id"])
                if key not in found:
                    vector = np.asarray(row["vector"], dtype=np.float32)
                    found[key] = _Candidate(pack, row, float(np.dot(qvec, vector)))
                found[key].keyword = float(row["_score"]) / best
    short = len(query.split()) <= SHORT_QUERY_WORDS
    weight = SHORT_QUERY_KEYWORD_WEIGHT if short else KEYWORD_WEIGHT
    shares = query_coverage(query, [c.row for c in found.values()])
    for candidate, share in zip(found.values(), shares, strict=True):
        candidate.fused = _fused(candidate, options.mode, weight)
        candidate.order = candidate.fused
        if options.mode == "hybrid":
            candidate.order += COVERAGE_WEIGHT * share
    return found


def query_coverage(query: str, rows: Sequence[dict[str, Any]]) -> list[float]:
    """For each row, the share of *query*'s distinct content words its title, heading and text
    contain, each word weighted by its IDF over *rows* (rare among the candidates: telling)."""
    from desktop.core.answerable import terms

    asked = set(terms(query))
    if not asked or not rows:
        return [0.0] * len(rows)
    present = [set(terms(f"{r['title']} {r['heading']} {r['text']}")) & asked for r in rows]
    count = len(rows)
    weights = {t: math.log((count + 1) / (sum(t in p for p in present) + 0.5)) for t in asked}
    total = sum(weights.values()) or 1.0
    return [sum(weights[t] for t in p) / total for p in present]


def _fused(candidate: _Candidate, mode: str, weight: float) -> float:
    if mode == "keyword":
        return candidate.keyword
    if mode == "vector":
        return candidate.similarity
    return candidate.similarity + weight * candidate.keyword


def exact_codes(query: str) -> list[str]:
    """The exact codes in *query*, in order; time linear in the length of the query."""
    codes = []
    for run in _RUN.finditer(query):
        start = _CODE_START.search(run.group())
        if start is None:
            continue
        code = run.group()[start.start() :].rstrip("-")
        if len(code) >= 3 and _DIGIT.search(code) and _LETTER.search(code):
            codes.append(code)
    return codes


def _relevant(candidate: _Candidate, options: SearchOptions, codes: list[str]) -> bool:
    if candidate.similarity >= options.min_score:
        return True
    row = candidate.row
    text = f"{row['title']} {row['heading']} {row['text']}".lower()
    return any(code in text for code in codes)


def search(
    packs: Sequence[Pack], embedder: Embedder, query: str, options: SearchOptions | None = None
) -> list[Hit]:
    """The best passages for *query* across *packs*, best first."""
    import numpy as np

    options = options or SearchOptions()
    if options.mode not in MODES:
        raise ValueError(f"unknown search mode {options.mode!r}")
    query = query.strip()
    if not query:
        return []
    qvec = embedder.embed([query])[0]
    codes = [code.lower() for code in exact_codes(query)]
    ranked = sorted(
        _gather(packs, qvec, query, options).values(), key=lambda c: c.order, reverse=True
    )
    kept: list[_Candidate] = []
    per_doc: dict[tuple[str, str], int] = {}
    for candidate in ranked:
        if not _relevant(candidate, options, codes):
            continue
        vector = np.asarray(candidate.row["vector"], dtype=np.float32)
        twin = next(
            (
                k
                for k in kept
                if k.row["source"] != candidate.row["source"]
                and float(np.dot(vector, np.asarray(k.row["vector"], dtype=np.float32)))
                > options.collapse_above
            ),
            None,
        )
        if twin is not None:
            twin.duplicates.append(candidate.row["source"])
            continue
        doc_key = (candidate.pack.id, candidate.row["source"])
        if per_doc.get(doc_key, 0) >= options.per_document:
            continue
        per_doc[doc_key] = per_doc.get(doc_key, 0) + 1
        kept.append(candidate)
        if len(kept) >= options.limit:
            break
    return [_hit(c) for c in kept]


def _hit(candidate: _Candidate) -> Hit:
    row = candidate.row
    return Hit(
        candidate.pack.id,
        row["source"],
        row["title"],
        row["heading"],
        row["start"],
        row["end"],
        row["text"],
        candidate.similarity,
        row["category"],
        row["page"],
        tuple(candidate.duplicates),
        candidate.fused,
    )


def article_passages(
    packs: Sequence[Pack], embedder: Embedder, query: str, article: Hit, limit: int
) -> list[Hit]:
    """The *limit* passages of *article*'s document (same pack and source) closest in meaning to
    *query*, best first: an article chosen to answer is read beyond the passages that won it
    the search (the answering sentence is often in a passage of its own)."""
    pack = next((p for p in packs if p.id == article.pack), None)
    if pack is None or limit <= 0:
        return []
    qvec = embedder.embed([query])[0]
    rows = pack.vector_search(qvec, limit, f"source = {sql_quote(article.source)}")
    found = [_Candidate(pack, row, 1.0 - float(row["_distance"])) for row in rows]
    for candidate in found:
        candidate.fused = candidate.similarity
    return [_hit(c) for c in found]


def one_per_article(hits: Iterable[Hit], limit: int) -> list[Hit]:
    """The best hit of each document, in rank order, at most *limit*: for lists of articles to
    read, where two passages of one article are one suggestion."""
    seen: set[tuple[str, str]] = set()
    articles: list[Hit] = []
    for hit in hits:
        if len(articles) == limit:
            break
        if (hit.pack, hit.source) not in seen:
            seen.add((hit.pack, hit.source))
            articles.append(hit)
    return articles


def hybrid_search(
    packs: Sequence[Pack],
    embedder: Embedder,
    query: str,
    *,
    limit: int = 8,
    min_score: float = 0.3,
    per_document: int = 2,
) -> list[Hit]:
    """:func:`search` with the default hybrid ranking."""
    return search(
        packs,
        embedder,
        query,
        SearchOptions(limit=limit, min_score=min_score, per_document=per_document),
    )
