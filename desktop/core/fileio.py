"""Small file helpers: atomic writes, bounded JSON reads, and names kept inside a folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

CRASH_ENV = "DESKMATE_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here when ``DESKMATE_CRASH_AT`` names this point.

    For the crash-safety harness (tests/crash), which otherwise kills at random times: some
    windows (between two renames) are too narrow for a random kill to hit. A no-op unless set.
    """
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write *data* to *path* so that readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def try_lock(fd: int) -> bool:
    """Take the OS's exclusive lock on the open file *fd* without waiting; False if held.

    The lock is the operating system's (``flock``/``msvcrt.locking``), so it is released when
    the process ends, even if it is killed: a lock file left behind is never "stale".
    """
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def file_lock(path: Path, wait_s: float = 0.0) -> Iterator[bool]:
    """Hold the OS lock on *path* (created if need be) for the block, waiting up to *wait_s*
    seconds for another process to release it; yields whether it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        held = try_lock(fd)
        while not held and time.monotonic() < deadline:
            time.sleep(0.05)
            held = try_lock(fd)
        try:
            yield held
        finally:
            if held:
                unlock(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


MAX_JSON_DEPTH = 32  # settings and policy files are a few levels deep; more is a broken file


def parse_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> object:
    """``json.loads`` that refuses nesting deeper than *max_depth* with a ValueError.

    A deeply nested document otherwise raises RecursionError (in the parser, or later in whoever
    walks or writes the value), which no caller expects from a bad file.
    """
    too_deep = ValueError(f"it is nested more than {max_depth} levels deep")
    try:
        data: object = json.loads(text)
    except RecursionError:
        raise too_deep from None
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise too_deep
        pending.extend((child, depth + 1) for child in children)
    return data


def confined(path: Path, folder: Path) -> Path | None:
    """*path* with symlinks resolved, if it lies inside *folder* (also resolved); else None.

    For file names taken from a pack's metadata: an absolute name, ``..`` or a symlink must not
    lead the window to a file outside the pack's own folder.
    """
    try:
        target = path.resolve()
        inside = target.is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return target if inside else None
