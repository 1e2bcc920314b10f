"""Outside review (issue 11): interrupted first installs, damaged packs, folder bombs, rollback.

Each test sets up the state the review found (a sync killed while unpacking, a truncated LanceDB
file, an archive of folders, a rollback during a sync) with real packs, a real TUF repository and
the real embedding model, and checks that Deskmate keeps serving what it can, names what it
cannot and repairs it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from synckit import V1_WORD, V2_WORD, Server, Workstation

from desktop.core.assist import Assistant
from desktop.core.context import AppContext
from desktop.core.doctor import check_index
from desktop.core.errors import KnowledgeError, SyncError
from desktop.core.sync.client import SyncReport
from desktop.core.sync.install import ArchiveError, read_pointer, safe_extract
from desktop.core.sync.lock import SyncBusyError
from desktop.core.sync.repo import Repository

# New in this change, imported where used, so that the other tests also run on the code before it.
EXTRA_DIRS = 64  # desktop.core.sync.install.MAX_EXTRA_DIRS

ROOT = Path(__file__).resolve().parents[2]
DEMO_QUESTION = "How do I reset my password?"

# --- helpers -------------------------------------------------------------------------------------


def northwind(workstation: Workstation) -> Path:
    return workstation.paths.data / "packs" / "northwind"


def with_demo(workstation: Workstation, demo_pack: Path) -> AppContext:
    """A context that serves the installed demo pack and the synced packs, like the window."""
    demo = workstation.paths.data / "packs" / "demo"
    if not demo.exists():
        shutil.copytree(demo_pack, demo)
        vectors = demo_pack.with_name(".demo.vectors")  # so a rebuild re-embeds nothing
        if vectors.is_dir():
            shutil.copytree(vectors, demo.with_name(".demo.vectors"))
    workstation.policy["knowledge.demo_enabled"] = True  # managed: served only if IT allows it
    workstation.set_policy()
    return AppContext(workstation.paths, workstation.settings(), embedder=workstation.embedder)


def search_text(context: AppContext, query: str) -> str:
    return " ".join(hit.text for hit in Assistant(context).search(query))


def lance_file(pack_dir: Path, kind: str) -> Path:
    """The data file, the full-text index or the latest manifest of a pack's table."""
    table = pack_dir / "lance" / "chunks.lance"
    if kind == "data":
        return max((table / "data").glob("*.lance"), key=lambda p: p.stat().st_size)
    if kind == "index":
        return max((table / "_indices").rglob("*.lance"), key=lambda p: p.stat().st_size)
    return min((table / "_versions").glob("*.manifest"))  # lance counts versions downwards


def truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def current_dir(workstation: Workstation) -> Path:
    pointer = read_pointer(northwind(workstation))
    assert pointer is not None
    return northwind(workstation) / "versions" / pointer.current


def deskmate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real ``deskmate`` command of this checkout, in this test's home."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


# --- 1. an interrupted first install -------------------------------------------------------------


