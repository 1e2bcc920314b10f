"""Install a verified pack archive: safe extraction, a versioned store and an atomic switch.

Layout of one synced pack (a pointer file rather than a symlink, so it works on Windows)::

    <data>/packs/<id>/current                       {"current": "2-ab12...", "previous": "1-..."}
    <data>/packs/<id>/versions/<version>-<sha12>/   the pack folders (current and previous)
    <data>/packs/<id>/reinstall                     only after `deskmate pack repair ID`

A folder with ``versions/`` but no pointer is a first install that never finished (the process
was killed, crashed or ran out of disk): it is not opened as a pack, and the next sync installs
over it.

An archive is extracted into a hidden temporary folder beside the versions, checked (every member
a plain file or folder inside the tree, total size and file count within the signed limits, the
manifest equal to the signed custom metadata, the pack openable with the local embedding model),
renamed into place and only then made current by replacing the pointer file with
:func:`os.replace`. Readers therefore see the old version or the new one, never half of one; the
previous version stays on disk until a later install replaces it as "previous".
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from desktop.core.errors import KnowledgeError, SyncError
from desktop.core.fileio import atomic_write_text
from desktop.core.sync import POINTER, REINSTALL, VERSIONS, check_name

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder

CUSTOM_KEY = "deskmate_pack"
MAX_FILES = 100_000
MAX_EXTRA_DIRS = 64  # folders beyond one per file (LanceDB's layout has a few empty ones)
_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")


# A last check of an unpacked pack before it goes into service: why to refuse it, or "".
Check = Callable[[Path], str]


class ArchiveError(SyncError):
    """A pack archive is malformed or tries to escape its folder or its size limits."""


class PackRefusedError(SyncError):
    """An unpacked pack failed the last check on this machine (its golden questions)."""


@dataclass(frozen=True)
class PackInfo:
    """What the signed custom metadata of a pack target says about the pack inside."""

    id: str
    version: str
    title: str
    embedding_model: str
    weights_sha256: str
    schema_version: int
    unpacked_size: int
    file_count: int

    def to_custom(self) -> dict[str, Any]:
        return {CUSTOM_KEY: dict(self.__dict__)}

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any] | None) -> PackInfo:
        data = custom.get(CUSTOM_KEY) if isinstance(custom, Mapping) else None
        try:
            assert isinstance(data, dict)
            info = cls(
                id=check_name("id", str(data["id"])),
                version=check_name("version", str(data["version"])),
                title=str(data.get("title", data["id"])),
                embedding_model=str(data["embedding_model"]),
                weights_sha256=str(data.get("weights_sha256", "")),
                schema_version=int(data["schema_version"]),
                unpacked_size=int(data["unpacked_size"]),
                file_count=int(data["file_count"]),
            )
        except (AssertionError, KeyError, TypeError, ValueError, OverflowError, SyncError) as exc:
            raise SyncError(
                f"The pack target has no usable Deskmate pack description ({exc}).",
                "Ask your knowledge admin to publish it with `deskmate pack publish`.",
            ) from None
        return info

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], size: int, count: int) -> PackInfo:
        """The description of an unpacked pack from its ``manifest.json``; SyncError if the
        manifest is not an object with a usable id, version and schema version."""
        try:
            assert isinstance(manifest, Mapping)
            embedding = manifest.get("embedding") or {}
            embedding = embedding if isinstance(embedding, Mapping) else {}
            return cls(
                id=check_name("id", str(manifest.get("id", ""))),
                version=check_name("version", str(manifest.get("version", ""))),
                title=str(manifest.get("title", manifest.get("id", ""))),
                embedding_model=str(embedding.get("model", "")),
                weights_sha256=str(embedding.get("weights_sha256", "")),
                schema_version=int(manifest.get("schema_version", 0)),
                unpacked_size=size,
                file_count=count,
            )
        except SyncError:
            raise
        except (AssertionError, TypeError, ValueError, OverflowError) as exc:
            raise SyncError(
                f"The pack's manifest.json is malformed ({type(exc).__name__}: {exc}).",
                "Ask your knowledge admin to build and publish the pack again.",
            ) from None

    def mismatch(self, embedder: Embedder) -> str:
        """Why this pack cannot be used with the local embedding model and schema ("" if it can)."""
        from desktop.core.knowledge.compat import incompatibility

        manifest = {
            "schema_version": self.schema_version,
            "embedding": {"model": self.embedding_model, "weights_sha256": self.weights_sha256},
        }
        problem = incompatibility(manifest, embedder)
        return f"it {problem.reason}" if problem else ""


# --- safe extraction -----------------------------------------------------------------------------


def _member_path(name: str) -> str:
    """The member's relative path, or ArchiveError for anything that could leave the folder."""
    if not name or "\0" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise ArchiveError(f"The pack archive holds the absolute or unsafe path {name!r}.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"The pack archive holds the path {name!r}, which leaves its folder.")
    return "/".join(parts)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a named pipe"
    if member.issparse():
        return "a sparse file"
    return "not a plain file"


def _write_member(source: IO[bytes], target: Path, size: int) -> None:
    try:
        with open(target, "xb") as out:
            remaining = size
            while remaining > 0:
                block = source.read(min(_CHUNK, remaining))
                if not block:
                    raise ArchiveError(f"The pack archive ends inside {target.name}.")
                out.write(block)
                remaining -= len(block)
    except ArchiveError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise SyncError(
                "The disk is full: the pack could not be unpacked. The packs in service are "
                "unchanged.",
                f"Free some space on the drive of {target.parent}, then sync again.",
            ) from exc
        raise SyncError(f"Could not unpack the pack to {target.parent}: {exc}.") from exc


def _count_dirs(path: str, is_dir: bool, made: set[str]) -> None:
    """Add the folders that extracting *path* creates (its parents, and itself if a folder)."""
    parts = path.split("/")
    for end in range(1, len(parts) + (1 if is_dir else 0)):
        made.add("/".join(parts[:end]).casefold())


def safe_extract(archive: Path, dest: Path, max_bytes: int, max_files: int) -> tuple[int, int]:
    """Extract the .tar.gz *archive* into the empty folder *dest*; return (bytes, files).

    Refuses absolute paths, ``..``, links, devices and pipes, duplicate names, and archives that
    unpack to more than *max_bytes* or *max_files*. Folders count against the file limit too: a
    pack may create at most as many folders as it may hold files, plus :data:`MAX_EXTRA_DIRS`
    (every folder of a real pack holds a file, except a few of LanceDB's). Reads the archive as
    a stream, so a decompression bomb is stopped as soon as it passes the limit.
    """
    total = files = 0
    seen: set[str] = set()
    made: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                path = _member_path(member.name)
                if not path and member.isdir():
                    continue
                if path.casefold() in seen or not path:
                    raise ArchiveError(f"The pack archive holds {member.name!r} twice.")
                seen.add(path.casefold())
                target = dest / path
                if not member.isdir() and (not member.isreg() or member.issparse()):
                    raise ArchiveError(f"{member.name!r} in the pack archive is {_kind(member)}.")
                _count_dirs(path, member.isdir(), made)
                if not member.isdir():
                    files += 1
                    total += member.size
                if files > max_files or total > max_bytes or len(made) > max_files + MAX_EXTRA_DIRS:
                    raise ArchiveError(
                        f"The pack archive unpacks to more than {max_bytes:,} bytes, "
                        f"{max_files:,} files or {max_files + MAX_EXTRA_DIRS:,} folders (a "
                        "decompression bomb or a mislabelled pack)."
                    )
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                _write_member(source, target, member.size)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"The pack archive is damaged ({exc}).") from exc
    except OSError as exc:
        if isinstance(exc, SyncError):
            raise
        raise ArchiveError(f"The pack archive cannot be read ({exc}).") from exc
    return total, files


