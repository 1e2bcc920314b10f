"""The frozen application (PyInstaller onedir, ``make bundle``) runs on its own: the CLI, the
embedder, the default model through llama.cpp, and the window, with no venv and a clean home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from desktop import __version__

pytestmark = [pytest.mark.slow, pytest.mark.bundle]
QUESTION = "How do I return a damaged item?"
CONVERSATION = (
    "Customer: my parcel arrived with a cracked screen\n"
    "Agent: sorry about that, I have booked a free return for you"
)
# Never in the bundle: the embedder's test-only PyTorch reference and plaintext keyrings.
FORBIDDEN = ("torch", "transformers", "sentence_transformers", "keyrings")


def run(exe: Path, env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(exe), *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"frozen deskmate {args} failed:\n{result.stderr[-3000:]}"
    return result.stdout


def test_frozen_version(bundle: Path, clean_env: dict[str, str]) -> None:
    assert run(bundle, clean_env, "--version").strip() == f"Deskmate, version {__version__}"


def test_bundle_holds_what_it_needs_and_nothing_it_must_not(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    libs = {p.name for p in (internal / "llama_cpp" / "lib").iterdir()}
    assert {"libllama.so", "libggml.so", "libggml-base.so", "libggml-cpu.so"} <= libs
    assert (internal / "resources" / "demo").is_dir()
    assert (internal / "desktop" / "core" / "knowledge" / "all-MiniLM-L6-v2.onnx").is_file()
    present = {p.name.split("-")[0].split(".")[0] for p in internal.iterdir()}
    assert not present & set(FORBIDDEN)


def test_frozen_doctor_finds_the_shipped_models(bundle: Path, clean_env: dict[str, str]) -> None:
    report = json.loads(run(bundle, clean_env, "doctor", "--json"))
    checks = {c["name"]: c for c in report["checks"]}
    inside = str(bundle.parent / "_internal")
    for name in ("model", "embedding model"):
        assert checks[name]["status"] == "ok", checks[name]
        assert inside in checks[name]["message"], f"{name} not from the bundle: {checks[name]}"
    assert checks["keyring"]["status"] in ("ok", "warning"), checks["keyring"]


def test_frozen_search_and_ask(bundle: Path, clean_env: dict[str, str]) -> None:
    hits = json.loads(run(bundle, clean_env, "search", "--json", QUESTION))
    assert hits and hits[0]["source"] == "delivery-returns/return-damaged-or-faulty-item.md"

    answer = json.loads(run(bundle, clean_env, "ask", "--json", QUESTION))
    assert answer["status"] == "answered" and answer["mode"] == "extractive"
    assert answer["sources"][0]["source"] == hits[0]["source"]
    # The bundled model writes the wrap-up note (replies are the sources' sentences by default).
    note = json.loads(run(bundle, clean_env, "ask", "--json", "--task", "wrapup", CONVERSATION))
    assert note["task"] == "wrapup" and note["draft"]
    assert note["timings"].get("first_token_s", 0) > 0, note["timings"]


def test_frozen_window_opens_offscreen(
    bundle: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    trace = tmp_path / "trace.txt"
    env = {**clean_env, "DESKMATE_TRACE_STARTUP": str(trace)}
    proc = subprocess.Popen(
        [str(bundle)],
        env=env,
        cwd=env["HOME"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if trace.exists() and "window_shown" in trace.read_text(encoding="utf-8"):
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"the frozen window exited:\n{proc.communicate()[1][-3000:]}"
        assert "window_shown" in trace.read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
