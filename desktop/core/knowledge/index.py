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

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import KnowledgeError
from desktop.core.fileio import confined, parse_json
from desktop.core.knowledge.build import (  # noqa: F401 - re-exported for callers
    BUILDER_VERSION,
    TABLE,
    BuildReport,
    build_pack,
    iter_source_files,
)
from desktop.core.knowledge.compat import SCHEMA_VERSION, incompatibility  # noqa: F401

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder


class PackDamagedError(KnowledgeError):
    """A pack's files are damaged (unreadable, truncated): it must be reinstalled or rebuilt."""


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
    duplicates: tuple[str, ...] = ()  # other documents holding (nearly) the same passage
    rank_score: float = 0.0  # what results are ordered by: similarity plus keyword evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "title": self.title,
            "heading": self.heading,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
            "pack": self.pack,
            "category": self.category,
            "duplicates": list(self.duplicates),
            "rank_score": round(self.rank_score, 4),
        }


class Pack:
    """An installed knowledge pack, opened for search.

    Damaged files (LanceDB's, truncated or overwritten) are found when the pack is opened, by
    :meth:`probe`, or, failing that, by the first search they break: the pack then records the
    problem in :attr:`damage` and searches in it return nothing, so the other packs are still
    served while the context names this one (see ``AppContext.pack_problems``).
    """

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.path = path
        self.manifest = _read_manifest(path)
        self.id = str(self.manifest.get("id", path.name))
        self.damage: PackDamagedError | None = None
        self._check_compatible(embedder)
        self._documents = _read_documents(path)
        try:
            import lancedb

            self._table: Any = lancedb.connect(str(path / "lance")).open_table(TABLE)
        except Exception as exc:  # lancedb raises several types for a damaged database
            raise self._damaged(exc) from exc

    def _damaged(self, exc: BaseException) -> PackDamagedError:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return PackDamagedError(
            f"The knowledge pack {self.id!r} at {self.path} is damaged ({detail}).",
            f"Repair it with `deskmate pack repair {self.id}` (for a pack you built yourself: "
            "build it again with `deskmate pack build`).",
        )

    def probe(self) -> None:
        """One tiny vector search and one keyword search, as a search would run them.

        LanceDB opens a table from its manifest alone, so a truncated data or index file only
        shows when it is read: raise KnowledgeError (and remember it in :attr:`damage`) if so.
        """
        try:
            dimension = int(self._table.schema.field("vector").type.list_size)
            unit = [1.0] + [0.0] * (dimension - 1)
            vector = self._table.search(unit, query_type="vector").distance_type("cosine")
            vector.limit(1).select(
                ["id", "_distance"]
            ).to_list()  # a flat search reads every data file
            keyword = self._table.search("probe", query_type="fts", fts_columns="search_text")
            keyword.limit(1).select(["id", "_score"]).to_list()  # reads the full-text index
        except Exception as exc:  # lance raises OSError, RuntimeError or ValueError
            self.damage = self._damaged(exc)
            raise self.damage from exc

    def _rows(self, run: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """*run*'s rows; none if the pack is damaged (a failing search that the probe confirms)."""
        if self.damage is not None:
            return []
        try:
            return run()
        except Exception:
            try:
                self.probe()
            except KnowledgeError:
                return []  # recorded in self.damage
            raise  # the pack is sound: a bug, not damage

    def _check_compatible(self, embedder: Embedder) -> None:
        problem = incompatibility(self.manifest, embedder)
        if problem is not None:
            raise KnowledgeError(f"The knowledge pack {self.id!r} {problem.reason}.", problem.fix)

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
        file = confined(self.path / str(entry["file"]), self.path / "docs")
        if file is None:  # an absolute name, "..", or a symlink out of the pack: never read
            raise KnowledgeError(
                f"The pack {self.id!r} refers {source} to a file outside its documents folder; "
                "Deskmate does not read it.",
                "Ask your knowledge admin to rebuild the pack.",
            )
        return file.read_text(encoding="utf-8")

    def document_headings(self, source: str) -> list[tuple[int, str, int]]:
        """(level, text, offset) of every heading of a document."""
        entry = self._documents.get(source, {})
        return [(int(h[0]), str(h[1]), int(h[2])) for h in entry.get("headings", [])]

    def document_pages(self, source: str) -> list[tuple[int, int]]:
        """(start offset, page number) of every page of a paged (PDF) document."""
        entry = self._documents.get(source, {})
        return [(int(p[0]), int(p[1])) for p in entry.get("pages", [])]

    def document_format(self, source: str) -> str:
        return str(self._documents.get(source, {}).get("format", ""))

    def documents_meta(self) -> list[tuple[str, dict[str, Any]]]:
        """Every document's source and metadata (with its title)."""
        return [
            (source, {**entry.get("meta", {}), "title": entry.get("title", source)})
            for source, entry in self._documents.items()
        ]

    def document_meta(self, source: str) -> dict[str, Any]:
        entry = self._documents.get(source, {})
        return dict(entry.get("meta", {}))

    def passage_texts(self) -> list[str]:
        """Every passage's title, heading and text (for word statistics over the pack)."""
        try:
            table = self._table.to_arrow().select(["title", "heading", "text"]).to_pylist()
        except Exception as exc:  # lancedb raises several types for a damaged database
            raise self._damaged(exc) from exc
        return [f"{r['title']} {r['heading']} {r['text']}" for r in table]

    def vector_search(
        self, vector: Any, limit: int, where: str | None = None
    ) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            query = self._table.search(vector, query_type="vector").distance_type("cosine")
            if where:
                query = query.where(where, prefilter=True)
            return list(query.limit(limit).select([*_COLUMNS, "_distance"]).to_list())

        return self._rows(run)

    def keyword_search(
        self, text: str, limit: int, where: str | None = None
    ) -> list[dict[str, Any]]:
        words = re.findall(r"\w+", text)
        if not words:
            return []

        def run() -> list[dict[str, Any]]:
            query = self._table.search(" ".join(words), query_type="fts", fts_columns="search_text")
            if where:
                query = query.where(where, prefilter=True)
            return list(query.limit(limit).select([*_COLUMNS, "_score"]).to_list())

        return self._rows(run)


_COLUMNS = [
    "id",
    "source",
    "title",
    "heading",
    "category",
    "locale",
    "page",
    "start",
    "end",
    "text",
    "vector",
]


def _read_json(file: Path, pack: Path) -> Any:
    try:
        # Nesting is only bounded to turn a RecursionError into a ValueError: front matter
        # kept in documents.json may legitimately be a few levels deep.
        return parse_json(file.read_text(encoding="utf-8"), max_depth=256)
    except FileNotFoundError as exc:
        if file.name != "manifest.json":
            raise PackDamagedError(
                f"The knowledge pack at {pack} is damaged: {file.name} is missing.",
                "Repair it with `deskmate pack repair ID` (ID: its folder name) or rebuild it.",
            ) from exc
        raise KnowledgeError(
            f"No knowledge pack at {pack} ({file.name} is missing).",
            "Build it with `deskmate index rebuild` or install a pack.",
        ) from exc
    except (OSError, ValueError) as exc:
        raise PackDamagedError(
            f"The knowledge pack at {pack} is damaged: {file.name} cannot be read ({exc}).",
            "Rebuild it with `deskmate index rebuild` or repair it with `deskmate pack repair ID`.",
        ) from exc


def _read_documents(path: Path) -> dict[str, dict[str, Any]]:
    """``documents.json``: a list of objects, each with its ``source`` (a text) and ``file``."""
    entries = _read_json(path / "documents.json", path)
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("source"), str) and "file" in e for e in entries
    ):
        raise PackDamagedError(
            f"The knowledge pack at {path} is damaged: documents.json is not a list of "
            "documents, each with its source and file.",
            "Rebuild it with `deskmate index rebuild` or repair it with `deskmate pack repair ID`.",
        )
    return {entry["source"]: entry for entry in entries}


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest = _read_json(path / "manifest.json", path)
    if not isinstance(manifest, dict):
        raise KnowledgeError(
            f"The knowledge pack at {path} has a malformed manifest.json.",
            "Rebuild it with `deskmate index rebuild` or reinstall the pack.",
        )
    return manifest
