"""The end-to-end flow: publish v1, sync, answer from it; publish v2, sync, answer; roll back."""

from __future__ import annotations

from pathlib import Path

import pytest
from synckit import V1_WORD, V2_WORD, Server, Workstation

from desktop.core.sync.install import rollback
from desktop.core.sync.repo import Repository
from desktop.core.sync.state import packs_root


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["http", "file"])
def test_publish_sync_answer_update_and_rollback(
    transport: str,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
) -> None:
    workstation.set_policy(url=server.url if transport == "http" else repo.folder.as_uri())

    report = workstation.sync()
    assert report.ok, report.error
    assert [(t.pack, t.version, t.status) for t in report.targets] == [
        ("northwind", "1", "installed")
    ]
    context = workstation.context()  # stays open, like a running window
    assert V1_WORD in workstation.answer(context)

    repo.publish(packs["2"])
    report = workstation.sync()
    assert report.ok, report.error
    assert [(t.version, t.status) for t in report.targets] == [("2", "installed")]
    answer = workstation.answer(context)  # the same context picks up v2 without a restart
    assert V2_WORD in answer
    assert V1_WORD not in answer
    assert {p.version for p in context.packs()} == {"2"}
    if transport == "http":
        assert any(r.endswith(".northwind-2.tar.gz") for r in server.requests)
    else:
        assert server.requests == []

    rollback(packs_root(workstation.paths), "northwind")
    assert V1_WORD in workstation.answer(context)
    report = workstation.sync()  # the rolled-back version is held, not reinstalled
    assert [(t.version, t.status) for t in report.targets] == [("2", "held")]
    assert workstation.served() == {"northwind": "1"}
