"""The admin side: a pack repository of TUF metadata and signed pack archives, as plain files.

Layout (serve the folder with any static web server, or put it on a file share)::

    <repo>/metadata/1.root.json, 2.root.json, ...   every root version (clients walk the chain)
    <repo>/metadata/root.json                        the newest root (ship it to workstations)
    <repo>/metadata/timestamp.json                   short-lived, names the snapshot version
    <repo>/metadata/<n>.snapshot.json, <n>.targets.json   consistent snapshots
    <repo>/targets/<id>/<sha256>.<id>-<version>.tar.gz     pack archives

Keys live in a folder the admin chooses, one PEM file per ed25519 key (``<role>-<keyid8>.pem``,
mode 0600, encrypted when ``DESKMATE_KEY_PASSPHRASE`` is set). Root needs 2 of 3 keys by default;
root, targets, snapshot and timestamp metadata expire after 365, 30, 7 and 1 days.

New metadata is written in the order targets, snapshot, timestamp (each atomically), so a client
fetching during a publish sees the old consistent snapshot or the new one.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import SyncError
from desktop.core.fileio import atomic_write_bytes
from desktop.core.sync import RESERVED_IDS, check_name
from desktop.core.sync.install import CUSTOM_KEY, PackInfo

if TYPE_CHECKING:
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

PASSPHRASE_ENV = "DESKMATE_KEY_PASSPHRASE"
EXPIRY_DAYS = {"root": 365, "targets": 30, "snapshot": 7, "timestamp": 1}
TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
ARCHIVE_SUFFIX = ".tar.gz"


def _expiry(role: str, days: float | None = None) -> datetime:
    span = timedelta(days=EXPIRY_DAYS[role] if days is None else days)
    return datetime.now(UTC).replace(microsecond=0) + span


def _serializer() -> Any:
    from tuf.api.serialization.json import JSONSerializer

    return JSONSerializer(compact=False)


class KeyStore:
    """The admin's folder of private signing keys."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def generate(self, role: str) -> CryptoSigner:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from securesystemslib.signer import CryptoSigner

        private = Ed25519PrivateKey.generate()
        signer = CryptoSigner(private)
        passphrase = os.environ.get(PASSPHRASE_ENV, "")
        encryption: Any = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"{role}-{signer.public_key.keyid[:8]}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return signer

    def signers(self) -> dict[str, CryptoSigner]:
        """Every key in the folder by key id."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from securesystemslib.signer import CryptoSigner

        found: dict[str, CryptoSigner] = {}
        passphrase = os.environ.get(PASSPHRASE_ENV, "").encode() or None
        for path in sorted(self.folder.glob("*.pem")) if self.folder.is_dir() else []:
            data = path.read_bytes()
            try:
                private: Any = load_pem_private_key(
                    data, passphrase if b"ENCRYPTED" in data else None
                )
            except (ValueError, TypeError) as exc:
                raise SyncError(
                    f"The key file {path} cannot be read ({exc}).",
                    f"If it is encrypted, set {PASSPHRASE_ENV} to its passphrase.",
                ) from exc
            signer = CryptoSigner(private)
            found[signer.public_key.keyid] = signer
        return found

    def retire(self, keyids: Iterable[str]) -> None:
        """Rename the files of keys no longer in use, so they are never used to sign again."""
        for path in self.folder.glob("*.pem"):
            for keyid in keyids:
                if path.stem.endswith(keyid[:8]):
                    path.rename(path.with_suffix(".pem.retired"))


@dataclass(frozen=True)
class Published:
    """What a publish did: the pack, its target path, and whether anything changed."""

    info: PackInfo
    target: str
    changed: bool


class Repository:
    """A pack repository folder and the key folder that signs it."""

    def __init__(self, folder: Path, keys: KeyStore) -> None:
        self.folder = folder
        self.keys = keys
        self.metadata_dir = folder / "metadata"
        self.targets_dir = folder / "targets"

    # --- creation -------------------------------------------------------------------------

    @classmethod
    def create(
        cls, folder: Path, keys_folder: Path, *, threshold: int = 2, root_keys: int = 3
    ) -> Repository:
        """A new repository with fresh keys: *threshold* of *root_keys* root keys."""
        from tuf.api.metadata import Metadata, Root, Snapshot, Targets

        if not 1 <= threshold <= root_keys:
            raise SyncError(
                f"A root threshold of {threshold} with {root_keys} root keys is impossible.",
                "Use a threshold from 1 to the number of root keys (e.g. 2 of 3).",
            )
        if (folder / "metadata").exists():
            raise SyncError(
                f"{folder} already holds a pack repository.",
                "Choose an empty folder, or use the existing repository.",
            )
        repo = cls(folder, KeyStore(keys_folder))
        root = Root(expires=_expiry("root"), consistent_snapshot=True)
        for _ in range(root_keys):
            root.add_key(repo.keys.generate("root").public_key, "root")
        root.roles["root"].threshold = threshold
        for role in ("targets", "snapshot", "timestamp"):
            root.add_key(repo.keys.generate(role).public_key, role)
        repo.metadata_dir.mkdir(parents=True)
        repo.targets_dir.mkdir(parents=True)
        repo._sign_and_write(Metadata(root), root)
        targets = Metadata(Targets(expires=_expiry("targets")))
        repo._sign_and_write(targets, root)
        repo._commit_snapshot(Metadata(Snapshot(expires=_expiry("snapshot"))), targets, root, 1)
        return repo

    # --- reading --------------------------------------------------------------------------

    def _read(self, name: str) -> Metadata[Any]:
        from tuf.api.metadata import Metadata

        path = self.metadata_dir / name
        try:
            return Metadata.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise SyncError(
                f"No pack repository at {self.folder} ({path.name} is missing).",
                "Create one with `deskmate repo init`.",
            ) from None

    def root(self) -> Metadata[Root]:
        return self._read("root.json")

    def timestamp(self) -> Metadata[Any]:
        return self._read("timestamp.json")

    def snapshot(self) -> Metadata[Any]:
        version = self.timestamp().signed.snapshot_meta.version
        return self._read(f"{version}.snapshot.json")

    def targets(self) -> Metadata[Any]:
        version = self.snapshot().signed.meta["targets.json"].version
        return self._read(f"{version}.targets.json")

    # --- signing --------------------------------------------------------------------------

    def _sign_and_write(
        self, md: Metadata[Any], root: Root, extra_roots: Iterable[Root] = ()
    ) -> bytes:
        """Sign *md* with every available key of its role (in *root* and *extra_roots*)."""
        role = md.signed.type
        md.signatures.clear()
        signers = self.keys.signers()
        for trusted in (root, *extra_roots):
            wanted = trusted.roles[role]
            have = [signers[k] for k in wanted.keyids if k in signers]
            if len(have) < wanted.threshold:
                raise SyncError(
                    f"Signing {role} metadata needs {wanted.threshold} of its keys; the key "
                    f"folder {self.keys.folder} has {len(have)}.",
                    "Bring the missing key files (e.g. offline root keys) into the key folder.",
                )
            for signer in have:
                if signer.public_key.keyid not in md.signatures:
                    md.sign(signer, append=True)
        data: bytes = md.to_bytes(_serializer())
        version = md.signed.version
        if role == "timestamp":
            atomic_write_bytes(self.metadata_dir / "timestamp.json", data)
        else:
            atomic_write_bytes(self.metadata_dir / f"{version}.{role}.json", data)
        if role == "root":
            atomic_write_bytes(self.metadata_dir / "root.json", data)
        return data

    def _commit_snapshot(
        self, snapshot: Metadata[Any], targets: Metadata[Any], root: Root, version: int
    ) -> None:
        from tuf.api.metadata import Metadata, MetaFile, Timestamp

        snapshot.signed.version = version
        snapshot.signed.expires = _expiry("snapshot")
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        data = self._sign_and_write(snapshot, root)
        try:
            timestamp = self.timestamp()
            timestamp.signed.version += 1
        except SyncError:
            timestamp = Metadata(Timestamp(expires=_expiry("timestamp")))
        timestamp.signed.expires = _expiry("timestamp")
        timestamp.signed.snapshot_meta = MetaFile.from_data(version, data, ["sha256"])
        self._sign_and_write(timestamp, root)

    def commit(self, targets: Metadata[Any] | None = None, *, bump_targets: bool = True) -> None:
        """Write new targets (if given or *bump_targets*), snapshot and timestamp, in that order."""
        root = self.root().signed
        snapshot = self.snapshot()
        if targets is None:
            targets = self.targets()
        if bump_targets:
            targets.signed.version += 1
            targets.signed.expires = _expiry("targets")
            self._sign_and_write(targets, root)
        self._commit_snapshot(snapshot, targets, root, snapshot.signed.version + 1)

    def resign(self, *, targets: bool = True) -> None:
        """Refresh the short-lived roles: timestamp and snapshot, and targets unless told not to."""
        self.commit(bump_targets=targets)

    # --- packs ----------------------------------------------------------------------------

    def publish(self, pack_dir: Path) -> Published:
        """Sign and publish the built pack in *pack_dir* as the current version of its id."""
        try:
            manifest = json.loads((pack_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SyncError(
                f"{pack_dir} is not a built knowledge pack ({exc}).",
                "Build it first with `deskmate pack build SRC --out DIR --id ID --version N`.",
            ) from exc
        pack_id = check_name("id", str(manifest.get("id", "")))
        if pack_id in RESERVED_IDS:
            raise SyncError(
                f"The pack id {pack_id!r} is reserved for Deskmate's built-in pack.",
                "Rebuild the pack with another --id.",
            )
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            archive = Path(tmp) / "pack.tar.gz"
            size, count = write_archive(pack_dir, archive)
            info = PackInfo.from_manifest(manifest, size, count)
            return self.add_archive(archive, info)

    def add_archive(self, archive: Path, info: PackInfo) -> Published:
        """Publish *archive* with *info* as its signed custom metadata (replacing older versions).

        ``publish`` is the normal way in; this is the step that signs whatever archive it is given.
        """
        from tuf.api.metadata import TargetFile

        path = f"{info.id}/{info.id}-{info.version}{ARCHIVE_SUFFIX}"
        new = TargetFile.from_file(path, str(archive), ["sha256"])
        new.unrecognized_fields["custom"] = info.to_custom()
        targets = self.targets()
        old = targets.signed.targets.get(path)
        if old is not None and old.hashes == new.hashes and old.custom == new.custom:
            return Published(info, path, changed=False)
        if old is not None and old.hashes != new.hashes:
            raise SyncError(
                f"Version {info.version} of pack {info.id!r} is already published with other "
                "content.",
                "Rebuild the pack with a new --version and publish that.",
            )
        for other in [p for p, t in targets.signed.targets.items() if _pack_id(t) == info.id]:
            del targets.signed.targets[other]
        targets.signed.targets[path] = new
        dest = self.targets_dir / info.id / f"{new.hashes['sha256']}.{path.rpartition('/')[2]}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest)
        self.commit(targets)
        return Published(info, path, changed=True)

    def retire(self, pack_id: str) -> list[str]:
        """Stop publishing *pack_id*: workstations uninstall it at their next sync."""
        targets = self.targets()
        gone = [p for p, t in targets.signed.targets.items() if _pack_id(t) == pack_id]
        if not gone:
            raise SyncError(
                f"No pack {pack_id!r} is published in {self.folder}.",
                "Run `deskmate repo status` to list the published packs.",
            )
        for path in gone:
            del targets.signed.targets[path]
        self.commit(targets)
        return gone

    def published(self) -> list[tuple[str, PackInfo]]:
        targets = self.targets().signed.targets
        return [(p, PackInfo.from_custom(t.custom)) for p, t in sorted(targets.items())]

    def archive_of(self, pack_id: str) -> tuple[Path, PackInfo]:
        """The stored archive and description of the published version of *pack_id*."""
        for path, target in self.targets().signed.targets.items():
            if _pack_id(target) == pack_id:
                name = f"{target.hashes['sha256']}.{path.rpartition('/')[2]}"
                return self.targets_dir / pack_id / name, PackInfo.from_custom(target.custom)
        raise SyncError(
            f"No pack {pack_id!r} is published in {self.folder}.",
            "Run `deskmate repo status` to list the published packs.",
        )

    # --- keys -----------------------------------------------------------------------------

    def rotate_key(self, role: str, remove: Iterable[str] = ()) -> list[str]:
        """Replace keys of *role* with new ones; return the new key ids.

        *remove* names the key ids (or their first 8 characters) to drop; by default all keys of
        the role are replaced. The new root is signed by the threshold of the old root's keys and
        of the new root's keys, as TUF requires, so workstations follow the rotation.
        """
        if role not in TOP_ROLES:
            raise SyncError(f"There is no role {role!r}.", f"Use one of {', '.join(TOP_ROLES)}.")
        previous: Root = self.root().signed
        root_md = self.root()
        root = root_md.signed
        current = list(root.roles[role].keyids)
        wanted = list(remove)
        drop = [k for k in current if not wanted or any(k.startswith(w) for w in wanted)]
        if wanted and len(drop) != len(wanted):
            raise SyncError(
                f"Not every key to remove is a {role} key: {', '.join(wanted)}.",
                "Run `deskmate repo status` to list the key ids of each role.",
            )
        added = [self.keys.generate(role).public_key for _ in drop]
        for key in added:
            root.add_key(key, role)
        for keyid in drop:
            root.revoke_key(keyid, role)
        root.version += 1
        root.expires = _expiry("root")
        self._sign_and_write(root_md, root, extra_roots=[previous])
        self.keys.retire(drop)
        if role == "targets":
            self.commit()
        elif role in ("snapshot", "timestamp"):
            self.commit(bump_targets=False)
        return [key.keyid for key in added]

    def status(self) -> dict[str, Any]:
        root = self.root().signed
        roles: dict[str, Any] = {}
        for role, md in (
            ("root", self.root()),
            ("targets", self.targets()),
            ("snapshot", self.snapshot()),
            ("timestamp", self.timestamp()),
        ):
            roles[role] = {
                "version": md.signed.version,
                "expires": md.signed.expires.isoformat(),
                "threshold": root.roles[role].threshold,
                "keyids": list(root.roles[role].keyids),
            }
        packs = [{"target": p, **i.__dict__} for p, i in self.published()]
        return {"repository": str(self.folder), "roles": roles, "packs": packs}


def _pack_id(target: Any) -> str:
    data = (target.custom or {}).get(CUSTOM_KEY) or {}
    return str(data.get("id", ""))


def write_archive(pack_dir: Path, archive: Path) -> tuple[int, int]:
    """Write *pack_dir* as a deterministic .tar.gz (sorted, zero times and owners).

    Returns the unpacked size and file count, which go into the signed custom metadata.
    """
    entries = sorted(pack_dir.rglob("*"), key=lambda p: p.relative_to(pack_dir).as_posix())
    size = count = 0
    with (
        open(archive, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in entries:
            name = path.relative_to(pack_dir).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise SyncError(
                    f"{path} is a link or special file; a pack holds only files and folders.",
                    "Rebuild the pack with `deskmate pack build`.",
                )
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size, info.mode = path.stat().st_size, 0o644
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
            size += info.size
            count += 1
    return size, count
