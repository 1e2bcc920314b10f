"""Build a knowledge pack from a folder of documents: incremental, resumable, atomic.

* Every document's passages are embedded once: vectors are cached per document, keyed by a hash
  of everything that decides them (the passages, the embedding model and the builder version),
  in a cache folder beside the pack. A rebuild after a change embeds only the changed documents;
  a build that was interrupted resumes with the documents it had finished.
* When no source file changed since the pack was built, the build stops after checking hashes.
* The new pack is written beside the old one and switched in with a rename, so a reader never
  sees a half-written pack and a failed build leaves the old one in service.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import KnowledgeError
from desktop.core.fileio import atomic_write_bytes, atomic_write_text, crash_point, file_lock
from desktop.core.knowledge.chunking import Chunk, chunk_document
from desktop.core.knowledge.compat import SCHEMA_VERSION, incompatibility
from desktop.core.knowledge.documents import (
    SKIPPED_NAMES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    load_document,
)
from desktop.core.knowledge.golden import (
    DEFAULT_THRESHOLD,
    GOLDEN_FILE,
    GoldenQuestion,
    check_threshold,
    read_golden,
    run_golden,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from desktop.core.knowledge.embedder import Embedder

# Bumped whenever extraction or chunking changes, so packs built from bundled content are rebuilt.
BUILDER_VERSION = 7
# Passage vectors depend only on the embedding model and the text embedded, not on how documents
# were read: a builder change that leaves a passage's text as it was reuses its vector. Bump this
# only when the text given to the model for the same passage changes meaning (it was the builder
# version, 6, when the two were split).
VECTOR_CACHE_VERSION = 6
TABLE = "chunks"
EMBED_BLOCK = 1024  # passages per encode call: large enough for length-sorted batching
VECTOR_INDEX_MIN_ROWS = 50_000  # below this, exhaustive search is fast enough and exact
SWAP_LOCK_WAIT_S = 30.0  # a reader holds the switch lock only for one rename (finish_swap)

Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    """What a build did: counts, timings and every file it skipped with the reason."""

    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    reused_chunks: int = 0
    unchanged: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    # The golden questions' outcome (GoldenReport.to_json plus the threshold), when there are any.
    golden: dict[str, Any] | None = None

    @property
    def golden_shortfall(self) -> str:
        """Why the golden questions fall short of the pack's threshold ("" when they do not)."""
        if not self.golden:
            return ""
        passed, total = self.golden["passed"], self.golden["total"]
        rate = passed / total if total else 1.0  # as a workstation computes it: not rounded
        if rate >= self.golden["threshold"]:
            return ""
        return (
            f"golden questions: {passed} of {total} passed ({rate:.0%}), below the threshold "
            f"{self.golden['threshold']:.0%}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "embedded_chunks": self.embedded_chunks,
            "reused_chunks": self.reused_chunks,
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 2),
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "phases": {k: round(v, 2) for k, v in self.phases.items()},
            "golden": self.golden,
        }


def iter_source_files(root: Path) -> list[Path]:
    return scan_sources(root)[0]


