"""Review issue 11, items 7 and 11: a sync cannot hang (deadline, no FIFOs), and the pack source
address is read one way only (no host confusion, no credentials sent to another host)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from synckit import Server, Workstation

from desktop.core.errors import SyncError
from desktop.core.settings import lookup
from desktop.core.sync import client
from desktop.core.sync.client import SyncReport, check_source
from desktop.core.sync.credentials import source_key, store
from desktop.core.sync.repo import Repository
from desktop.core.sync.state import sync_status

# --- helpers -------------------------------------------------------------------------------------


def sync_in_thread(workstation: Workstation, limit: float) -> tuple[SyncReport, float]:
    """Run a sync on a thread; fail (instead of hanging the suite) if it outlives *limit*."""
    result: list[SyncReport | BaseException] = []

    def run() -> None:
        try:
            result.append(workstation.sync())
        except BaseException as exc:  # handed to the test thread
            result.append(exc)

    started = time.perf_counter()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.perf_counter() - started
    assert not thread.is_alive(), f"the sync still runs after {limit} s: it hangs"
    (outcome,) = result
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome, elapsed


def archive_of(repo: Repository, version: str) -> Path:
    (found,) = (repo.targets_dir / "northwind").glob(f"*.northwind-{version}.tar.gz")
    return found


@pytest.fixture
def stop_drip() -> Iterator[threading.Event]:
    """Set at the end of a test, so a dripping handler always ends."""
    stop = threading.Event()
    yield stop
    stop.set()


def drip(stop: threading.Event, suffix: str, data: bytes) -> Callable[[Any], bool]:
    """A server hook that sends *data* for paths ending in *suffix* one byte every 0.2 s."""

    def hook(handler: Any) -> bool:
        if not handler.path.endswith(suffix):
            return False
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            for byte in data:
                if stop.wait(0.2):  # the drip rate, not synchronisation
                    break
                handler.wfile.write(bytes([byte]))
        except OSError:  # the client hung up: what the deadline should make it do
            pass
        handler.close_connection = True
        return True

    return hook


# --- item 7: a whole-sync deadline ---------------------------------------------------------------


def test_deadline_setting_is_declared_and_lockable() -> None:
    setting = lookup("sync.deadline_s")
    assert setting.type is int and setting.lockable
    assert 600 <= int(setting.default) <= 1800  # 10 to 30 minutes: room for a 500 MB pack
    assert setting.minimum is not None and setting.minimum >= 1


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["timestamp.json", ".northwind-2.tar.gz"])
def test_slow_drip_source_stops_at_the_deadline_and_frees_the_lock(
    suffix: str,
    repo: Repository,
    server: Server,
    workstation: Workstation,
    packs: dict[str, Path],
    stop_drip: threading.Event,
) -> None:
    workstation.set_policy(url=server.url)
    assert workstation.sync().ok
    repo.publish(packs["2"])
    data = (
        (repo.metadata_dir / "timestamp.json").read_bytes()
        if suffix == "timestamp.json"
        else archive_of(repo, "2").read_bytes()
    )
    workstation.set_policy(deadline_s=3)  # sync.timeout_s stays 30: each byte comes in time
    server.hook = drip(stop_drip, suffix, data)

    report, elapsed = sync_in_thread(workstation, limit=20)
    assert not report.ok
    assert "sync.deadline_s" in report.error and "unchanged" in report.error, report.error
    assert elapsed < 3 + 8, elapsed  # stopped at the deadline, not when the drip ends
    assert workstation.served() == {"northwind": "1"}
    status = sync_status(workstation.paths, workstation.settings())
    assert "sync.deadline_s" in status.last_error

    server.hook = None  # the source recovers: the next sync runs (the lock was released)
    report = workstation.sync()
    assert report.ok, report.error
    assert workstation.served() == {"northwind": "2"}


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")


def _unblock(fifo: Path) -> None:
    """Let a reader stuck in open() on *fifo* go on (old code), by opening and closing its end."""
    with contextlib.suppress(OSError):  # no reader waiting: nothing to unblock
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.slow
@needs_fifo
@pytest.mark.parametrize("which", ["metadata", "archive"])
def test_fifo_in_a_file_source_fails_at_once(
    which: str, repo: Repository, workstation: Workstation, packs: dict[str, Path]
) -> None:
    assert workstation.sync().ok  # file:// source (the fixture's policy)
    repo.publish(packs["2"])
    real = repo.metadata_dir / "timestamp.json" if which == "metadata" else archive_of(repo, "2")
    kept = real.read_bytes()
    real.unlink()
    os.mkfifo(real)
    try:
        report, elapsed = sync_in_thread(workstation, limit=10)
    finally:
        _unblock(real)
    assert elapsed < 5
    reasons = report.error + " ".join(t.reason for t in report.targets)
    assert not report.ok
    assert "not a regular file" in reasons and str(real) in reasons, reasons
    assert workstation.served() == {"northwind": "1"}

    real.unlink()
    real.write_bytes(kept)
    report = workstation.sync()  # not refused as "already running"
    assert report.ok, report.error
    assert workstation.served() == {"northwind": "2"}


@pytest.mark.slow
@needs_fifo
def test_fifo_swapped_in_after_the_check_does_not_block_open(
    repo: Repository, workstation: Workstation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the path is a regular file when checked, a FIFO when opened."""
    assert workstation.sync().ok
    fifo = repo.metadata_dir / "timestamp.json"
    regular = repo.metadata_dir / "1.root.json"
    fifo.unlink()
    os.mkfifo(fifo)
    real_stat = os.stat

    def stale_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path) == str(fifo):
            return real_stat(regular)  # what a check made just before the swap saw
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(client.os, "stat", stale_stat)
    try:
        report, _ = sync_in_thread(workstation, limit=10)
    finally:
        _unblock(fifo)
    assert "not a regular file" in report.error, report.error


