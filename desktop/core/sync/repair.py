"""``deskmate pack repair ID``: reinstall a synced pack from the pack source, or rebuild the demo.

A synced pack is repaired by asking the next sync to extract its current version again (a
``reinstall`` file beside its pointer, see :mod:`.install`) and running that sync at once. If the
sync cannot finish (offline, say), the damaged copy stays where it was and the request stays too,
so the next scheduled sync completes the repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.core.errors import SyncError
from desktop.core.sync import check_name
from desktop.core.sync.install import foreign_folder, request_reinstall
from desktop.core.sync.state import packs_root

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.core.sync.client import Progress


@dataclass(frozen=True)
class Repair:
    """What ``deskmate pack repair`` did: ``rebuilt`` (demo) or ``reinstalled`` (synced)."""

    pack: str
    action: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def repair_pack(context: AppContext, pack_id: str, progress: Progress | None = None) -> Repair:
    """Rebuild the demo pack, or reinstall the synced pack *pack_id*; SyncError if impossible."""
    from desktop.core.context import DEMO_PACK_ID

    if pack_id == DEMO_PACK_ID:
        report = context.build_demo_pack(force=True)
        return Repair(pack_id, "rebuilt", f"{report.documents} documents, {report.chunks} passages")
    pack_root = packs_root(context.paths) / check_name("id", pack_id)
    if not pack_root.exists():
        raise SyncError(
            f"No pack {pack_id!r} is installed.",
            "Run `deskmate sync status` to list the synced packs (the demo pack is `demo`).",
        )
    if foreign_folder(pack_root):
        raise SyncError(
            f"The pack {pack_id!r} at {pack_root} was not installed by sync, so there is no copy "
            "to reinstall it from.",
            "Build it again with `deskmate pack build SRC --out FOLDER`.",
        )
    return _reinstall(context, pack_id, progress)


def _reinstall(context: AppContext, pack_id: str, progress: Progress | None) -> Repair:
    from desktop.core.sync.client import run_sync

    if not str(context.settings.get("sync.url")):
        raise SyncError(
            f"Pack {pack_id!r} was installed by sync, but pack sync is off (no sync.url).",
            "Set sync.url (usually in machine policy), then run `deskmate pack repair` again.",
        )
    request_reinstall(packs_root(context.paths) / pack_id)
    report = run_sync(context.paths, context.settings, context.embedder, progress)
    context.reload_packs()
    target = next((t for t in report.targets if t.pack == pack_id), None)
    if target is not None and target.status == "retired":
        raise SyncError(
            f"Pack {pack_id!r} is no longer published, so sync removed it from this machine.",
            "Ask your knowledge admin if you still need it.",
        )
    if target is None or target.status != "installed":
        why = target.reason if target and target.reason else report.error
        raise SyncError(
            f"Pack {pack_id!r} was not reinstalled: {why or 'the pack source does not publish it'}."
            " The copy on this machine is unchanged.",
            "Fix the cause above; the next sync tries the repair again.",
        )
    return Repair(pack_id, "reinstalled", f"version {target.version} from {report.source}")
