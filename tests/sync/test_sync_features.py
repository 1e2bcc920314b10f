"""Retiring, credentials, the trusted root, status, the lock and the admin's keys."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from synckit import LOYALTY_QUESTION, V1_WORD, Server, Workstation

from desktop.core.context import AppContext
from desktop.core.errors import KnowledgeError, SyncError
from desktop.core.sync.credentials import CredentialError, store
from desktop.core.sync.lock import SyncBusyError, sync_lock
from desktop.core.sync.repo import PASSPHRASE_ENV, KeyStore, Repository
from desktop.core.sync.retire import retire_document
from desktop.core.sync.state import now_utc, record, sync_status


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (in memory), registered through keyring's own API."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


class PlaintextKeyring(MemoryKeyring):
    """Ranks itself like keyrings.alt's PlaintextKeyring: usable, but not recommended."""

    priority = 0.5  # type: ignore[assignment]


# Subclasses register themselves for keyring's automatic choice; these two are only for the tests
# that set them explicitly.
KeyringBackend._classes.difference_update({MemoryKeyring, PlaintextKeyring})  # type: ignore[attr-defined]


@pytest.fixture
def keyring_backend() -> Any:
    previous = keyring.get_keyring()
    yield lambda backend: keyring.set_keyring(backend)
    keyring.set_keyring(previous)


# --- retiring ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_retired_pack_is_uninstalled_at_next_sync(
    repo: Repository, server: Server, workstation: Workstation
) -> None:
    assert workstation.sync().ok
    context = workstation.context()
    assert V1_WORD in workstation.answer(context)

    repo.retire("northwind")
    report = workstation.sync()

    assert report.ok, report.error
    assert [(t.pack, t.status) for t in report.targets] == [("northwind", "retired")]
    assert context.pack_dirs() == []
    with pytest.raises(KnowledgeError, match="No knowledge pack"):
        context.packs()  # the running context stops searching it at once
    assert not (workstation.paths.data / "packs" / "northwind").exists()


@pytest.mark.slow
def test_retired_document_is_no_longer_returned(
    repo: Repository, server: Server, workstation: Workstation
) -> None:
    assert workstation.sync().ok
    context = workstation.context()
    assert V1_WORD in workstation.answer(context)

    published = retire_document(repo, "northwind", "billing/loyalty-voucher.md")
    assert published.info.version == "2"
    report = workstation.sync()

    assert report.ok, report.error
    assert workstation.served() == {"northwind": "2"}
    from desktop.core.assist import Assistant

    hits = Assistant(context).search(LOYALTY_QUESTION)
    assert all(h.source != "billing/loyalty-voucher.md" for h in hits)
    assert all(V1_WORD not in h.text for h in hits)
    other = Assistant(context).search("How do I dispute a charge on my bill?")
    assert other[0].source == "billing/disputing-a-charge.md"  # the rest of the pack still answers
    (pack,) = context.packs()
    assert "billing/loyalty-voucher.md" not in dict(pack.documents_meta())


# --- trust and sources ---------------------------------------------------------------------------


@pytest.mark.slow
def test_sync_refuses_without_a_trusted_root(server: Server, workstation: Workstation) -> None:
    (workstation.policy_file.parent.parent / "root.json").unlink()
    workstation.set_policy(url=server.url)

    with pytest.raises(SyncError, match="no trusted root") as caught:
        workstation.sync()
    assert "root.json" in caught.value.fix
    assert server.requests == []  # nothing fetched: no trust on first use


@pytest.mark.slow
def test_sync_refuses_plain_http_to_another_host(workstation: Workstation) -> None:
    workstation.set_policy(url="http://packs.example.com/repo")
    with pytest.raises(SyncError, match="not allowed"):
        workstation.sync()


@pytest.mark.slow
def test_sync_uses_source_credentials_from_the_keyring(
    server: Server, workstation: Workstation, keyring_backend: Any
) -> None:
    workstation.set_policy(url=server.url)

    def require_token(handler: Any) -> bool:
        if handler.headers.get("Authorization") == "Bearer s3cret":
            return False
        handler.send_error(401)
        return True

    server.hook = require_token
    keyring_backend(MemoryKeyring())
    refused = workstation.sync()
    assert not refused.ok
    assert "deskmate sync login" in refused.error

    store(server.url, token="s3cret")
    report = workstation.sync()
    assert report.ok, report.error
    assert workstation.served() == {"northwind": "1"}


@pytest.mark.slow
def test_plaintext_keyring_is_refused(
    server: Server, workstation: Workstation, keyring_backend: Any
) -> None:
    keyring_backend(PlaintextKeyring())
    with pytest.raises(CredentialError, match="without protection"):
        store(server.url, token="s3cret")
    workstation.set_policy(url=server.url)
    report = workstation.sync()
    assert not report.ok
    assert "without protection" in report.error
    assert server.requests == []


