"""The tamper-evident audit trail: what Deskmate did on this PC, hash-chained, content-free.

Records are JSON lines in ``<data>/audit/audit-NNNN.jsonl``. Each one is
``{"seq", "time" (UTC ISO), "event", ...fields, "prev", "hash"}`` where ``hash`` is the SHA-256
of the canonical JSON (sorted keys, no spaces) of the record without ``hash``, and ``prev`` the
``hash`` of the record before (64 zeros for the first). A file past the size limit is closed and
the next one continues the chain: its first ``prev`` is the last hash of the file before.

``head.json`` beside the files names the last record written (seq and hash), so that deleting
the last records, or a whole last file, is found too: a chain alone cannot show that its end is
missing. Appends chain on from the head, so a deletion stays visible after more records follow.

Appends hold a thread lock and the OS's file lock (two processes: the window and the CLI), write
the line with one ``os.write`` and fsync it; a failed or short write is truncated back, so a full
disk never leaves half a line. A clock that went backwards is recorded as it is, with
``"clock_back": true``: records are never reordered nor refused. :func:`verify` walks every file
and names the first broken record; nothing here ever repairs the chain.

What goes in the fields is :mod:`desktop.core.audit_events`' business: no customer text unless a
setting allows the redacted question.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop.core.errors import UserError
from desktop.core.fileio import atomic_write_text, crash_point, file_lock

FOLDER = "audit"
HEAD = "head.json"
LOCK = ".lock"
GENESIS = "0" * 64
MAX_BYTES = 2_000_000
LOCK_WAIT_S = 10.0
_FILE_RE = re.compile(r"audit-(\d{4,})\.jsonl\Z")
_TAIL_BYTES = 1 << 16

Record = dict[str, Any]


class AuditError(UserError):
    """The audit trail cannot be written, read or trusted."""


def audit_dir(data_dir: Path) -> Path:
    return data_dir / FOLDER


def canonical(record: Record) -> bytes:
    """The bytes a record's hash is taken over: sorted keys, no spaces, UTF-8."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Record) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A record's ``time`` back as an aware datetime (ValueError if it is not one)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def file_number(path: Path) -> int:
    match = _FILE_RE.match(path.name)
    return int(match.group(1)) if match else -1


def file_name(number: int) -> str:
    return f"audit-{number:04d}.jsonl"


def audit_files(folder: Path) -> list[Path]:
    """The trail's files in chain order (by their number)."""
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _FILE_RE.match(path.name)]
    return sorted(found, key=file_number)


@dataclass(frozen=True)
class Tail:
    """Where the chain continues: the last record's seq, hash and time, and the file to use."""

    seq: int
    hash: str
    time: str
    file: Path
    clean: bool  # the file ends with that record and a newline: appending there is safe


