"""Retire one document from a published pack: a new pack version without its passages.

The published archive is unpacked (with the same limits as on a workstation), the document's
rows are dropped from a fresh LanceDB table, its text file, its entries and the golden questions
it answered go (else workstations would refuse the version that retires it), and the result is
published as the next version. Workstations install it at their next sync like any update, so
the retired passages are gone from their disk, not merely hidden.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from desktop.core.errors import SyncError
from desktop.core.fileio import atomic_write_text
from desktop.core.sync import check_name
from desktop.core.sync.install import MAX_FILES, safe_extract
from desktop.core.sync.repo import Published, Repository


def next_version(version: str) -> str:
    if not version.isdigit():
        raise SyncError(
            f"The published version {version!r} is not a number, so the next one is unclear.",
            "Give the new version with --version.",
        )
    return str(int(version) + 1)


def remove_document(pack_dir: Path, source: str, version: str) -> None:
    """Drop *source* from the pack in *pack_dir* (in place) and set its version to *version*."""
    import lancedb
    import pyarrow.compute as pc

    from desktop.core.knowledge.build import TABLE, index_table
    from desktop.core.knowledge.golden import drop_article

    documents: list[dict[str, Any]] = json.loads(
        (pack_dir / "documents.json").read_text(encoding="utf-8")
    )
    entry = next((d for d in documents if d["source"] == source), None)
    if entry is None:
        known = ", ".join(sorted(d["source"] for d in documents)[:10])
        raise SyncError(f"The pack has no document {source!r}.", f"Its documents include: {known}.")
    table = lancedb.connect(str(pack_dir / "lance")).open_table(TABLE).to_arrow()
    kept = table.filter(pc.not_equal(table["source"], source))
    (pack_dir / str(entry["file"])).unlink()
    shutil.rmtree(pack_dir / "lance")
    index_table(lancedb.connect(str(pack_dir / "lance")).create_table(TABLE, kept), kept.num_rows)
    documents.remove(entry)
    atomic_write_text(pack_dir / "documents.json", json.dumps(documents, indent=1))
    manifest = json.loads((pack_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = version
    manifest["documents"] = len(documents)
    manifest["chunks"] = kept.num_rows
    manifest.get("files", {}).pop(source, None)
    manifest["retired_documents"] = [*manifest.get("retired_documents", []), source]
    atomic_write_text(pack_dir / "manifest.json", json.dumps(manifest, indent=2))
    drop_article(pack_dir, source)  # its golden questions go with it


def retire_document(
    repo: Repository, pack_id: str, source: str, version: str | None = None
) -> Published:
    """Publish the next version of *pack_id* without the document *source*."""
    archive, info = repo.archive_of(check_name("id", pack_id))
    new_version = check_name("version", version or next_version(info.version))
    with tempfile.TemporaryDirectory(dir=repo.folder) as tmp:
        work = Path(tmp) / "pack"
        work.mkdir()
        safe_extract(archive, work, max(info.unpacked_size, 1), MAX_FILES)
        remove_document(work, source, new_version)
        return repo.publish(work)
