"""The audit trail: hash chain, rotation, locking, full disk, and every kind of tampering."""

from __future__ import annotations

import errno
import itertools
import json
import multiprocessing
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop.core import audit
from desktop.core.audit import AuditError, AuditLog, verify


def _log(tmp_path: Path, max_bytes: int = audit.MAX_BYTES) -> AuditLog:
    return AuditLog(tmp_path / "audit", max_bytes)


def _filled(tmp_path: Path, count: int = 8, max_bytes: int = audit.MAX_BYTES) -> AuditLog:
    log = _log(tmp_path, max_bytes)
    for n in range(count):
        log.append("search", {"hits": n, "pack": "demo"})
    return log


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _broken(log: AuditLog) -> audit.Break:
    result = verify(log.folder)
    assert not result.ok, "the tampering was not detected"
    assert result.first_break is not None
    return result.first_break


def test_records_chain_and_verify(tmp_path: Path) -> None:
    log = _filled(tmp_path, 5)
    records = [json.loads(line) for line in _lines(log.files()[0])]
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert records[0]["prev"] == audit.GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == before["hash"]
    for record in records:
        assert record["hash"] == audit.record_hash(record)
        assert record["time"].endswith("Z")
    result = verify(log.folder)
    assert result.ok and result.records == 5


def test_an_empty_trail_verifies(tmp_path: Path) -> None:
    assert verify(tmp_path / "audit").ok