# --- item 11: one reading of the source address --------------------------------------------------

CONFUSING = [
    "http://127.0.0.2:18767\\@127.0.0.1:18767",
    "http://evil\\@127.0.0.1/",
    "http://127.0.0.1@evil/",
    "http://user:pw@127.0.0.1/",
    "http://user@127.0.0.1:8080/repo",
    "https://good.example\\@evil.example/",
    "http://%31%32%37.0.0.1/",
    "http://127.0.0.1%2F@evil/",
    "http://127.0.0.1%40evil/",
    "http://127.0.0.1\t.evil/",
    "http://127.0.0.1#@evil/",
    "http://127.0.0.1?@evil/",
    "http://127.0.0.1:80\\@evil/",
    "http://localhost.evil.com/",
    "http://127.0.0.1:0x50/",
]


@pytest.mark.parametrize("url", CONFUSING)
def test_confusing_source_addresses_are_refused(url: str) -> None:
    with pytest.raises(SyncError, match="not allowed") as caught:
        check_source(url)
    assert caught.value.fix
    with pytest.raises(SyncError):  # and no keyring entry is ever filed under one reading
        source_key(url)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://[::1]:8080/repo/", "http://[::1]:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://LOCALHOST/repo", "http://localhost"),
        ("https://Packs.Example.com/deskmate", "https://packs.example.com"),
        ("https://packs.example.com:8443/a/b", "https://packs.example.com:8443"),
    ],
)
def test_plain_source_addresses_still_work(url: str, key: str) -> None:
    assert check_source(url) == url.rstrip("/")
    assert source_key(url) == key


def test_fetcher_connects_only_to_the_checked_origin() -> None:
    from desktop.core.sync.source import parse_source

    source = parse_source("http://127.0.0.1:18767/repo")
    assert source.same_origin("http://127.0.0.1:18767/repo/metadata/timestamp.json")
    assert not source.same_origin("http://127.0.0.2:18767/repo/metadata/timestamp.json")
    assert not source.same_origin("http://127.0.0.2:18767\\@127.0.0.1:18767/metadata/")
    assert not source.same_origin("http://127.0.0.1:18768/repo/metadata/timestamp.json")


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (in memory)."""

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


KeyringBackend._classes.discard(MemoryKeyring)  # type: ignore[attr-defined]


@pytest.fixture
def other_host() -> Iterator[tuple[int, list[bytes]]]:
    """A real listener on 127.0.0.2 that records every request it is sent."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", 0))
    except OSError as exc:
        listener.close()
        pytest.skip(f"cannot listen on 127.0.0.2 here ({exc})")
    listener.listen(8)
    listener.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    seen.append(conn.recv(65536))
                except OSError:
                    seen.append(b"(connected)")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    stop.set()
    thread.join(5)
    listener.close()


@pytest.mark.slow
def test_backslash_source_never_reaches_the_other_host_or_leaks_credentials(
    server: Server, workstation: Workstation, other_host: tuple[int, list[bytes]]
) -> None:
    evil_port, seen = other_host
    good_port = server.server_address[1]
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        store(server.url, token="s3cret")  # credentials for the real source, 127.0.0.1
        url = f"http://127.0.0.2:{evil_port}\\@127.0.0.1:{good_port}"
        workstation.set_policy(url=url, timeout_s=1)
        try:
            outcome: object = workstation.sync()
        except SyncError as exc:
            outcome = exc
        assert seen == [], seen  # not a single connection to 127.0.0.2 (no token sent there)
        assert isinstance(outcome, SyncError) and "not allowed" in str(outcome), outcome
        with pytest.raises(SyncError, match="not allowed"):
            store(url, token="other")  # nor filed under 127.0.0.1 by `deskmate sync login`
    finally:
        keyring.set_keyring(previous)
    assert server.requests == []