def scan_sources(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """The supported files below *root*, and the links left out because they lead out of it.

    Hidden files and folders are left out. A link is followed only when its target is inside
    *root*: a link to a file elsewhere (a credentials file, a home folder) would put that file's
    text into the pack, so it is skipped with a reason instead. Linked folders are not entered.
    """
    real_root = root.resolve()
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in list(dirs):
            if (here / name).is_symlink():
                dirs.remove(name)  # never entered: os.walk does not follow links
                if not _inside(here / name, real_root):
                    skipped.append((_relative(here / name, root), _OUTSIDE_LINK))
        for name in names:
            path = here / name
            if name.startswith(".") or not _is_source_name(name):
                continue
            if path.is_symlink() and not _inside(path, real_root):
                skipped.append((_relative(path, root), _OUTSIDE_LINK))
            elif path.is_file():
                files.append(path)
    return sorted(files), sorted(skipped)


_OUTSIDE_LINK = (
    "a link to a file or folder outside the documents folder, left out so that nothing from "
    "elsewhere ends up in the pack; copy the file in if it belongs in the pack"
)


def _is_source_name(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES and name.lower() not in SKIPPED_NAMES


def _inside(path: Path, real_root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a link loop
        return False


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_checksums(root: Path) -> dict[str, str]:
    return _checksums(root, iter_source_files(root))


def _checksums(root: Path, files: list[Path]) -> dict[str, str]:
    """SHA-256 of every source file, and of the golden questions when the folder has them."""
    found = {_relative(p, root): _sha256(p.read_bytes()) for p in files}
    golden = root / GOLDEN_FILE
    if golden.is_file():
        found[GOLDEN_FILE] = _sha256(golden.read_bytes())
    return found


class _VectorCache:
    """Per-document passage vectors on disk, so finished work survives restarts."""

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.salt = f"{embedder.model_id}|{VECTOR_CACHE_VERSION}"

    def key(self, chunks: list[Chunk]) -> str:
        digest = hashlib.sha256(self.salt.encode())
        for chunk in chunks:
            digest.update(chunk.embedding_text().encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def load(self, key: str) -> npt.NDArray[np.float32] | None:
        import numpy as np

        path = self.folder / f"{key}.npy"
        try:
            return np.load(path, allow_pickle=False)  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def store(self, key: str, vectors: npt.NDArray[np.float32]) -> None:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        atomic_write_bytes(self.folder / f"{key}.npy", buffer.getvalue())


def _read_documents(
    root: Path, files: list[Path], report: BuildReport, progress: Progress | None
) -> Iterator[Document]:
    for number, path in enumerate(files, start=1):
        source = path.relative_to(root).as_posix()
        try:
            yield load_document(path, root)
        except (DocumentError, OSError) as exc:
            report.skipped.append((source, str(exc)))
        if progress:
            progress("read", number, len(files))


def _embed_documents(
    docs: list[tuple[Document, list[Chunk]]],
    embedder: Embedder,
    cache: _VectorCache,
    report: BuildReport,
    progress: Progress | None,
) -> list[npt.NDArray[np.float32]]:
    """Vectors for every document's chunks, from the cache or embedded in large blocks."""
    keys = [cache.key(chunks) for _, chunks in docs]
    vectors: list[npt.NDArray[np.float32] | None] = [cache.load(k) for k in keys]
    todo = [i for i, v in enumerate(vectors) if v is None or len(v) != len(docs[i][1])]
    total = sum(len(docs[i][1]) for i in todo)
    report.reused_chunks = sum(len(c) for _, c in docs) - total
    done = 0
    pending: list[int] = []
    for position, index in enumerate(todo):
        pending.append(index)
        if sum(len(docs[i][1]) for i in pending) < EMBED_BLOCK and position < len(todo) - 1:
            continue
        texts = [c.embedding_text() for i in pending for c in docs[i][1]]
        block = embedder.embed(texts)
        offset = 0
        for i in pending:
            count = len(docs[i][1])
            vectors[i] = block[offset : offset + count]
            cache.store(keys[i], block[offset : offset + count])
            offset += count
        done += len(texts)
        pending = []
        if progress:
            progress("embed", done, total)
    report.embedded_chunks = total
    return [v for v in vectors if v is not None]


def build_pack(
    src: Path,
    dest: Path,
    embedder: Embedder,
    *,
    pack_id: str,
    title: str = "",
    version: str = "1",
    progress: Progress | None = None,
    golden_threshold: float = DEFAULT_THRESHOLD,
) -> BuildReport:
    """Build the pack for every document below *src* into *dest*, replacing it atomically.

    When *src* holds ``golden.jsonl``, it is copied into the pack and its questions run against
    the new pack; the manifest records the pass rate and *golden_threshold*. A pack below its
    threshold is still written (the admin inspects it); the report says so (see
    :attr:`BuildReport.golden_shortfall`) and workstations refuse it at sync.
    """
    started = time.perf_counter()
    src, dest = src.resolve(), dest.resolve()
    if not src.is_dir():
        raise KnowledgeError(f"No folder at {src}.", "Check the path to the documents.")
    finish_swap(dest)  # a build killed while switching its pack in
    check_destination(src, dest)
    check_threshold(golden_threshold)
    golden = src / GOLDEN_FILE
    questions = read_golden(golden) if golden.is_file() else None  # a bad file fails at once
    report = BuildReport()
    files, report.skipped = scan_sources(src)
    checksums = _checksums(src, files)
    if _unchanged(dest, checksums, pack_id, version, embedder, golden_threshold):
        report.unchanged = True
        report.seconds = time.perf_counter() - started
        return _previous_report(dest, report)
    docs = _read_and_chunk(src, files, embedder, report, progress)
    report.phases["read_and_chunk_s"] = time.perf_counter() - started
    cache = _VectorCache(dest.with_name(f".{dest.name}.vectors"), embedder)
    vectors = _embed_documents(docs, embedder, cache, report, progress)
    report.phases["embed_s"] = time.perf_counter() - started - report.phases["read_and_chunk_s"]
    staging = _aside(dest, "building")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "docs").mkdir(parents=True)
    _write_documents(staging, [d for d, _ in docs])
    _write_table(staging, docs, vectors)
    report.documents, report.chunks = len(docs), sum(len(c) for _, c in docs)
    manifest = {
        "id": pack_id,
        "title": title or pack_id,
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "schema_version": SCHEMA_VERSION,
        "builder_version": BUILDER_VERSION,
        "embedding": {
            "model": embedder.model_id,
            "dimension": int(vectors[0].shape[1]),
            "weights_sha256": embedder.weights_hash(),
        },
        "documents": report.documents,
        "chunks": report.chunks,
        "files": checksums,
    }
    atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=2))
    if questions is not None:
        _run_golden(golden, staging, manifest, questions, golden_threshold, embedder, report)
    report.seconds = time.perf_counter() - started
    report.phases["write_and_index_s"] = report.seconds - sum(report.phases.values())
    atomic_write_text(staging / "build-report.json", json.dumps(report.to_json(), indent=2))
    _swap_in(staging, dest)
    return report


def _read_and_chunk(
    src: Path, files: list[Path], embedder: Embedder, report: BuildReport, progress: Progress | None
) -> list[tuple[Document, list[Chunk]]]:
    docs: list[tuple[Document, list[Chunk]]] = []
    budget = min(200, embedder.max_tokens - 32)
    for doc in _read_documents(src, files, report, progress):
        chunks = chunk_document(doc, budget, embedder.count_tokens)
        if chunks:
            docs.append((doc, chunks))
        else:
            report.skipped.append(
                (doc.source, "no passages of text (only headings or tables of contents)")
            )
    if not docs:
        raise KnowledgeError(
            f"No readable documents in {src}.",
            "Add Markdown, HTML, text, PDF, Word or spreadsheet files.",
        )
    return docs


def _run_golden(
    golden: Path,
    staging: Path,
    manifest: dict[str, Any],
    questions: list[GoldenQuestion],
    threshold: float,
    embedder: Embedder,
    report: BuildReport,
) -> None:
    """Copy the golden questions into the new pack, run them on it, record the outcome."""
    shutil.copyfile(golden, staging / GOLDEN_FILE)
    started = time.perf_counter()
    result = run_golden(staging, questions, embedder)
    report.phases["golden_s"] = time.perf_counter() - started
    manifest["golden"] = result.manifest_entry(threshold)
    report.golden = {**result.to_json(), "threshold": threshold}
    atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=2))


