"""Attacks on pack sync. Each asserts the attack is refused AND the pack installed before it is
still the one served (searched) afterwards."""

from __future__ import annotations

import errno
import io
import shutil
import tarfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from synckit import V1_WORD, V2_WORD, Server, Workstation

from desktop.core.sync import install
from desktop.core.sync.client import SyncReport
from desktop.core.sync.install import PackInfo
from desktop.core.sync.lock import SyncBusyError
from desktop.core.sync.repo import KeyStore, Repository, write_archive

# --- helpers -------------------------------------------------------------------------------------


def synced_v1(workstation: Workstation, server: Server) -> None:
    """The workstation syncs v1 over HTTP and serves it."""
    workstation.set_policy(url=server.url)
    report = workstation.sync()
    assert report.ok, report.error
    assert workstation.served() == {"northwind": "1"}


def assert_refused(report: SyncReport, *words: str) -> str:
    """The sync failed (or refused a target) for a reason that mentions *words*."""
    assert not report.ok
    reasons = " ".join([report.error] + [t.reason for t in report.targets if t.status == "refused"])
    for word in words:
        assert word.lower() in reasons.lower(), reasons
    return reasons


def assert_still_serves(workstation: Workstation, version: str = "1") -> None:
    assert workstation.served() == {"northwind": version}
    word = V1_WORD if version == "1" else V2_WORD
    assert word in workstation.answer()
    versions = workstation.paths.data / "packs" / "northwind" / "versions"
    leftovers = [p.name for p in versions.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no half-extracted folder left behind


def archive_file(repo: Repository, version: str) -> Path:
    (found,) = (repo.targets_dir / "northwind").glob(f"*.northwind-{version}.tar.gz")
    return found


def evil_archive(tmp: Path, pack_dir: Path, add: Callable[[tarfile.TarFile], None]) -> Path:
    """A .tar.gz of a real pack with extra members written by *add*."""
    archive = tmp / "evil.tar.gz"
    write_archive(pack_dir, tmp / "good.tar.gz")
    with tarfile.open(tmp / "good.tar.gz", "r:gz") as good, tarfile.open(archive, "w:gz") as out:
        add(out)
        for member in good:
            out.addfile(member, good.extractfile(member) if member.isfile() else None)
    return archive


def publish_evil(repo: Repository, packs: dict[str, Path], archive: Path) -> None:
    """Sign *archive* as version 2 (as a compromised or careless admin machine would)."""
    manifest = (packs["2"] / "manifest.json").read_text(encoding="utf-8")
    import json

    size = sum(p.stat().st_size for p in packs["2"].rglob("*") if p.is_file())
    count = sum(1 for p in packs["2"].rglob("*") if p.is_file())
    repo.add_archive(archive, PackInfo.from_manifest(json.loads(manifest), size, count))


def resign_as(repo: Repository, md: Any, keys: KeyStore) -> None:
    """Write *md* signed with whatever keys *keys* holds (an attacker's signature)."""
    md.signatures.clear()
    for signer in keys.signers().values():
        md.sign(signer, append=True)
    name = (
        "timestamp.json"
        if md.signed.type == "timestamp"
        else f"{md.signed.version}.{md.signed.type}.json"
    )
    (repo.metadata_dir / name).write_bytes(md.to_bytes())


# --- metadata and archive integrity --------------------------------------------------------------


@pytest.mark.slow
def test_tampered_pack_archive(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    archive = archive_file(repo, "2")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))

    assert_refused(workstation.sync(), "does not match")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_tampered_metadata(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    version = repo.targets().signed.version
    path = repo.metadata_dir / f"{version}.targets.json"
    path.write_text(path.read_text().replace('"Northwind"', '"Evil corp"'))

    assert_refused(workstation.sync(), "not signed")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_forged_metadata(
    tmp_path: Path,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
) -> None:
    synced_v1(workstation, server)
    attacker = KeyStore(tmp_path / "attacker-keys")
    attacker.generate("timestamp")
    forged = repo.timestamp()
    forged.signed.version += 5
    resign_as(repo, forged, attacker)

    assert_refused(workstation.sync(), "timestamp", "not signed")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_rollback_to_older_metadata(
    tmp_path: Path,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
) -> None:
    old = tmp_path / "repo-at-v1"
    shutil.copytree(repo.folder, old)
    repo.publish(packs["2"])
    workstation.set_policy(url=server.url)
    assert workstation.sync().ok
    assert workstation.served() == {"northwind": "2"}
    shutil.rmtree(repo.folder)
    shutil.copytree(old, repo.folder)  # a mirror replays the repository as it was at v1

    assert_refused(workstation.sync(), "older than")
    assert_still_serves(workstation, "2")


@pytest.mark.slow
def test_freeze_with_expired_timestamp(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    frozen = repo.timestamp()
    frozen.signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    repo._sign_and_write(frozen, repo.root().signed)  # properly signed, but expired

    assert_refused(workstation.sync(), "expired")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_mix_and_match_of_metadata_versions(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    before = repo.targets()
    repo.publish(packs["2"])
    current = repo.targets().signed.version
    # A validly signed, older targets file served under the name the new snapshot asks for.
    (repo.metadata_dir / f"{current}.targets.json").write_bytes(before.to_bytes())

    assert_refused(workstation.sync(), "expected targets v")
    assert_still_serves(workstation)


def _endless(handler: Any) -> None:
    handler.send_response(200)
    handler.end_headers()
    block = b"\0" * 65536
    try:
        for _ in range(2000):  # 128 MB at most; the client hangs up long before
            handler.wfile.write(block)
    except OSError:
        pass


@pytest.mark.slow
def test_endless_data_in_pack_archive(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    server.hook = lambda h: h.path.endswith(".tar.gz") and (_endless(h) or True)

    assert_refused(workstation.sync(), "more data than")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_endless_data_in_metadata(
    repo: Repository, server: Server, workstation: Workstation
) -> None:
    synced_v1(workstation, server)
    server.hook = lambda h: h.path.endswith("timestamp.json") and (_endless(h) or True)

    assert_refused(workstation.sync(), "more data than")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_oversized_pack_refused_before_download(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    workstation.set_policy(max_pack_mb=1)
    archive = archive_file(repo, "1")
    info = PackInfo.from_custom(
        repo.targets().signed.targets["northwind/northwind-1.tar.gz"].custom
    )
    repo.add_archive(
        archive, PackInfo(**{**info.__dict__, "version": "2", "unpacked_size": 3 << 20})
    )
    server.requests.clear()

    assert_refused(workstation.sync(), "not downloaded", "sync.max_pack_mb")
    assert not [r for r in server.requests if r.endswith(".tar.gz")]
    assert_still_serves(workstation)


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_single_stolen_root_key_below_threshold(
    tmp_path: Path, repo: Repository, server: Server, workstation: Workstation
) -> None:
    synced_v1(workstation, server)
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    shutil.copy(next(repo.keys.folder.glob("root-*.pem")), stolen)
    attacker = KeyStore(stolen)
    evil = repo.root()
    for role in ("root", "targets", "snapshot", "timestamp"):
        for keyid in list(evil.signed.roles[role].keyids):
            if role != "root" or keyid not in attacker.signers():
                evil.signed.revoke_key(keyid, role)
        own = attacker.generate(f"evil-{role}").public_key
        evil.signed.add_key(own, role)
        evil.signed.roles[role].threshold = 1
    evil.signed.version += 1
    resign_as(repo, evil, attacker)

    assert_refused(workstation.sync(), "root", "not signed")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_timestamp_key_rotation_then_old_key_rejected(
    tmp_path: Path, repo: Repository, server: Server, workstation: Workstation
) -> None:
    synced_v1(workstation, server)
    copy = tmp_path / "old-timestamp-key"
    copy.mkdir()
    shutil.copy(next(repo.keys.folder.glob("timestamp-*.pem")), copy)

    repo.rotate_key("timestamp")
    report = workstation.sync()
    assert report.ok, report.error
    assert report.metadata["root"]["version"] == 2

    forged = repo.timestamp()
    forged.signed.version += 1
    resign_as(repo, forged, KeyStore(copy))
    assert_refused(workstation.sync(), "timestamp", "not signed")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_root_key_rotation_then_old_keys_rejected(
    tmp_path: Path, repo: Repository, server: Server, workstation: Workstation
) -> None:
    synced_v1(workstation, server)
    old_keys = tmp_path / "old-root-keys"
    old_keys.mkdir()
    for key in repo.keys.folder.glob("root-*.pem"):
        shutil.copy(key, old_keys)

    repo.rotate_key("root")  # all three root keys replaced
    report = workstation.sync()
    assert report.ok, report.error
    assert report.metadata["root"]["version"] == 2

    evil = repo.root()  # a threshold (all three) of the OLD root keys signs a root v3
    evil.signed.version += 1
    for keyid in list(evil.signed.roles["timestamp"].keyids):
        evil.signed.revoke_key(keyid, "timestamp")
    evil.signed.add_key(KeyStore(tmp_path / "evil").generate("timestamp").public_key, "timestamp")
    resign_as(repo, evil, KeyStore(old_keys))
    assert_refused(workstation.sync(), "root", "not signed")
    assert_still_serves(workstation)


# --- the archive itself (validly signed, hostile content) ----------------------------------------


def _member(name: str, data: bytes = b"x", **fields: Any) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, io.BytesIO(data)


@pytest.fixture
def hostile(
    tmp_path: Path,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
) -> Callable[..., str]:
    """Sync v1, then publish a validly signed v2 archive with extra members; sync must refuse."""
    synced_v1(workstation, server)

    def run(add: Callable[[tarfile.TarFile], None], *words: str) -> str:
        publish_evil(repo, packs, evil_archive(tmp_path, packs["2"], add))
        reasons = assert_refused(workstation.sync(), *words)
        assert_still_serves(workstation)
        return reasons

    return run


@pytest.mark.slow
def test_archive_path_traversal(hostile: Callable[..., str], tmp_path: Path) -> None:
    hostile(lambda tar: tar.addfile(*_member("docs/../../../../escaped.txt")), "leaves its folder")
    assert list(tmp_path.rglob("escaped.txt")) == []


@pytest.mark.slow
def test_archive_absolute_path(hostile: Callable[..., str], tmp_path: Path) -> None:
    target = tmp_path / "absolute.txt"
    hostile(lambda tar: tar.addfile(*_member(str(target))), "absolute")
    assert not target.exists()


@pytest.mark.slow
def test_archive_symlink_out_of_the_tree(hostile: Callable[..., str]) -> None:
    link = {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}
    hostile(lambda tar: tar.addfile(*_member("docs/evil", b"", **link)), "symbolic link")


@pytest.mark.slow
def test_archive_hard_link_out_of_the_tree(hostile: Callable[..., str]) -> None:
    link = {"type": tarfile.LNKTYPE, "linkname": "../../../etc/passwd"}
    hostile(lambda tar: tar.addfile(*_member("docs/evil", b"", **link)), "hard link")


@pytest.mark.slow
def test_archive_device_file(hostile: Callable[..., str]) -> None:
    device = {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}
    hostile(lambda tar: tar.addfile(*_member("docs/null", b"", **device)), "device")


@pytest.mark.slow
def test_archive_fifo(hostile: Callable[..., str]) -> None:
    hostile(lambda tar: tar.addfile(*_member("docs/pipe", b"", type=tarfile.FIFOTYPE)), "pipe")


@pytest.mark.slow
def test_zip_archive_with_path_traversal(
    tmp_path: Path,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
) -> None:
    import zipfile

    synced_v1(workstation, server)
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../../zipped.txt", "escaped")
        for path in packs["2"].rglob("*"):
            if path.is_file():
                zipped.write(path, path.relative_to(packs["2"]).as_posix())
    publish_evil(repo, packs, archive)

    assert_refused(workstation.sync(), "damaged")
    assert list(tmp_path.rglob("zipped.txt")) == []
    assert_still_serves(workstation)


@pytest.mark.slow
def test_decompression_bomb(hostile: Callable[..., str]) -> None:
    bomb = b"\0" * (24 << 20)  # 24 MB of zeros: about 24 KB compressed
    hostile(lambda tar: tar.addfile(*_member("lance/bomb.bin", bomb)), "decompression bomb")


@pytest.mark.slow
def test_decompression_bomb_of_many_files(hostile: Callable[..., str]) -> None:
    def many(tar: tarfile.TarFile) -> None:
        for number in range(5000):
            tar.addfile(*_member(f"docs/bomb-{number}.txt", b""))

    hostile(many, "decompression bomb")


# --- transport and machine -----------------------------------------------------------------------


@pytest.mark.slow
def test_download_interrupted_half_way(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    data = archive_file(repo, "2").read_bytes()

    def half(handler: Any) -> bool:
        if not handler.path.endswith(".tar.gz"):
            return False
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        return True

    server.hook = half
    assert_refused(workstation.sync(), "download")
    assert_still_serves(workstation)
    assert list((workstation.paths.data / "sync" / "downloads").iterdir()) == []

    server.hook = None  # the network recovers: the next sync completes the update
    assert workstation.sync().ok
    assert_still_serves(workstation, "2")


@pytest.mark.slow
def test_two_syncs_at_once(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    entered, release = threading.Event(), threading.Event()

    def stall(handler: Any) -> bool:
        if handler.path.endswith("timestamp.json"):
            entered.set()
            release.wait(30)
        return False

    server.hook = stall
    first: list[SyncReport] = []
    thread = threading.Thread(target=lambda: first.append(workstation.sync()))
    thread.start()
    try:
        assert entered.wait(30)
        started = time.perf_counter()
        with pytest.raises(SyncBusyError, match="already running"):
            workstation.sync()
        assert time.perf_counter() - started < 2  # fails fast, does not wait
        assert_still_serves(workstation)
    finally:
        release.set()
        thread.join(60)
    assert first and first[0].ok, first and first[0].error
    assert_still_serves(workstation, "2")


@pytest.mark.slow
def test_embedding_model_mismatch(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    synced_v1(workstation, server)
    archive = archive_file(repo, "1")
    info = PackInfo.from_custom(
        repo.targets().signed.targets["northwind/northwind-1.tar.gz"].custom
    )
    other = {"version": "2", "embedding_model": "intfloat/e5-large-v2"}
    repo.add_archive(archive, PackInfo(**{**info.__dict__, **other}))
    server.requests.clear()

    assert_refused(workstation.sync(), "not downloaded", "intfloat/e5-large-v2")
    assert not [r for r in server.requests if r.endswith(".tar.gz")]  # refused before download
    assert_still_serves(workstation)


@pytest.mark.slow
def test_schema_version_mismatch(
    repo: Repository, server: Server, workstation: Workstation
) -> None:
    synced_v1(workstation, server)
    archive = archive_file(repo, "1")
    info = PackInfo.from_custom(
        repo.targets().signed.targets["northwind/northwind-1.tar.gz"].custom
    )
    repo.add_archive(archive, PackInfo(**{**info.__dict__, "version": "2", "schema_version": 99}))

    assert_refused(workstation.sync(), "not downloaded", "format version 99")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_disk_full_during_install(
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced_v1(workstation, server)
    repo.publish(packs["2"])
    budget = [20_000]  # bytes the "disk" still takes

    class FullDisk(io.FileIO):
        def write(self, data: Any) -> int:
            budget[0] -= len(data)
            if budget[0] < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)

    with monkeypatch.context() as patch:
        patch.setattr(install, "open", lambda path, mode: FullDisk(path, mode[0]), raising=False)
        assert_refused(workstation.sync(), "disk is full")
        assert_still_serves(workstation)
    assert workstation.sync().ok  # space freed: the update goes through
    assert_still_serves(workstation, "2")
