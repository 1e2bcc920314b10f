"""Sync and rollback write the audit trail (issue 17): what was installed, refused, rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest
from synckit import Server, Workstation

from desktop.core import audit
from desktop.core.audit_events import recorder_for
from desktop.core.sync.client import SyncReport, TargetResult
from desktop.core.sync.repo import Repository
from desktop.core.sync.state import rollback_pack


def _events(data: Path) -> list[dict[str, object]]:
    return [record for _, _, record in audit.read_records(audit.audit_dir(data))]


@pytest.mark.slow
def test_sync_install_and_rollback_are_audited(
    repo: Repository, server: Server, workstation: Workstation, packs: dict[str, Path]
) -> None:
    workstation.set_policy(url=server.url)
    assert workstation.sync().ok
    repo.publish(packs["2"])
    assert workstation.sync().ok
    rollback_pack(workstation.paths, "northwind")
    records = _events(workstation.paths.data)
    assert [(r["event"], r["pack"], r["version"]) for r in records] == [
        ("sync_installed", "northwind", "1"),
        ("sync_installed", "northwind", "2"),
        ("sync_rolled_back", "northwind", records[2]["version"]),
    ]
    assert str(records[2]["version"]).startswith("1-") and str(records[2]["from"]).startswith("2-")
    assert audit.verify(audit.audit_dir(workstation.paths.data)).ok


def test_refused_packs_and_failed_syncs_are_audited(tmp_path: Path) -> None:
    report = SyncReport(source="https://packs.example", root="root.json")
    report.targets = [
        TargetResult("a/a-1.tar.gz", "a", "1", "installed"),
        TargetResult("b/b-3.tar.gz", "b", "3", "refused", "signature does not verify"),
        TargetResult("c/c-1.tar.gz", "c", "1", "current", "already installed"),
    ]
    recorder_for(tmp_path).sync_report(report)
    failed = SyncReport(source="https://packs.example", root="root.json", error="expired")
    recorder_for(tmp_path).sync_report(failed)
    records = _events(tmp_path)
    assert [(r["event"], r["pack"]) for r in records] == [
        ("sync_installed", "a"),
        ("sync_refused", "b"),
        ("sync_refused", ""),
    ]
    assert records[1]["reason"] == "signature does not verify" and records[2]["reason"] == "expired"