def check_destination(src: Path, dest: Path) -> None:
    """Refuse an output folder whose replacement would cost the user files they have.

    A build replaces the whole output folder, so it must be new, empty or a pack built before,
    and never the documents folder, a folder inside it or a folder holding it.
    """
    src, dest = src.resolve(), dest.resolve()
    if dest == src or dest.is_relative_to(src) or src.is_relative_to(dest):
        raise KnowledgeError(
            f"Cannot build the pack into {dest}: a build replaces its output folder, and that "
            f"folder is, holds or lies inside the documents folder {src}. Nothing was changed.",
            f"Choose an output folder outside {src}, for example --out {_suggested_out(src)}.",
        )
    if dest.exists() and not dest.is_dir():
        raise KnowledgeError(
            f"Cannot build the pack into {dest}: it is a file, not a folder. Nothing was changed.",
            "Choose a new or empty folder for the pack.",
        )
    if dest.is_dir() and any(dest.iterdir()) and not _is_pack(dest):
        raise KnowledgeError(
            f"Cannot build the pack into {dest}: the folder holds files that are not a "
            "knowledge pack, and a build replaces the whole folder. Nothing was changed.",
            "Choose a new or empty folder for the pack (or the folder of a pack built before).",
        )


def _suggested_out(src: Path) -> Path:
    return src.parent / f"{src.name}-pack" if src.parent != src else Path.home() / "pack"