def test_doctor_judges_the_keyring_as_sync_does(keyring_backend: Any) -> None:
    """A backend that ranks itself below 1 is refused by sync; doctor must not call it fine."""
    from desktop.core.doctor import check_keyring

    keyring_backend(PlaintextKeyring())
    check = check_keyring(None)  # type: ignore[arg-type]  # the keyring check reads no context
    assert check.status == "error" and "without protection" in check.message
    assert "keyrings.alt" in check.fix
    keyring_backend(MemoryKeyring())
    check = check_keyring(None)  # type: ignore[arg-type]
    assert check.status == "ok" and "MemoryKeyring" in check.message


# --- status and lock -----------------------------------------------------------------------------


@pytest.mark.slow
def test_sync_status_warns_after_days_without_refresh(
    server: Server, workstation: Workstation
) -> None:
    workstation.set_policy(url=server.url, warn_after_days=3)
    status = sync_status(workstation.paths, workstation.settings())
    assert status.due and "not been synced yet" in status.warning

    assert workstation.sync().ok
    status = sync_status(workstation.paths, workstation.settings())
    assert status.warning == "" and not status.due
    assert [(p.id, p.version) for p in status.packs] == [("northwind", "1")]

    record(workstation.paths, ok=False, error="the source is down")
    later = now_utc() + timedelta(days=4)
    status = sync_status(workstation.paths, workstation.settings(), now=later)
    assert status.last_error == "the source is down"
    assert "more than 3 days" in status.warning
    assert workstation.served() == {"northwind": "1"}  # failing syncs leave the pack in service


def test_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    lock = tmp_path / "sync.lock"
    code = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from desktop.core.sync.lock import sync_lock
        with sync_lock(Path({str(lock)!r})):
            print("locked", flush=True)
            sys.stdin.readline()
            os._exit(9)  # dies holding the lock
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(SyncBusyError, match=f"process {holder.pid}"), sync_lock(lock):
            pass
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        assert holder.wait(30) == 9
    with sync_lock(lock):  # no stale lock after the crash
        pass


# --- the store beside plain packs ----------------------------------------------------------------


@pytest.mark.slow
def test_synced_pack_and_plain_demo_pack_side_by_side(
    workstation: Workstation, demo_pack: Path
) -> None:
    assert workstation.sync().ok
    shutil.copytree(demo_pack, workstation.paths.data / "packs" / "demo")
    workstation.policy["knowledge.demo_enabled"] = True  # managed: served only if IT allows it
    workstation.set_policy()
    context = AppContext(workstation.paths, workstation.settings(), embedder=workstation.embedder)

    assert sorted(p.id for p in context.packs()) == ["demo", "northwind"]
    assert context.pack_dirs()[1].parent.name == "versions"


# --- the admin's keys ----------------------------------------------------------------------------


def test_repository_keys_are_private_and_encrypted_with_a_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    repository = Repository.create(tmp_path / "repo", tmp_path / "keys")
    files = sorted(repository.keys.folder.glob("*.pem"))
    assert [f.name.split("-")[0] for f in files] == ["root"] * 3 + [
        "snapshot",
        "targets",
        "timestamp",
    ]
    for key in files:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert b"ENCRYPTED" in key.read_bytes()
    root = json.loads((repository.metadata_dir / "root.json").read_text())["signed"]
    assert root["roles"]["root"]["threshold"] == 2
    assert len(root["roles"]["root"]["keyids"]) == 3

    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(SyncError, match=PASSPHRASE_ENV):
        KeyStore(tmp_path / "keys").signers()


@pytest.mark.slow
def test_resign_refreshes_the_short_lived_roles(repo: Repository) -> None:
    before = repo.status()["roles"]
    repo.resign()
    after = repo.status()["roles"]
    for role in ("targets", "snapshot", "timestamp"):
        assert after[role]["version"] == before[role]["version"] + 1
    assert after["root"] == before["root"]
    expires = {role: after[role]["expires"] for role in after}
    assert expires["timestamp"] < expires["snapshot"] < expires["targets"] < expires["root"]


@pytest.mark.slow
def test_root_rotation_needs_the_old_threshold(repo: Repository) -> None:
    for key in list(repo.keys.folder.glob("root-*.pem"))[:2]:
        key.unlink()  # only one of the three root keys is at hand
    with pytest.raises(SyncError, match="needs 2 of its keys"):
        repo.rotate_key("root")
    assert repo.root().signed.version == 1
