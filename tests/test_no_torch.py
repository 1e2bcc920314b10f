"""No run-time entry point imports torch, transformers or sentence-transformers.

Each entry point runs in a FRESH interpreter of the test venv, where torch and
sentence-transformers ARE installed (they are the embedder's reference in the tests), through a
bootstrap that runs the real code and writes ``sorted(sys.modules)`` when the process ends. So an
import anywhere on the path, direct or through a library, shows up here. Each case also checks
that the work was really done (the embedder ran: ``onnxruntime`` was imported and results came
back), so a command that failed early cannot pass by importing nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
FORBIDDEN = ("torch", "transformers", "sentence_transformers")
QUESTION = "How do I return a damaged item?"

# `python -c CLI ARGS...` runs `deskmate ARGS...` and writes the modules it imported at exit.
CLI = """
import atexit, json, os, runpy, sys
def _report():
    with open(os.environ["DESKMATE_TEST_MODULES"], "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(_report)
sys.argv[0] = "deskmate"
runpy.run_module("desktop", run_name="__main__")
"""

# The window as `desktop.app.run_gui` opens it; once the packs are open it types a search,
# then pastes a conversation into the listen panel, and closes when the suggestions are shown.
WINDOW = f"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
import desktop.app
from desktop.gui.main_window import MainWindow

QUESTION = {QUESTION!r}
seen = {{}}
original_start = MainWindow.start

def driven_start(self):
    def searched(hits):
        if hits and "search" not in seen:
            seen["search"] = [hit.source for hit in hits]
            self.listen.conversation.setPlainText(
                "Customer: hi\\nAgent: hello\\n"
                "Customer: my phone arrived with a cracked screen, can I send it back?"
            )
    def suggested(hits):
        if hits and "listen" not in seen:
            seen["listen"] = [hit.source for hit in hits]
            QApplication.instance().quit()
    self.results_shown.connect(searched)
    self.suggestions_shown.connect(suggested)
    self.ready.connect(lambda: QTest.keyClicks(self.search.box, QUESTION))
    original_start(self)

MainWindow.start = driven_start
app = QApplication([])
QTimer.singleShot(240_000, app.quit)
code = desktop.app.run_gui([])
print(json.dumps({{"code": code, "seen": seen, "modules": sorted(sys.modules)}}))
"""


def forbidden(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def run_fresh(tmp_path: Path, *args: str, timeout: float = 600) -> tuple[Any, list[str]]:
    """Run ``deskmate ARGS`` in a fresh interpreter; returns (the result, modules imported)."""
    report = tmp_path / f"modules-{args[0]}.json"
    env = {**os.environ, "DESKMATE_TEST_MODULES": str(report), "PYTHONIOENCODING": "utf-8"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    assert report.is_file(), result.stderr[-3000:]
    return result, json.loads(report.read_text(encoding="utf-8"))


def test_the_check_sees_an_import_of_torch(tmp_path: Path) -> None:
    """The bootstrap does report what the command imported (else every case passes vacuously)."""
    env = {**os.environ, "DESKMATE_TEST_MODULES": str(tmp_path / "m.json")}
    code = CLI.replace('runpy.run_module("desktop", run_name="__main__")', "import torch")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert "torch" in forbidden(json.loads((tmp_path / "m.json").read_text()))


@pytest.mark.slow
def test_search_imports_no_torch(tmp_path: Path, demo_pack: Path) -> None:
    result, modules = run_fresh(tmp_path, "search", QUESTION, "--json", "--pack", str(demo_pack))
    assert result.returncode == 0, result.stderr[-3000:]
    hits = json.loads(result.stdout)
    assert "delivery-returns/return-damaged-or-faulty-item.md" in [h["source"] for h in hits]
    assert forbidden(modules) == []
    assert "onnxruntime" in modules


@pytest.mark.slow
def test_ask_imports_no_torch(tmp_path: Path, demo_pack: Path) -> None:
    result, modules = run_fresh(tmp_path, "ask", QUESTION, "--json", "--pack", str(demo_pack))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["sources"], result.stdout[:500]
    assert forbidden(modules) == []
    # A reply is the sources' own sentences by default (generation.replies): no model loaded.
    assert "onnxruntime" in modules and "llama_cpp" not in modules


@pytest.mark.slow
def test_pack_build_imports_no_torch(tmp_path: Path) -> None:
    out = tmp_path / "built"
    result, modules = run_fresh(tmp_path, "pack", "build", str(DEMO), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "manifest.json").is_file()
    assert forbidden(modules) == []
    assert "onnxruntime" in modules


@pytest.mark.slow
def test_doctor_imports_no_torch(tmp_path: Path, demo_pack: Path) -> None:
    result, modules = run_fresh(tmp_path, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["embedding model"]["status"] == "ok", checks["embedding model"]
    assert forbidden(modules) == []


@pytest.mark.slow
def test_window_search_and_listen_import_no_torch(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WINDOW)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["code"] == 0
    assert "delivery-returns/return-damaged-or-faulty-item.md" in found["seen"]["search"]
    assert found["seen"]["listen"], found["seen"]
    assert forbidden(found["modules"]) == []
    assert "onnxruntime" in found["modules"]


@pytest.mark.slow
def test_transcribe_imports_no_torch(tmp_path: Path) -> None:
    import speechkit

    if not speechkit.have_tools():
        pytest.skip("needs espeak-ng and sox")
    pcm, _ = speechkit.call([("customer", "I would like to upgrade my plan.")])
    path = speechkit.write_wav(tmp_path / "call.wav", pcm)
    result, modules = run_fresh(tmp_path, "transcribe", str(path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "upgrade my plan" in json.loads(result.stdout)["text"].lower()
    assert forbidden(modules) == []
    assert {"ctranslate2", "faster_whisper", "onnxruntime"} <= set(modules)