def _is_pack(folder: Path) -> bool:
    """True for a folder a build wrote: its manifest, or its table when the manifest is damaged."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if isinstance(manifest, dict) and {"id", "schema_version", "embedding"} <= manifest.keys():
        return True
    return (folder / "lance" / f"{TABLE}.lance").is_dir()


def _unchanged(
    dest: Path,
    checksums: dict[str, str],
    pack_id: str,
    version: str,
    embedder: Embedder,
    golden_threshold: float,
) -> bool:
    try:
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = {"id": pack_id, "version": version, "builder_version": BUILDER_VERSION}
    return (
        all(manifest.get(k) == v for k, v in wanted.items())
        and manifest.get("files") == checksums
        and incompatibility(manifest, embedder) is None
        and (dest / "lance" / f"{TABLE}.lance").is_dir()
        and (
            GOLDEN_FILE not in checksums
            or (manifest.get("golden") or {}).get("threshold") == golden_threshold
        )
    )


def _previous_report(dest: Path, report: BuildReport) -> BuildReport:
    try:
        old = json.loads((dest / "build-report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return report
    report.documents, report.chunks = int(old.get("documents", 0)), int(old.get("chunks", 0))
    report.reused_chunks = report.chunks
    report.skipped = [(s["source"], s["reason"]) for s in old.get("skipped", [])]
    report.golden = old.get("golden")
    return report


def _write_documents(staging: Path, documents: list[Document]) -> None:
    entries = []
    for number, doc in enumerate(documents):
        name = f"docs/{number:05d}.txt"
        (staging / name).write_text(doc.text, encoding="utf-8")
        entries.append(
            {
                "source": doc.source,
                "title": doc.title,
                "format": doc.format,
                "meta": json.loads(json.dumps(doc.meta, default=str)),
                "file": name,
                "headings": [[h.level, h.text, h.start] for h in doc.headings],
                "pages": [list(p) for p in doc.pages],
            }
        )
    atomic_write_text(staging / "documents.json", json.dumps(entries, indent=1))


def _write_table(
    staging: Path, docs: list[tuple[Document, list[Chunk]]], vectors: list[npt.NDArray[np.float32]]
) -> None:
    import lancedb
    import numpy as np
    import pyarrow as pa

    chunks = [c for _, cs in docs for c in cs]
    categories = [str(d.meta.get("category") or "") for d, cs in docs for _ in cs]
    locales = [
        str(d.meta.get("locale") or d.meta.get("language") or "") for d, cs in docs for _ in cs
    ]
    matrix = np.concatenate(vectors).astype(np.float32)
    table = pa.table(
        {
            "id": pa.array(range(len(chunks)), pa.int32()),
            "source": [c.source for c in chunks],
            "title": [c.title for c in chunks],
            "heading": [c.heading for c in chunks],
            "category": categories,
            "locale": locales,
            "page": pa.array([c.page for c in chunks], pa.int32()),
            "start": pa.array([c.start for c in chunks], pa.int32()),
            "end": pa.array([c.end for c in chunks], pa.int32()),
            "text": [c.text for c in chunks],
            "search_text": [f"{c.title} {c.heading} {c.text}" for c in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1]),
        }
    )
    db = lancedb.connect(str(staging / "lance"))
    index_table(db.create_table(TABLE, table), len(chunks))


def index_table(tbl: Any, rows: int) -> None:
    """Full-text index always; a vector index once exhaustive search gets slow; then compact."""
    from lancedb.index import FTS

    tbl.create_index("search_text", config=FTS())
    if rows >= VECTOR_INDEX_MIN_ROWS:
        tbl.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_HNSW_SQ")
    tbl.optimize()


def _aside(dest: Path, kind: str) -> Path:
    """The hidden folders beside *dest*: ``building`` (the new pack), ``old`` (during a swap)."""
    return dest.with_name(f".{dest.name}.{kind}")


def _swap_in(staging: Path, dest: Path) -> None:
    """Replace *dest* by *staging* with two renames; :func:`finish_swap` completes a swap that a
    kill interrupted between them (when *dest* is briefly missing)."""
    old = _aside(dest, "old")
    shutil.rmtree(old, ignore_errors=True)
    with file_lock(_aside(dest, "lock"), wait_s=SWAP_LOCK_WAIT_S) as held:
        if not held:
            raise KnowledgeError(
                f"Another process is switching the pack at {dest}; the new pack stays in "
                f"{staging}.",
                "Build again when the other build has finished.",
            )
        if dest.exists():
            dest.rename(old)
        crash_point("build.swap")
        staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def finish_swap(dest: Path) -> bool:
    """Complete the switch of a pack build that was killed between its two renames.

    A missing *dest* beside a ``.old`` folder is such a switch: the new pack is moved in if it
    was complete (its build report is written last), else the old one is moved back. Called on
    the next start (:class:`~desktop.core.context.AppContext`) and by the next build. Returns
    whether it changed anything; waits for nothing (a running build finishes its own switch).
    """
    old, staging = _aside(dest, "old"), _aside(dest, "building")
    if dest.exists() or not old.is_dir():
        return False
    with file_lock(_aside(dest, "lock")) as held:
        if not held or dest.exists() or not old.is_dir():
            return False
        if (staging / "build-report.json").is_file() and (staging / "manifest.json").is_file():
            staging.rename(dest)
        else:
            old.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return True


def finish_swaps(folder: Path) -> None:
    """:func:`finish_swap` for every interrupted switch of a pack inside *folder*."""
    try:
        asides = [p for p in folder.glob(".*.old") if p.is_dir()]
    except OSError:
        return
    for old in asides:
        finish_swap(old.with_name(old.name[1 : -len(".old")]))
