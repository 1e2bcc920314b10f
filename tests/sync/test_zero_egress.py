"""Zero egress, proven: the main paths connect to nothing but the pack source that policy names.

Two guards, because a connection can come from Python or from native code:

* in this process, an audit hook (``sys.addaudithook``) sees every ``socket.connect``,
  ``socket.sendto`` and name lookup that Python code makes (Hugging Face hub, requests, urllib,
  tuf) while a pack is built, searched, asked with the real model, wrapped up, checked by doctor,
  synced over HTTP from 127.0.0.1, and while the real window searches and drafts;
* the ``deskmate`` command in a child process, under ``strace -f``, where the system calls of
  LanceDB's Rust code, llama.cpp and Qt are visible too.

Neither relies on environment variables set by the tests: the child runs with the Hugging Face
offline flags explicitly *cleared* (and set to "0"), so the product must make itself offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from synckit import LOYALTY_QUESTION, V1_WORD, Server, Workstation

ROOT = Path(__file__).resolve().parents[2]
NETWORK_EVENTS = {
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
}


class _Guard:
    """Records (and refuses) every network use outside the allowed (host, port) pairs."""

    def __init__(self) -> None:
        self.active = False
        self.allowed: set[tuple[str, int]] = set()
        self.seen: list[str] = []
        self.refused: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in NETWORK_EVENTS:
            return
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            address = args[1] if len(args) > 1 else None
            if not isinstance(address, tuple):  # AF_UNIX path (D-Bus, X11): local IPC
                return
            where = (str(address[0]), int(address[1]))
        elif event == "socket.getaddrinfo":
            where = (str(args[0]), int(args[1] or 0) if str(args[1] or "0").isdigit() else 0)
        else:
            where = (str(args[0]), 0)
        self.seen.append(f"{event} {where}")
        if where not in self.allowed and (where[0], 0) not in self.allowed:
            self.refused.append(f"{event} {where}")
            raise ConnectionRefusedError(f"zero-egress guard: {event} to {where} is not allowed")


_GUARD = _Guard()
sys.addaudithook(_GUARD)  # audit hooks cannot be removed; the guard is inactive outside `guarded`


@contextmanager
def guarded(*allowed: tuple[str, int]) -> Iterator[_Guard]:
    _GUARD.allowed = set(allowed)
    _GUARD.seen, _GUARD.refused = [], []
    _GUARD.active = True
    try:
        yield _GUARD
    finally:
        _GUARD.active = False


def test_the_guard_catches_a_connection() -> None:
    """The guard itself works: a connection elsewhere is refused and recorded."""
    import socket
    import urllib.request

    with guarded(("127.0.0.1", 9)) as guard:
        with pytest.raises(OSError, match="zero-egress guard"):
            urllib.request.urlopen("http://192.0.2.1:8080/", timeout=1)  # TEST-NET-1
        with pytest.raises(OSError, match="zero-egress guard"):
            socket.create_connection(("127.0.0.1", 10), timeout=1)
    assert guard.refused == [
        "socket.getaddrinfo ('192.0.2.1', 8080)",
        "socket.getaddrinfo ('127.0.0.1', 10)",
    ]


@pytest.fixture
def http_station(server: Server, workstation: Workstation) -> tuple[Server, Workstation]:
    workstation.set_policy(url=server.url)
    return server, workstation


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 80


@pytest.mark.slow
def test_main_paths_in_process_make_no_other_connection(
    http_station: tuple[Server, Workstation], tmp_path: Path
) -> None:
    from desktop.core import doctor
    from desktop.core.assist import Assistant, Done
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import build_pack

    server, station = http_station
    with guarded(_origin(server.url)) as guard:
        embedder = Embedder()  # loaded fresh under the guard: the model load is watched too
        station.embedder = embedder
        report = station.sync()
        assert report.ok, report.error
        build_pack(ROOT / "resources" / "demo", tmp_path / "built", embedder, pack_id="demo")
        context = station.context()
        assert V1_WORD in station.answer(context)
        events = list(Assistant(context).ask(LOYALTY_QUESTION))
        assert isinstance(events[-1], Done) and events[-1].answer.status == "answered"
        wrapup = list(Assistant(context).ask("Customer: my voucher is missing.", task="wrapup"))
        assert isinstance(wrapup[-1], Done)
        checks = {c.name: c for c in doctor.run_checks(context)}
        assert checks["model"].status == "ok"
    assert guard.refused == []
    # The sync really went over the network, and only to the pack source.
    assert guard.seen and all(str(_origin(server.url)) in s for s in guard.seen)


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's own notice
def test_window_search_and_draft_make_no_connection(qtbot: Any, embedder: Any) -> None:
    from PySide6.QtCore import Qt

    from desktop.core.context import AppContext
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.gui.main_window import MainWindow

    with guarded() as guard:
        paths = Paths.from_env()
        window = MainWindow(AppContext(paths, Settings.load(paths), embedder=embedder))
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.ready, timeout=300_000):
            window.start()
        with qtbot.waitSignal(window.results_shown, timeout=180_000) as shown:
            qtbot.keyClicks(window.search.box, "How do I return a damaged item?")
        assert shown.args[0]
        with qtbot.waitSignal(window.draft_finished, timeout=300_000) as finished:
            qtbot.keyClick(window.search.box, Qt.Key.Key_Return)
        assert finished.args[0].draft
        window.close()
        window.ops.wait(60_000)
    assert guard.seen == [] and guard.refused == []


# --- the command, watched from outside ---------------------------------------------------------

STRACE = ("strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg")
_CONNECT = re.compile(r"\b(connect|sendto|sendmsg)\(\d+, \{sa_family=(AF_INET6?),\s*(.*?)\}")


def _strace_works() -> bool:
    if not shutil.which("strace"):
        return False
    probe = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect", "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


def _unguarded_env() -> dict[str, str]:
    """This environment with the libraries' own offline switches cleared, and set to "off"."""
    switches = ("HF_", "TRANSFORMERS_", "ORT_DISABLE_TELEMETRY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(switches)}
    env.update(HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", ORT_DISABLE_TELEMETRY="0")
    env.update(PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    return env


def _inet_calls(trace: Path) -> list[str]:
    calls = []
    for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _CONNECT.search(line)
        if match:
            calls.append(f"{match.group(1)} {match.group(2)} {match.group(3)}")
    return calls


@pytest.mark.slow
@pytest.mark.skipif(not _strace_works(), reason="strace is not installed or cannot trace here")
def test_the_command_connects_only_to_the_pack_source(
    http_station: tuple[Server, Workstation], tmp_path: Path
) -> None:
    server, _ = http_station
    host, port = _origin(server.url)
    env = _unguarded_env()
    built = tmp_path / "built"
    commands = [
        ("pack", "build", str(ROOT / "resources" / "demo"), "--out", str(built), "--no-progress"),
        ("sync", "--json"),
        ("search", LOYALTY_QUESTION, "--json"),
        ("ask", LOYALTY_QUESTION, "--json"),
        ("doctor", "--json"),
    ]
    for number, args in enumerate(commands):
        trace = tmp_path / f"trace-{number}.txt"
        result = subprocess.run(
            [*STRACE, "-o", str(trace), sys.executable, "-m", "desktop", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert args[0] == "doctor" or result.returncode == 0, (args, result.stderr[-2000:])
        calls = _inet_calls(trace)
        allowed = [c for c in calls if f"htons({port})" in c and host in c]
        assert sorted(set(calls) - set(allowed)) == [], args
        if args[0] == "sync":
            assert allowed, "the sync went to the pack source over the network"
            assert json.loads(result.stdout)["ok"] is True
        else:
            assert calls == [], args


# onnxruntime 1.29+ sends telemetry from Linux as well: its first DNS lookup comes about 9 s
# after the model loads (measured), so the embedder is kept in use for longer than that.
EMBEDDER_IN_USE = """
import time
from desktop.core.knowledge.embedder import Embedder
embedder = Embedder()
for _ in range(16):
    embedder.embed(["How do I return a damaged item?"])
    time.sleep(1)
"""


@pytest.mark.slow
@pytest.mark.skipif(not _strace_works(), reason="strace is not installed or cannot trace here")
def test_the_embedder_runtime_sends_no_telemetry(tmp_path: Path) -> None:
    assert _inet_calls_of(EMBEDDER_IN_USE, tmp_path) == []


def _inet_calls_of(code: str, tmp_path: Path) -> list[str]:
    """The network calls of *code* run under strace in a fresh interpreter, unguarded."""
    trace = tmp_path / "trace.txt"
    result = subprocess.run(
        [*STRACE, "-o", str(trace), sys.executable, "-c", code],
        cwd=tmp_path,
        env=_unguarded_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return _inet_calls(trace)


# Live listening runs Whisper on CTranslate2 and Silero VAD on onnxruntime: the same telemetry
# rule applies, so the speech check and the model stay in use for longer than those 9 s.
SPEECH_IN_USE = """
import time
import numpy as np
from desktop.core.speech.whisper import Speech
speech = Speech.default()
t = np.arange(16000 * 2) / 16000
voice = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
began = time.monotonic()
speech.model()
while time.monotonic() - began < 16:
    speech.has_speech(voice)
    segments, _ = speech.model().transcribe(voice, language="en", beam_size=1)
    list(segments)
    time.sleep(1)
"""


@pytest.mark.slow
@pytest.mark.skipif(not _strace_works(), reason="strace is not installed or cannot trace here")
def test_the_speech_runtime_connects_nowhere(tmp_path: Path) -> None:
    assert _inet_calls_of(SPEECH_IN_USE, tmp_path) == []
