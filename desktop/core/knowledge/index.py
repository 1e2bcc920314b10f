"""A knowledge pack on disk and hybrid search over it.

A pack is one folder::

    manifest.json     id, title, version, schema version, embedding model, counts
    documents.json    every document: source, title, format, metadata, text file
    docs/NNNN.txt     the extracted text of each document (what the source pane shows)
    lance/            the LanceDB database with the ``chunks`` table

Packs are built beside their final place and switched in with a rename, so a reader never sees a
half-written pack. Opening a pack checks its manifest against the local embedding model and
schema and refuses an incompatible one with a message that says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import KnowledgeError
from desktop.core.knowledge.build import (  # noqa: F401 - re-exported for callers
    BUILDER_VERSION,
    SCHEMA_VERSION,
    TABLE,
    BuildReport,
    build_pack,
    iter_source_files,
)

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder

RRF_K = 60
CANDIDATES = 40


@dataclass(frozen=True)
class Hit:
    """One search result: a passage, where it sits in its document, and how well it matched."""

    pack: str
    source: str
    title: str
    heading: str
    start: int
    end: int
    text: str
    score: float
    category: str = ""
    page: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "title": self.title, "heading": self.heading,
            "page": self.page, "start": self.start, "end": self.end, "text": self.text,
            "score": round(self.score, 4), "pack": self.pack, "category": self.category,
        }


class Pack:
    """An installed knowledge pack, opened for search."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.path = path
        self.manifest = _read_manifest(path)
        self.id = str(self.manifest.get("id", path.name))
        self._check_compatible(embedder)
        self._documents = {d["source"]: d for d in _read_json(path / "documents.json", path)}
        try:
            import lancedb

            self._table: Any = lancedb.connect(str(path / "lance")).open_table(TABLE)
        except Exception as exc:  # lancedb raises several types for a damaged database
            raise KnowledgeError(
                f"The knowledge pack at {path} is damaged ({exc}).",
                "Rebuild it (`deskmate index rebuild` for the demo pack) or reinstall the pack.",
            ) from exc

    def _check_compatible(self, embedder: Embedder) -> None:
        schema = self.manifest.get("schema_version")
        if schema != SCHEMA_VERSION:
            raise KnowledgeError(
                f"The knowledge pack {self.id!r} uses format version {schema}, "
                f"this Deskmate reads version {SCHEMA_VERSION}.",
                "Ask your knowledge admin for a pack built for this version, or update Deskmate.",
            )
        embedding = self.manifest.get("embedding")
        model = embedding.get("model") if isinstance(embedding, dict) else None
        if model != embedder.model_id:
            raise KnowledgeError(
                f"The knowledge pack {self.id!r} was built with the embedding model {model!r}, "
                f"this Deskmate uses {embedder.model_id!r}.",
                "Rebuild the pack with this Deskmate's embedding model.",
            )

    @property
    def title(self) -> str:
        return str(self.manifest.get("title", self.id))

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    def document_text(self, source: str) -> str:
        entry = self._documents.get(source)
        if entry is None:
            raise KnowledgeError(f"No document {source!r} in pack {self.id!r}.", "")
        return (self.path / str(entry["file"])).read_text(encoding="utf-8")

    def document_meta(self, source: str) -> dict[str, Any]:
        entry = self._documents.get(source, {})
        return dict(entry.get("meta", {}))

    def vector_search(self, vector: Any, limit: int) -> list[dict[str, Any]]:
        return list(
            self._table.search(vector, query_type="vector").distance_type("cosine")
            .limit(limit).select([*_COLUMNS, "_distance"]).to_list()
        )

    def keyword_search(self, query: str, limit: int) -> list[dict[str, Any]]:
        words = re.findall(r"\w+", query)
        if not words:
            return []
        return list(
            self._table.search(" ".join(words), query_type="fts", fts_columns="search_text")
            .limit(limit).select([*_COLUMNS, "vector", "_score"]).to_list()
        )


_COLUMNS = ["id", "source", "title", "heading", "category", "page", "start", "end", "text"]


def _read_json(file: Path, pack: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KnowledgeError(
            f"No knowledge pack at {pack} ({file.name} is missing).",
            "Build it with `deskmate index rebuild` or install a pack.",
        ) from exc
    except (OSError, ValueError) as exc:
        raise KnowledgeError(
            f"The knowledge pack at {pack} is damaged: {file.name} cannot be read ({exc}).",
            "Rebuild it with `deskmate index rebuild` or reinstall the pack.",
        ) from exc


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest = _read_json(path / "manifest.json", path)
    if not isinstance(manifest, dict):
        raise KnowledgeError(f"The knowledge pack at {path} has a malformed manifest.json.",
                             "Rebuild it with `deskmate index rebuild` or reinstall the pack.")
    return manifest


def hybrid_search(packs: Iterable[Pack], embedder: Embedder, query: str, *, limit: int = 8,
                  min_score: float = 0.3, per_document: int = 2) -> list[Hit]:
    """Vector and keyword results fused by reciprocal rank, floored by semantic similarity.

    The floor uses the cosine similarity between the query and the passage, so a query about
    something no document covers returns nothing rather than the least bad keyword match.
    """
    import numpy as np

    query = query.strip()
    if not query:
        return []
    qvec = embedder.embed([query])[0]
    fused: dict[tuple[str, int], tuple[float, float, Pack, dict[str, Any]]] = {}
    for pack in packs:
        for rank, row in enumerate(pack.vector_search(qvec, CANDIDATES)):
            similarity = 1.0 - float(row["_distance"])
            fused[(pack.id, row["id"])] = (1.0 / (RRF_K + rank), similarity, pack, row)
        for rank, row in enumerate(pack.keyword_search(query, CANDIDATES)):
            key = (pack.id, row["id"])
            if key in fused:
                rrf, similarity, _, kept = fused[key]
                fused[key] = (rrf + 1.0 / (RRF_K + rank), similarity, pack, kept)
            else:
                similarity = float(np.dot(qvec, np.asarray(row["vector"], dtype=np.float32)))
                fused[key] = (1.0 / (RRF_K + rank), similarity, pack, row)
    ranked = sorted(fused.values(), key=lambda item: item[0], reverse=True)
    hits: list[Hit] = []
    per_doc: dict[tuple[str, str], int] = {}
    for _, similarity, pack, row in ranked:
        if similarity < min_score:
            continue
        doc_key = (pack.id, row["source"])
        if per_doc.get(doc_key, 0) >= per_document:
            continue
        per_doc[doc_key] = per_doc.get(doc_key, 0) + 1
        hits.append(Hit(pack.id, row["source"], row["title"], row["heading"], row["start"],
                        row["end"], row["text"], similarity, row["category"], row["page"]))
        if len(hits) >= limit:
            break
    return hits
