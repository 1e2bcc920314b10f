"""Fixtures for pack sync: real packs, a real TUF repository, real HTTP on 127.0.0.1 and file://."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synckit import Server, Workstation, build_pack_version

from desktop.core.sync.repo import Repository


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """No keyring, as on a headless machine, unless a test sets one (whatever this PC has)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def packs(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> dict[str, Path]:
    """Pack "northwind" built twice: v1 (code word MARIGOLD), v2 (TANGERINE, plus an article)."""
    tmp = tmp_path_factory.mktemp("sync-packs")
    return {
        "1": build_pack_version(tmp, embedder, "1"),
        "2": build_pack_version(tmp, embedder, "2"),
    }


@pytest.fixture
def repo(tmp_path: Path, packs: dict[str, Path]) -> Repository:
    """A fresh repository (2-of-3 root, new keys) with pack v1 published."""
    repository = Repository.create(tmp_path / "repo", tmp_path / "keys")
    repository.publish(packs["1"])
    return repository


@pytest.fixture
def server(repo: Repository) -> Iterator[Server]:
    httpd = Server(repo.folder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def workstation(
    repo: Repository, deskmate_home: Path, tmp_path: Path, embedder: Any
) -> Workstation:
    """A workstation whose IT placed the repository's root.json in the policy folder."""
    policy_file = Path(os.environ["DESKMATE_POLICY_DIR"], "managed", "policy.json")
    shutil.copyfile(repo.metadata_dir / "1.root.json", policy_file.parent.parent / "root.json")
    station = Workstation(deskmate_home, policy_file, embedder)
    station.set_policy(url=repo.folder.as_uri())
    return station