def _leave_partial_staging(workstation: Workstation, repo: Repository) -> None:
    """What a kill while unpacking leaves: versions/ with a half-extracted staging folder."""
    (archive,) = (repo.targets_dir / "northwind").glob("*.northwind-1.tar.gz")
    staging = northwind(workstation) / "versions" / f".1-{archive.name[:12]}.k2j4l1.partial"
    staging.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar if m.isfile()]
        for member in members[: len(members) // 2]:
            tar.extract(member, staging, filter="data")
    half_written = next(p for p in staging.rglob("*") if p.is_file() and p.stat().st_size > 2)
    truncate(half_written)


def _leave_unpacked_without_pointer(workstation: Workstation, repo: Repository) -> None:
    """A kill after the version folder was renamed into place but before the pointer was written
    (a half-written pointer leaves only its hidden temporary file)."""
    assert workstation.sync().ok
    pointer = northwind(workstation) / "current"
    pointer.rename(pointer.with_name(".current.x81hq2.tmp"))


def _leave_empty_versions(workstation: Workstation, repo: Repository) -> None:
    """A kill right after the first folders were made."""
    (northwind(workstation) / "versions").mkdir(parents=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "leave",
    [_leave_partial_staging, _leave_unpacked_without_pointer, _leave_empty_versions],
    ids=["partial-staging", "unpacked-no-pointer", "empty-versions"],
)
def test_interrupted_first_install_is_skipped_then_completed_by_the_next_sync(
    leave: Callable[[Workstation, Repository], None],
    repo: Repository,
    workstation: Workstation,
    demo_pack: Path,
) -> None:
    leave(workstation, repo)
    context = with_demo(workstation, demo_pack)

    assert [p.id for p in context.packs()] == ["demo"]  # the leftover is not opened as a pack
    assert "password" in search_text(context, DEMO_QUESTION).lower()
    (problem,) = context.pack_problems()
    assert problem.pack == "northwind" and "did not finish" in problem.message
    assert "deskmate sync" in problem.fix

    report = workstation.sync()  # installs over the leftover instead of refusing it
    assert report.ok, report.error
    assert [(t.pack, t.status) for t in report.targets] == [("northwind", "installed")]
    assert sorted(p.id for p in context.packs()) == ["demo", "northwind"]
    assert context.pack_problems() == []
    assert V1_WORD in workstation.answer(context)
    assert [p.name for p in (northwind(workstation) / "versions").iterdir()] == [
        current_dir(workstation).name
    ]
    assert sorted(p.name for p in northwind(workstation).iterdir()) == ["current", "versions"]


KILLED_SYNC = textwrap.dedent("""
    import threading
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.core.sync import install
    from desktop.core.sync.client import run_sync

    write, written = install._write_member, []

    def write_then_hang(source, target, size):
        write(source, target, size)
        written.append(target)
        if len(written) == 5:
            print("unpacking", target, flush=True)
            threading.Event().wait()  # killed here, half-way through the archive

    install._write_member = write_then_hang
    paths = Paths.from_env()
    run_sync(paths, Settings.load(paths), Embedder())
""")


@pytest.mark.slow
def test_sync_killed_while_unpacking_a_first_install(
    repo: Repository, workstation: Workstation, demo_pack: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_SYNC], stdout=subprocess.PIPE, text=True, env=env
    ) as sync:
        assert sync.stdout is not None
        line = sync.stdout.readline()
        sync.kill()
        sync.wait(30)
    assert line.startswith("unpacking"), line
    versions = northwind(workstation) / "versions"
    assert not (northwind(workstation) / "current").exists()
    assert [p.name.endswith(".partial") for p in versions.iterdir()] == [True]

    context = with_demo(workstation, demo_pack)
    assert [p.id for p in context.packs()] == ["demo"]
    assert "password" in search_text(context, DEMO_QUESTION).lower()
    assert workstation.sync().ok
    assert V1_WORD in workstation.answer(context)
    assert not [p for p in versions.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_plain_pack_folder_is_still_not_overwritten(
    repo: Repository, workstation: Workstation, demo_pack: Path
) -> None:
    plain = northwind(workstation)
    shutil.copytree(demo_pack, plain)
    (plain / "versions").mkdir()  # a plain pack that happens to have a versions/ folder

    report = workstation.sync()
    assert [t.status for t in report.targets] == ["refused"]
    assert "not installed by sync" in report.targets[0].reason
    assert (plain / "manifest.json").is_file()


# --- 3. one damaged pack -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["data", "index", "manifest"])
def test_a_damaged_pack_is_named_and_the_others_are_served(
    kind: str, workstation: Workstation, demo_pack: Path
) -> None:
    assert workstation.sync().ok
    truncate(lance_file(current_dir(workstation), kind))
    context = with_demo(workstation, demo_pack)

    assert [p.id for p in context.packs()] == ["demo"]
    assert "password" in search_text(context, DEMO_QUESTION).lower()
    (problem,) = context.pack_problems()
    assert problem.pack == "northwind" and "damaged" in problem.message
    assert "deskmate pack repair northwind" in problem.fix
    doctor = check_index(context)
    assert doctor.status == "error"
    assert "northwind" in doctor.message and "pack repair northwind" in doctor.fix


@pytest.mark.slow
def test_damage_found_by_a_search_leaves_the_other_packs_searchable(
    workstation: Workstation, demo_pack: Path
) -> None:
    assert workstation.sync().ok
    context = with_demo(workstation, demo_pack)
    assert sorted(p.id for p in context.packs()) == ["demo", "northwind"]  # opened while sound
    truncate(lance_file(current_dir(workstation), "data"))  # damaged while in service

    assert "password" in search_text(context, DEMO_QUESTION).lower()  # no lance traceback
    assert [p.pack for p in context.pack_problems()] == ["northwind"]
    assert [p.id for p in context.packs()] == ["demo"]


@pytest.mark.slow
def test_sync_reinstalls_a_damaged_installed_version(workstation: Workstation) -> None:
    assert workstation.sync().ok
    truncate(lance_file(current_dir(workstation), "data"))

    report = workstation.sync()
    assert report.ok, report.error
    (target,) = report.targets
    assert (target.status, target.version) == ("installed", "1")
    assert "damaged" in target.reason
    assert V1_WORD in workstation.answer()
    assert workstation.sync().targets[0].status == "current"  # and now it is sound


@pytest.mark.slow
def test_pack_repair_reinstalls_a_synced_pack(workstation: Workstation) -> None:
    assert workstation.sync().ok
    folder = current_dir(workstation)
    doc = next((folder / "docs").glob("*.txt"))
    doc.unlink()  # damage no search notices: repair reinstalls on demand anyway

    result = deskmate("pack", "repair", "northwind")
    assert result.returncode == 0, result.stderr
    assert "northwind: reinstalled (version 1" in result.stdout
    assert doc.is_file()
    assert not (northwind(workstation) / "reinstall").exists()
    assert V1_WORD in workstation.answer()


@pytest.mark.slow
def test_pack_repair_of_a_synced_pack_while_offline_keeps_it(
    workstation: Workstation, tmp_path: Path
) -> None:
    assert workstation.sync().ok
    workstation.set_policy(url=(tmp_path / "gone").as_uri())
    context = workstation.context()

    from desktop.core.sync.repair import repair_pack

    with pytest.raises(SyncError, match="was not reinstalled") as caught:
        repair_pack(context, "northwind")
    assert "unchanged" in caught.value.message
    assert V1_WORD in workstation.answer()  # what the user had is still served


@pytest.mark.slow
def test_pack_repair_rebuilds_a_damaged_demo_pack(
    workstation: Workstation, demo_pack: Path
) -> None:
    context = with_demo(workstation, demo_pack)
    truncate(lance_file(context.demo_pack_dir, "data"))
    with pytest.raises(KnowledgeError, match="damaged"):
        context.packs()
    from desktop.core.sync.repair import repair_pack

    done = repair_pack(context, "demo")
    assert done.action == "rebuilt"
    assert "password" in search_text(context, DEMO_QUESTION).lower()
    assert context.pack_problems() == []


@pytest.mark.slow
def test_cli_search_names_the_damaged_pack_and_answers_from_the_others(
    workstation: Workstation, demo_pack: Path
) -> None:
    assert workstation.sync().ok
    with_demo(workstation, demo_pack)
    truncate(lance_file(current_dir(workstation), "data"))

    result = deskmate("search", DEMO_QUESTION)
    assert result.returncode == 0, result.stderr
    assert "[demo:" in result.stdout
    assert "warning: pack northwind not searched" in result.stderr
    assert "deskmate pack repair northwind" in result.stderr
    assert "Traceback" not in result.stderr and "lance error" not in result.stdout


# --- 10. folders in a pack archive ---------------------------------------------------------------


def _archive(tmp_path: Path, *members: tarfile.TarInfo) -> Path:
    archive = tmp_path / "folders.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return archive


def _folder(name: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = tarfile.DIRTYPE
    return member


def test_folder_entries_count_against_the_file_limit(tmp_path: Path) -> None:
    archive = _archive(tmp_path, *(_folder(f"d{n}") for n in range(10 + EXTRA_DIRS + 1)))
    (tmp_path / "out").mkdir()
    with pytest.raises(ArchiveError, match="folders"):
        safe_extract(archive, tmp_path / "out", 1 << 20, 10)
    assert len(list((tmp_path / "out").iterdir())) <= 10 + EXTRA_DIRS


def test_folders_made_for_a_deep_path_count_too(tmp_path: Path) -> None:
    deep = tarfile.TarInfo("/".join(["d"] * (EXTRA_DIRS + 20)) + "/file.txt")
    deep.size = 1
    (tmp_path / "out").mkdir()
    with pytest.raises(ArchiveError, match="folders"):
        safe_extract(_archive(tmp_path, deep), tmp_path / "out", 1 << 20, 10)
    assert not (tmp_path / "out" / "d").exists()


@pytest.mark.slow
def test_signed_archive_of_many_folders_is_refused(
    tmp_path: Path, repo: Repository, server: Server, workstation: Workstation, packs: Any
) -> None:
    from test_sync_attacks import assert_refused, assert_still_serves, evil_archive, publish_evil

    workstation.set_policy(url=server.url)
    assert workstation.sync().ok

    def folders(tar: tarfile.TarFile) -> None:
        for number in range(5000):
            tar.addfile(_folder(f"docs/folder-{number}"))

    publish_evil(repo, packs, evil_archive(tmp_path, packs["2"], folders))
    assert_refused(workstation.sync(), "decompression bomb", "folders")
    assert_still_serves(workstation)


@pytest.mark.slow
def test_a_real_pack_is_within_the_folder_limit(tmp_path: Path, packs: Any) -> None:
    from desktop.core.sync.repo import write_archive

    size, count = write_archive(packs["2"], tmp_path / "pack.tar.gz")
    (tmp_path / "out").mkdir()
    assert safe_extract(tmp_path / "pack.tar.gz", tmp_path / "out", size, count) == (size, count)


# --- 13. rollback and sync -----------------------------------------------------------------------


@pytest.fixture
def sync_in_progress(
    repo: Repository, server: Server, workstation: Workstation, packs: Any
) -> Iterator[list[SyncReport]]:
    """v1 then v2 installed (so there is a version to roll back to), and a further sync stalled
    on its timestamp download while the test runs; yields that sync's report when done."""
    workstation.set_policy(url=server.url)
    assert workstation.sync().ok
    repo.publish(packs["2"])
    assert workstation.sync().ok
    entered, release = threading.Event(), threading.Event()

    def stall(handler: Any) -> bool:
        if handler.path.endswith("timestamp.json"):
            entered.set()
            release.wait(60)
        return False

    server.hook = stall
    reports: list[SyncReport] = []
    thread = threading.Thread(target=lambda: reports.append(workstation.sync()))
    thread.start()
    try:
        assert entered.wait(60)
        yield reports
    finally:
        release.set()
        thread.join(120)
        server.hook = None


@pytest.mark.slow
def test_rollback_is_refused_while_a_sync_runs(
    sync_in_progress: list[SyncReport], workstation: Workstation
) -> None:
    before = read_pointer(northwind(workstation))
    result = deskmate("pack", "rollback", "northwind", timeout=120)
    assert result.returncode == 1, result.stdout
    assert "not rolled back: a pack sync is running" in result.stderr
    assert read_pointer(northwind(workstation)) == before

    from desktop.core.sync.state import rollback_pack

    with pytest.raises(SyncBusyError, match="sync is running") as caught:
        rollback_pack(workstation.paths, "northwind")
    assert f"process {os.getpid()}" in caught.value.message  # the sync runs in this process
    assert "pack rollback northwind" in caught.value.fix
    assert read_pointer(northwind(workstation)) == before


@pytest.mark.slow
def test_rollback_after_the_sync_is_done(
    repo: Repository, server: Server, workstation: Workstation, packs: Any
) -> None:
    workstation.set_policy(url=server.url)
    assert workstation.sync().ok
    repo.publish(packs["2"])
    assert workstation.sync().ok
    from desktop.core.sync.state import rollback_pack

    pointer = rollback_pack(workstation.paths, "northwind")
    assert pointer.current.startswith("1-") and pointer.held.startswith("2-")
    assert V1_WORD in workstation.answer()
    assert V2_WORD not in workstation.answer()
