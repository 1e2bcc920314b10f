"""One sync at a time per machine: an OS file lock that dies with its process (no stale locks).

``deskmate pack rollback`` takes the same lock (:func:`~.state.rollback_pack`), so that it cannot
interleave with a sync that installs and prunes versions.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from desktop.core.errors import SyncError
from desktop.core.fileio import try_lock, unlock


class SyncBusyError(SyncError):
    """Another sync (or a rollback) holds the lock; ``holder`` is its process id, if known."""

    def __init__(self, message: str, fix: str = "", holder: str = "unknown") -> None:
        super().__init__(message, fix)
        self.holder = holder


@contextlib.contextmanager
def sync_lock(path: Path) -> Iterator[None]:
    """Hold the machine's sync lock at *path*, or fail at once with SyncBusyError.

    The lock is the operating system's (``flock``/``msvcrt.locking``), so it is released when
    the process ends, even if it crashes: a lock file left behind is never "stale".
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not try_lock(fd):
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            raise SyncBusyError(
                f"Another pack sync is already running on this machine (process {holder}).",
                "Wait for it to finish, then sync again if you still need to.",
                holder,
            )
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            unlock(fd)
    finally:
        os.close(fd)