def test_edited_field_is_named(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    lines = _lines(path)
    lines[3] = lines[3].replace('"hits": 3', '"hits": 30')
    path.write_text("".join(lines), encoding="utf-8")
    found = _broken(log)
    assert (found.file, found.line, found.seq, found.what) == (path.name, 4, 3, "edited")


def test_edit_with_recomputed_hash_names_the_edited_record(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    lines = _lines(path)
    record = json.loads(lines[3])
    record["hits"] = 99
    record["hash"] = audit.record_hash(record)
    lines[3] = json.dumps(record) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    found = _broken(log)
    assert (found.line, found.seq, found.what) == (4, 3, "edited")


def test_deleted_line_is_named(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    lines = _lines(path)
    del lines[4]
    path.write_text("".join(lines), encoding="utf-8")
    found = _broken(log)
    assert (found.line, found.seq, found.what) == (5, 5, "deleted")
    assert "seq 4" in found.detail


@pytest.mark.parametrize("same_seq", [True, False])
def test_forged_line_with_its_own_hash_is_named(tmp_path: Path, same_seq: bool) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    lines = _lines(path)
    real = json.loads(lines[4])
    forged = dict(real, event="draft_copied", time=real["time"])
    if not same_seq:  # chained after record 4 as if it were record 5
        forged["seq"], forged["prev"] = 5, real["hash"]
    forged["hash"] = audit.record_hash(forged)
    lines.insert(5, json.dumps(forged) + "\n")  # after record 4
    path.write_text("".join(lines), encoding="utf-8")
    found = _broken(log)
    assert (found.line, found.what) == (6, "inserted")


def test_swapped_lines_are_named(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    lines = _lines(path)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_text("".join(lines), encoding="utf-8")
    found = _broken(log)
    assert (found.line, found.seq, found.what) == (3, 3, "reordered")


def test_truncated_last_line_is_named(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    data = path.read_bytes()
    path.write_bytes(data[:-25])
    found = _broken(log)
    assert (found.line, found.what) == (8, "truncated")


def test_deleting_the_last_records_is_found_by_the_head(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    path.write_text("".join(_lines(path)[:6]), encoding="utf-8")
    found = _broken(log)
    assert (found.line, found.seq, found.what) == (7, 6, "deleted")
    # More records later do not hide it: they chain on from the head, past the gap.
    log.append("search", {"hits": 1})
    found = _broken(log)
    assert (found.seq, found.what) == (8, "deleted")


def test_rotation_keeps_the_chain(tmp_path: Path) -> None:
    log = _filled(tmp_path, 12, max_bytes=700)
    files = log.files()
    assert len(files) >= 3
    assert all(f.stat().st_size <= 700 for f in files)
    first_of_second = json.loads(_lines(files[1])[0])
    last_of_first = json.loads(_lines(files[0])[-1])
    assert first_of_second["prev"] == last_of_first["hash"]
    assert first_of_second["seq"] == last_of_first["seq"] + 1
    assert verify(log.folder).ok


def test_deleting_a_rotated_file_is_named(tmp_path: Path) -> None:
    log = _filled(tmp_path, 12, max_bytes=700)
    files = log.files()
    gone = [json.loads(line)["seq"] for line in _lines(files[1])]
    files[1].unlink()
    found = _broken(log)
    assert (found.file, found.line, found.what) == (files[2].name, 1, "deleted")
    assert found.seq == gone[-1] + 1


def test_deleting_the_first_or_last_file_is_named(tmp_path: Path) -> None:
    log = _filled(tmp_path, 12, max_bytes=700)
    files = log.files()
    files[-1].unlink()
    assert _broken(log).what == "deleted"
    files[0].unlink()
    found = _broken(log)
    assert (found.file, found.line, found.what) == (files[1].name, 1, "deleted")


def test_verify_never_repairs(tmp_path: Path) -> None:
    log = _filled(tmp_path)
    path = log.files()[0]
    path.write_text(path.read_text(encoding="utf-8").replace('"hits": 2', '"hits": 7'))
    before = {p: p.read_bytes() for p in log.folder.iterdir()}
    _broken(log)
    assert {p: p.read_bytes() for p in log.folder.iterdir()} == before


def test_clock_going_back_is_flagged_not_reordered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path)
    now = datetime(2030, 5, 1, 12, tzinfo=UTC)
    times = iter([now, now - timedelta(hours=2), now - timedelta(hours=1)])
    monkeypatch.setattr(audit, "utc_now", lambda: next(times))
    records = [log.append("search") for _ in range(3)]
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert "clock_back" not in records[0]
    assert records[1]["clock_back"] is True
    assert "clock_back" not in records[2]
    result = verify(log.folder)
    assert result.ok and result.clock_back == 1


def test_full_disk_leaves_no_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _filled(tmp_path, 3)
    path = log.files()[0]
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(AuditError) as caught:
        log.append("search", {"hits": 1})
    assert "full" in caught.value.message and caught.value.fix
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert verify(log.folder).ok
    log.append("search", {"hits": 2})  # and it goes on once there is room
    assert verify(log.folder).ok and verify(log.folder).records == 4


def test_concurrent_threads_make_one_valid_chain(tmp_path: Path) -> None:
    log = _log(tmp_path, max_bytes=4000)
    other = _log(tmp_path, max_bytes=4000)  # a second instance: only the OS lock protects

    def write(target: AuditLog) -> None:
        for n in range(40):
            target.append("search", {"hits": n})

    threads = [threading.Thread(target=write, args=(t,)) for t in (log, log, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify(log.folder)
    assert result.ok and result.records == 120
    assert len(result.files) > 1


def _append_many(folder: str, count: int) -> None:
    log = AuditLog(Path(folder), 5000)
    for n in range(count):
        log.append("search", {"hits": n, "pid": os.getpid()})


def test_concurrent_processes_make_one_valid_chain(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(folder), 40)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    result = verify(folder)
    assert result.ok and result.records == 80
    pids = {rec["pid"] for _, _, rec in audit.read_records(folder)}
    assert len(pids) == 2


def test_export_since(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    times = iter([start + timedelta(days=n) for n in range(5)])
    monkeypatch.setattr(audit, "utc_now", lambda: next(times))
    for n in range(5):
        log.append("search", {"hits": n})
    since = audit.parse_since("2d", now=start + timedelta(days=4))
    assert [r["hits"] for r in audit.export(log.folder, since)] == [2, 3, 4]
    monkeypatch.undo()
    assert audit.parse_since("2030-01-03") == start + timedelta(days=2)
    with pytest.raises(AuditError):
        audit.parse_since("last tuesday")
