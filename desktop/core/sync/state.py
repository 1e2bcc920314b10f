"""The sync state file, the status the window shows (last sync, last error, packs, warning),
and the lock-taking rollback.

``<data>/sync/state.json`` records the last attempt, the last success and the last error; it is
rewritten atomically after every sync. A broken or missing file reads as "never synced".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from desktop.core.fileio import atomic_write_text
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.core.sync.install import InstalledPack, Pointer, installed_packs, rollback
from desktop.core.sync.lock import SyncBusyError, sync_lock


def sync_dir(paths: Paths) -> Path:
    return paths.data / "sync"


def packs_root(paths: Paths) -> Path:
    return paths.data / "packs"


def lock_file(paths: Paths) -> Path:
    """The machine's sync lock: held by every sync, and by a rollback."""
    return sync_dir(paths) / "sync.lock"


def rollback_pack(paths: Paths, pack_id: str) -> Pointer:
    """:func:`~.install.rollback` under the sync lock, so that it cannot interleave with a sync
    (which could prune the version the rollback points to). Refuses at once while one runs."""
    try:
        with sync_lock(lock_file(paths)):
            pointer = rollback(packs_root(paths), pack_id)
    except SyncBusyError as exc:
        raise SyncBusyError(
            f"Pack {pack_id!r} was not rolled back: a pack sync is running on this machine "
            f"(process {exc.holder}).",
            f"Wait for the sync to finish, then run `deskmate pack rollback {pack_id}` again.",
        ) from exc
    from desktop.core.audit_events import recorder_for

    recorder_for(paths.data).rolled_back(pack_id, pointer.current, pointer.held)
    return pointer


def _state_file(paths: Paths) -> Path:
    return sync_dir(paths) / "state.json"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def read_state(paths: Paths) -> dict[str, Any]:
    try:
        data = json.loads(_state_file(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(paths: Paths, *, ok: bool, error: str, when: datetime | None = None) -> None:
    """Remember one sync attempt: a success clears the last error, a failure keeps the success."""
    state = read_state(paths)
    moment = _iso(when or now_utc())
    state["last_attempt"] = moment
    if ok:
        state["last_success"] = moment
        state["last_error"] = ""
    else:
        state["last_error"] = error
    atomic_write_text(_state_file(paths), json.dumps(state, indent=1) + "\n")


@dataclass
class SyncStatus:
    """What the status bar shows about pack sync."""

    enabled: bool
    source: str
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str
    due: bool
    warning: str
    packs: list[InstalledPack] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "source": self.source,
            "last_success": _iso(self.last_success),
            "last_attempt": _iso(self.last_attempt),
            "last_error": self.last_error,
            "due": self.due,
            "warning": self.warning,
            "packs": [p.to_json() for p in self.packs],
        }


def sync_status(paths: Paths, settings: Settings, now: datetime | None = None) -> SyncStatus:
    """Last successful sync, last error, installed packs, whether a sync is due, and a warning
    when packs have not been refreshed for more than ``sync.warn_after_days`` days."""
    now = now or now_utc()
    state = read_state(paths)
    source = str(settings.get("sync.url"))
    success, attempt = _parse(state.get("last_success")), _parse(state.get("last_attempt"))
    interval = int(settings.get("sync.interval_minutes"))
    due = (
        bool(source)
        and interval > 0
        and (attempt is None or now - attempt >= timedelta(minutes=interval))
    )
    warning = ""
    days = int(settings.get("sync.warn_after_days"))
    if source and success is None:
        warning = "Knowledge packs have not been synced yet. Run Sync now or ask IT."
    elif source and success is not None and now - success > timedelta(days=days):
        warning = (
            f"Knowledge packs have not been refreshed since {success:%Y-%m-%d} (more than "
            f"{days} days): answers may be out of date. Check the network or ask IT."
        )
    return SyncStatus(
        enabled=bool(source),
        source=source,
        last_success=success,
        last_attempt=attempt,
        last_error=str(state.get("last_error", "")),
        due=due,
        warning=warning,
        packs=installed_packs(packs_root(paths)),
    )