class AuditLog:
    """One installation's audit trail, in *folder* (``<data>/audit``)."""

    def __init__(self, folder: Path, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @classmethod
    def for_data(cls, data_dir: Path, max_bytes: int = MAX_BYTES) -> AuditLog:
        return cls(audit_dir(data_dir), max_bytes)

    @property
    def head_file(self) -> Path:
        return self.folder / HEAD

    def files(self) -> list[Path]:
        return audit_files(self.folder)

    def append(self, event: str, fields: Record | None = None) -> Record:
        """Record *event* with *fields* at the end of the chain; returns the record written."""
        with self._lock, self._os_lock():
            tail = self._tail()
            moment = utc_now()
            record: Record = {"seq": tail.seq + 1, "time": format_time(moment), "event": event}
            record.update(fields or {})
            if tail.time and _went_back(moment, tail.time):
                record["clock_back"] = True
            record["prev"] = tail.hash
            record["hash"] = record_hash(record)
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            path = self._target(tail, len(line))
            _write_line(path, line)
            self._write_head(path, record)
        return record

    @contextlib.contextmanager
    def _os_lock(self) -> Iterator[None]:
        try:
            with file_lock(self.folder / LOCK, wait_s=LOCK_WAIT_S) as held:
                if not held:
                    raise AuditError(
                        f"The audit trail in {self.folder} is locked by another Deskmate process.",
                        "Try again; if it persists, close other Deskmate windows and commands.",
                    )
                yield
        except OSError as exc:
            raise _write_error(self.folder, exc) from exc

    def _target(self, tail: Tail, size: int) -> Path:
        """The file the next line goes to: a new one when the last is full or not clean."""
        if not tail.file.exists():
            return tail.file
        used = tail.file.stat().st_size
        if tail.clean and (used == 0 or used + size <= self.max_bytes):
            return tail.file
        return self.folder / file_name(file_number(tail.file) + 1)

    def _tail(self) -> Tail:
        """The end of the chain: the head file, unless the files go further (a crash between
        the line and the head), else the last record the files hold."""
        files = self.files()
        last = _last_record(files)
        head = self._read_head()
        newest = files[-1] if files else self.folder / file_name(1)
        if last is None and head is None:
            return Tail(-1, GENESIS, "", newest, True)
        if last is not None and (head is None or int(last[0]["seq"]) >= int(head["seq"])):
            record, clean = last
            return Tail(int(record["seq"]), str(record["hash"]), str(record["time"]), newest, clean)
        assert head is not None  # the files end before the head: records were removed
        return Tail(int(head["seq"]), str(head["hash"]), str(head["time"]), newest, False)

    def _read_head(self) -> Record | None:
        try:
            data = json.loads(self.head_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("seq"), int) and "hash" in data:
            data.setdefault("time", "")
            return data
        return None

    def _write_head(self, path: Path, record: Record) -> None:
        head = {"file": path.name, "seq": record["seq"], "hash": record["hash"]}
        head["time"] = record["time"]
        # The line is written and fsynced; verify accepts records past the head.
        with contextlib.suppress(OSError):
            atomic_write_text(self.head_file, json.dumps(head) + "\n")


def _went_back(moment: datetime, last: str) -> bool:
    try:
        return moment < parse_time(last)
    except ValueError:
        return False


def _write_error(where: Path, exc: OSError) -> AuditError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return AuditError(
            f"The disk holding the audit trail ({where}) is full: nothing was recorded.",
            "Free some space on that disk; the records already written are intact.",
        )
    return AuditError(
        f"Could not write the audit trail in {where}: {exc.strerror or exc}.",
        "Check that you may write to that folder and that the disk is working.",
    )


def _write_line(path: Path, line: bytes) -> None:
    """Append *line* with one ``os.write``, fsynced; on any failure the file is cut back to its
    size before, so it never ends with part of a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise _write_error(path.parent, exc) from exc
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write: the disk is full")
            crash_point("audit.write")
            os.fsync(fd)
        except OSError as exc:
            _cut_back(fd, size)
            raise _write_error(path.parent, exc) from exc
    finally:
        os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # verify will name the torn line: nothing is hidden


def _last_record(files: list[Path]) -> tuple[Record, bool] | None:
    """The last record the files hold that parses, and whether it ends the newest file cleanly."""
    for index in range(len(files) - 1, -1, -1):
        data = _tail_bytes(files[index])
        lines = data.split(b"\n")
        ends_clean = data.endswith(b"\n") or not data
        complete = lines[:-1]  # the part after the last newline is empty or torn
        for back, raw in enumerate(reversed(complete)):
            record = _parse(raw)
            if record is not None:
                clean = index == len(files) - 1 and back == 0 and ends_clean
                return record, clean
    return None


def _tail_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            return handle.read()
    except OSError:
        return b""


def _parse(raw: bytes) -> Record | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if isinstance(record, dict) and isinstance(record.get("seq"), int) and "hash" in record:
        return record
    return None


def read_records(folder: Path) -> Iterator[tuple[Path, int, Record]]:
    """Every record that parses, with its file and line number, in chain order."""
    for path in audit_files(folder):
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                record = _parse(raw)
                if record is not None:
                    yield path, number, record


# --- verify --------------------------------------------------------------------------------------

BREAKS = ("edited", "deleted", "inserted", "reordered", "truncated")


@dataclass(frozen=True)
class Line:
    """One line of one file as verify reads it."""

    file: Path
    number: int
    record: Record | None  # None: not a record at all
    complete: bool  # ends with a newline
    valid: bool  # a record whose hash matches its content

    @property
    def seq(self) -> int:
        return int(self.record["seq"]) if self.record else -1

    @property
    def prev(self) -> str:
        return str(self.record.get("prev", "")) if self.record else ""

    @property
    def hash(self) -> str:
        return str(self.record.get("hash", "")) if self.record else ""


@dataclass(frozen=True)
class Break:
    """The first record where the chain does not hold, and what was done to it."""

    file: str
    line: int
    seq: int
    what: str  # one of BREAKS
    detail: str

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        seq = f"seq {self.seq}" if self.seq >= 0 else "no seq"
        return f"{self.file} line {self.line} ({seq}): {self.what}: {self.detail}"


@dataclass(frozen=True)
class Verification:
    files: list[str]
    records: int
    clock_back: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": self.files,
            "records": self.records,
            "clock_back": self.clock_back,
            "first_break": self.first_break.to_json() if self.first_break else None,
        }


def _read_lines(files: list[Path]) -> list[Line]:
    lines: list[Line] = []
    for path in files:
        data = path.read_bytes()
        parts = data.split(b"\n")
        for number, raw in enumerate(parts, start=1):
            last = number == len(parts)
            if last and not raw:
                break  # the file ends with a newline
            record = _parse(raw)
            valid = record is not None and record_hash(record) == record.get("hash")
            lines.append(Line(path, number, record, not last, valid))
    return lines


def verify(folder: Path) -> Verification:
    """Walk every file of the trail in order; the first broken record, if any, is named."""
    files = audit_files(folder)
    lines = _read_lines(files)
    names = [path.name for path in files]
    clock_back = sum(1 for line in lines if line.record and line.record.get("clock_back"))
    accepted: dict[str, int] = {}  # hash -> index of records that chained correctly
    prev, expected = GENESIS, 0
    for index, line in enumerate(lines):
        if not line.complete:
            return Verification(names, index, clock_back, _break(line, "truncated", _TORN))
        if not line.valid:
            what = "the record's content does not match its hash"
            return Verification(names, index, clock_back, _break(line, "edited", what))
        if line.seq == expected and line.prev == prev:
            accepted[line.hash] = index
            prev, expected = line.hash, expected + 1
            continue
        found = _classify(lines, index, prev, expected, accepted)
        return Verification(names, index, clock_back, found)
    end = _check_head(folder, lines, expected)
    return Verification(names, len(lines), clock_back, end)


_TORN = "the last line is cut short (no newline): the record was truncated"


def _break(line: Line, what: str, detail: str) -> Break:
    return Break(line.file.name, line.number, line.seq, what, detail)


def _classify(
    lines: list[Line], index: int, prev: str, expected: int, accepted: dict[str, int]
) -> Break:
    """What broke the chain at *lines[index]*, whose hash is right but which does not follow."""
    line = lines[index]
    following = lines[index + 1] if index + 1 < len(lines) else None
    if following and following.valid and following.seq == expected and following.prev == prev:
        later = {other.hash for other in lines[index + 1 :]}
        if line.prev in later:
            return _break(line, "reordered", f"it belongs after seq {line.seq - 1}")
        return _break(line, "inserted", "the records around it chain without it")
    before = accepted.get(line.prev)
    if before is not None and lines[before].seq == line.seq - 1 and before + 1 < index:
        return _break(lines[before + 1], "inserted", "the record after it chains past it")
    if line.seq == expected and index > 0:
        return _break(
            lines[index - 1],
            "edited",
            "its hash was recomputed: the next record's prev does not match it",
        )
    if line.seq > expected:
        if any(other.seq == expected for other in lines[index + 1 :]):
            return _break(line, "reordered", f"seq {expected} comes later in the trail")
        missing = f"seq {expected}" + (f"-{line.seq - 1}" if line.seq > expected + 1 else "")
        return _break(line, "deleted", f"the records before it ({missing}) are missing")
    return _break(line, "reordered", f"seq {line.seq} comes after seq {expected - 1}")


def _check_head(folder: Path, lines: list[Line], expected: int) -> Break | None:
    """The end of the chain against ``head.json``: a missing end is a deletion."""
    if not lines:
        return None
    last = lines[-1]
    try:
        head = json.loads((folder / HEAD).read_text(encoding="utf-8"))
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        detail = f"{HEAD} is missing or unreadable, so the end of the trail cannot be checked"
        return Break(last.file.name, last.number + 1, expected, "deleted", detail)
    if head_seq >= expected:
        detail = f"seq {expected}-{head_seq} are missing at the end ({HEAD} names seq {head_seq})"
        return Break(last.file.name, last.number + 1, expected, "deleted", detail)
    for line in lines:
        if line.seq == head_seq and line.hash != head_hash:
            detail = f"it differs from the record {HEAD} names: it and those after were rewritten"
            return _break(line, "edited", detail)
    return None


# --- export --------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"\A(\d{1,5})([dhw])\Z")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``2w`` before *now*, or a date (``2025-01-31``) / ISO time, in UTC."""
    from datetime import timedelta

    now = now or utc_now()
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        return parse_time(value)
    except ValueError:
        raise AuditError(
            f"{text!r} is not a period start.",
            "Use a number of days, hours or weeks (7d, 12h, 2w) or a date (2025-01-31).",
        ) from None


def export(folder: Path, since: datetime, until: datetime | None = None) -> Iterator[Record]:
    """The records from *since* (to *until*), in chain order, as they are in the files."""
    for _, _, record in read_records(folder):
        try:
            moment = parse_time(str(record.get("time", "")))
        except ValueError:
            yield record  # a record with a broken time is IT's to see, not to lose
            continue
        if moment >= since and (until is None or moment < until):
            yield record


def install_id(data_dir: Path) -> str:
    """A random id of this installation (made once), so merged reports tell PCs apart."""
    path = audit_dir(data_dir) / "install-id"
    try:
        text = path.read_text(encoding="utf-8").strip()
        if re.fullmatch(r"[0-9a-f]{32}", text):
            return text
    except OSError:
        pass
    import uuid

    new = uuid.uuid4().hex
    atomic_write_text(path, new + "\n")
    return new
