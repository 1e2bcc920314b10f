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
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import KnowledgeError
from desktop.core.fileio import atomic_write_text
from desktop.core.knowledge.chunking import Chunk, chunk_document
from desktop.core.knowledge.documents import (
    SKIPPED_NAMES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    load_document,
)

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder

SCHEMA_VERSION = 1
# Bumped whenever extraction or chunking changes, so packs built from bundled content are rebuilt.
BUILDER_VERSION = 2
TABLE = "chunks"
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


@dataclass
class BuildReport:
    """What a build did: counts, timings and every file it skipped with the reason."""

    documents: int = 0
    chunks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents, "chunks": self.chunks, "seconds": round(self.seconds, 2),
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
        }


def iter_source_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        and p.name.lower() not in SKIPPED_NAMES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _read_documents(root: Path, report: BuildReport) -> list[Document]:
    documents = []
    for path in iter_source_files(root):
        try:
            documents.append(load_document(path, root))
        except (DocumentError, OSError) as exc:
            report.skipped.append((path.relative_to(root).as_posix(), str(exc)))
    return documents


def build_pack(
    src: Path, dest: Path, embedder: Embedder, *, pack_id: str, title: str = "",
    version: str = "1", progress: Callable[[int, int], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> BuildReport:
    """Build the pack for every document below *src* into *dest*, replacing it atomically."""
    started = time.perf_counter()
    if not src.is_dir():
        raise KnowledgeError(f"No folder at {src}.", "Check the path to the documents.")
    report = BuildReport()
    documents = _read_documents(src, report)
    if not documents:
        raise KnowledgeError(f"No readable documents in {src}.",
                             "Add Markdown, HTML or text files and build again.")
    staging = dest.with_name(f".{dest.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "docs").mkdir(parents=True)
    chunks = _write_documents(staging, documents, embedder)
    _write_chunks(staging, chunks, embedder, progress)
    report.documents, report.chunks = len(documents), len(chunks)
    report.seconds = time.perf_counter() - started
    manifest = {
        "id": pack_id, "title": title or pack_id, "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "schema_version": SCHEMA_VERSION, "builder_version": BUILDER_VERSION,
        "embedding": {"model": embedder.model_id, "dimension": embedder.dimension},
        "documents": report.documents, "chunks": report.chunks, **(extra or {}),
    }
    atomic_write_text(staging / "build-report.json", json.dumps(report.to_json(), indent=2))
    atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=2))
    _swap_in(staging, dest)
    return report


def _write_documents(staging: Path, documents: list[Document], embedder: Embedder) -> list[Chunk]:
    entries, chunks = [], []
    budget = min(200, embedder.max_tokens - 32)
    for number, doc in enumerate(documents):
        name = f"docs/{number:05d}.txt"
        (staging / name).write_text(doc.text, encoding="utf-8")
        entries.append({"source": doc.source, "title": doc.title, "format": doc.format,
                        "meta": _jsonable(doc.meta), "file": name})
        chunks.extend(chunk_document(doc, budget, embedder.count_tokens))
    atomic_write_text(staging / "documents.json", json.dumps(entries, indent=1))
    return chunks


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(meta, default=str)))


def _write_chunks(staging: Path, chunks: list[Chunk], embedder: Embedder,
                  progress: Callable[[int, int], None] | None) -> None:
    import lancedb
    import numpy as np
    import pyarrow as pa
    from lancedb.index import FTS

    vectors = []
    batch = 64
    for offset in range(0, len(chunks), batch):
        part = chunks[offset:offset + batch]
        vectors.append(embedder.embed([c.embedding_text() for c in part]))
        if progress:
            progress(min(offset + batch, len(chunks)), len(chunks))
    matrix = np.concatenate(vectors)
    dim = matrix.shape[1]
    table = pa.table({
        "id": pa.array(range(len(chunks)), pa.int32()),
        "source": [c.source for c in chunks],
        "title": [c.title for c in chunks],
        "heading": [c.heading for c in chunks],
        "start": pa.array([c.start for c in chunks], pa.int32()),
        "end": pa.array([c.end for c in chunks], pa.int32()),
        "text": [c.text for c in chunks],
        "search_text": [f"{c.title} {c.heading} {c.text}" for c in chunks],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dim),
    })
    db = lancedb.connect(str(staging / "lance"))
    tbl = db.create_table(TABLE, table)
    tbl.create_index("search_text", config=FTS())


def _swap_in(staging: Path, dest: Path) -> None:
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


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
        model = self.manifest.get("embedding", {}).get("model")
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


_COLUMNS = ["id", "source", "title", "heading", "start", "end", "text"]


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
                        row["end"], row["text"], similarity,
                        str(pack.document_meta(row["source"]).get("category", ""))))
        if len(hits) >= limit:
            break
    return hits