# --- the versioned store -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pointer:
    """The ``current`` file of a synced pack: the version folder in service and the previous one.

    ``held`` names a version folder that ``deskmate pack rollback`` turned away from, so that sync
    does not reinstall that same version; a newer publication replaces it.
    """

    current: str
    previous: str = ""
    held: str = ""

    def to_json(self) -> dict[str, str]:
        return {"current": self.current, "previous": self.previous, "held": self.held}


def read_pointer(pack_root: Path) -> Pointer | None:
    """The pointer of the synced pack at *pack_root*; None when it has none or it is unusable."""
    try:
        data = json.loads((pack_root / POINTER).read_text(encoding="utf-8"))
        pointer = Pointer(
            str(data["current"]), str(data.get("previous", "")), str(data.get("held", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    names = [n for n in (pointer.current, pointer.previous, pointer.held) if n]
    if not all(n not in (".", "..") and "/" not in n and "\\" not in n for n in names):
        return None
    return pointer


def _sync_artefact(entry: Path) -> bool:
    """Whether *entry* in a pack's folder is one that sync writes (never part of a plain pack)."""
    name = entry.name
    if name == VERSIONS:
        return entry.is_dir()
    if name == REINSTALL:
        return True
    return name.startswith((f".{POINTER}.", f".{REINSTALL}.")) and name.endswith(".tmp")


def interrupted_install(pack_root: Path) -> bool:
    """True for a folder left by a first sync of its pack that never finished (killed, crashed,
    disk full): no pointer, and nothing in it but what sync writes (``versions/``, half-extracted
    staging folders, a half-written pointer). It is not a pack; the next sync installs over it."""
    if not pack_root.is_dir() or (pack_root / POINTER).exists():
        return False
    try:
        return all(_sync_artefact(entry) for entry in pack_root.iterdir())
    except OSError:
        return False


def foreign_folder(pack_root: Path) -> bool:
    """True when *pack_root* exists but sync did not install it (a plain pack or other files)."""
    return (
        pack_root.exists()
        and not (pack_root / POINTER).exists()
        and not interrupted_install(pack_root)
    )


def resolve_pack_dir(pack_root: Path) -> Path | None:
    """The folder to open for *pack_root*: itself (a plain pack) or its current version.

    None for a synced pack whose pointer or version is unusable and for an interrupted first
    install (see :func:`interrupted_install`): neither is a pack to open.
    """
    if not (pack_root / POINTER).exists():
        return None if interrupted_install(pack_root) else pack_root
    pointer = read_pointer(pack_root)
    if pointer is None:
        return None
    folder = pack_root / VERSIONS / pointer.current
    return folder if folder.is_dir() else None


def version_damage(pack_root: Path, name: str, embedder: Embedder) -> str:
    """Why the version folder *name* of a synced pack must be extracted again ("" if it need not):
    a repair was requested, or the folder is missing, or it cannot be opened and searched."""
    from desktop.core.knowledge.index import Pack

    if (pack_root / REINSTALL).exists():
        return "a repair was requested (`deskmate pack repair`)"
    folder = pack_root / VERSIONS / name
    if not folder.is_dir():
        return f"its folder {folder} is missing"
    try:
        Pack(folder, embedder).probe()
    except KnowledgeError as exc:
        return f"the installed copy is damaged ({exc.message})"
    return ""


def request_reinstall(pack_root: Path) -> None:
    """Make the next sync extract the current version of this synced pack again."""
    atomic_write_text(pack_root / REINSTALL, "extract the current version again at the next sync\n")


def _write_pointer(pack_root: Path, pointer: Pointer) -> None:
    atomic_write_text(pack_root / POINTER, json.dumps(pointer.to_json(), indent=1) + "\n")


def version_dir_name(version: str, sha256: str) -> str:
    return f"{version}-{sha256[:12]}"


def _check_extracted(folder: Path, info: PackInfo, size: int, count: int) -> None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        found = PackInfo.from_manifest(manifest, size, count)
    except (OSError, ValueError, AttributeError, SyncError) as exc:
        raise ArchiveError(f"The pack archive has no usable manifest.json ({exc}).") from exc
    if found != PackInfo(**{**info.__dict__, "title": found.title}):
        raise ArchiveError(
            f"The pack inside the archive ({found.id} {found.version}, {count} files, "
            f"{size:,} bytes) is not the one its signed metadata describes ({info.id} "
            f"{info.version}, {info.file_count} files, {info.unpacked_size:,} bytes)."
        )


def install_archive(
    archive: Path,
    info: PackInfo,
    sha256: str,
    packs_root: Path,
    embedder: Embedder,
    max_bytes: int,
    check: Check | None = None,
) -> Path:
    """Extract, verify and switch to the pack in *archive*; return its version folder.

    A version folder already on disk is reused unless :func:`version_damage` finds it damaged
    (or a repair was requested); then it is extracted again and replaced. *check* runs on a
    newly extracted pack before anything is switched: a reason it returns refuses the version
    (PackRefusedError), removes what was extracted and leaves the version in service.
    """
    pack_root = packs_root / info.id
    if foreign_folder(pack_root):
        raise SyncError(
            f"A pack folder {pack_root} that sync did not install already uses the id {info.id!r}.",
            "Remove or rename that folder, or ask your knowledge admin to use another pack id.",
        )
    versions = pack_root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    name = version_dir_name(info.version, sha256)
    final = versions / name
    if not final.is_dir() or version_damage(pack_root, name, embedder):
        try:
            _unpack(archive, info, final, embedder, max_bytes, check)
        except PackRefusedError:
            if interrupted_install(pack_root):  # a refused first install leaves nothing behind
                shutil.rmtree(pack_root, ignore_errors=True)
            raise
    old = read_pointer(pack_root)
    previous = old.current if old and old.current != name else (old.previous if old else "")
    held = old.held if old and old.current == name else ""
    _write_pointer(pack_root, Pointer(name, previous, held))
    (pack_root / REINSTALL).unlink(missing_ok=True)
    _prune(pack_root, keep={name, previous})
    return final


def _unpack(
    archive: Path,
    info: PackInfo,
    final: Path,
    embedder: Embedder,
    max_bytes: int,
    check: Check | None = None,
) -> None:
    """Extract and check *archive* beside *final*, then rename it into place (moving a damaged
    copy aside first; :func:`_prune` deletes it)."""
    from desktop.core.knowledge.index import Pack

    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        # The signed metadata bounds the unpacked pack: a bomb stops at the size it claimed.
        size, count = safe_extract(
            archive, staging, min(max_bytes, info.unpacked_size), min(MAX_FILES, info.file_count)
        )
        _check_extracted(staging, info, size, count)
        try:
            Pack(staging, embedder).probe()
        except KnowledgeError as exc:
            raise ArchiveError(f"The unpacked pack cannot be opened: {exc}") from exc
        _last_check(staging, info, check)
        try:
            if final.exists():
                os.replace(final, final.with_name(f".{final.name}.damaged-{time.time_ns()}"))
            os.replace(staging, final)
        except OSError as exc:  # e.g. Windows: a file of the damaged copy is open
            raise SyncError(
                f"The damaged copy {final} could not be replaced ({exc}).",
                "Close Deskmate's window, then sync again.",
            ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _last_check(staging: Path, info: PackInfo, check: Check | None) -> None:
    why = check(staging) if check is not None else ""
    if why:
        raise PackRefusedError(
            f"Version {info.version} was refused on this machine: {why}. The version in service "
            "is unchanged.",
            "Ask your knowledge admin to fix the pack or its golden questions and publish a new "
            "version (`deskmate pack build` lists each failed question).",
        )


def _prune(pack_root: Path, keep: set[str]) -> None:
    """Remove version folders that are neither current nor previous, leftover partials and
    damaged copies, and the temporary files of pointer writes that never finished."""
    for folder in (pack_root / VERSIONS).iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
    for stale in pack_root.glob(f".{POINTER}.*.tmp"):
        stale.unlink(missing_ok=True)


def rollback(packs_root: Path, pack_id: str) -> Pointer:
    """Make the previous version of *pack_id* current again and hold back the one it replaces."""
    pack_root = packs_root / check_name("id", pack_id)
    pointer = read_pointer(pack_root)
    if pointer is None:
        raise SyncError(
            f"No synced pack {pack_id!r} is installed.",
            "Run `deskmate sync status` to list the synced packs.",
        )
    if not pointer.previous or not (pack_root / VERSIONS / pointer.previous).is_dir():
        raise SyncError(
            f"Pack {pack_id!r} has no previous version to roll back to.",
            "Only the version before the last update is kept.",
        )
    new = Pointer(pointer.previous, pointer.current, held=pointer.current)
    _write_pointer(pack_root, new)
    return new


def uninstall(packs_root: Path, pack_id: str) -> None:
    """Take a synced pack out of service at once (a rename), then delete its files."""
    pack_root = packs_root / check_name("id", pack_id)
    if not (pack_root / POINTER).exists():
        return
    gone = packs_root / f".{pack_id}.retired-{time.time_ns()}"
    os.replace(pack_root, gone)
    shutil.rmtree(gone, ignore_errors=True)


@dataclass(frozen=True)
class InstalledPack:
    id: str
    version: str
    folder: str
    previous: str
    held: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


def installed_packs(packs_root: Path) -> list[InstalledPack]:
    """Every synced pack (one with a pointer) and the version in service."""
    found = []
    for pack_root in sorted(packs_root.iterdir()) if packs_root.is_dir() else []:
        pointer = read_pointer(pack_root)
        if pack_root.name.startswith(".") or pointer is None:
            continue
        version = pointer.current.rsplit("-", 1)[0]
        found.append(
            InstalledPack(pack_root.name, version, pointer.current, pointer.previous, pointer.held)
        )
    return found
