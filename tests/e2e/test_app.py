"""The composition root: ``run_gui`` opens the real window, offscreen, in a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs the real run_gui(); a timer inspects the window once start-up has settled, then quits.
SCRIPT = textwrap.dedent("""
    import json, sys, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from desktop.app import run_gui
    from desktop.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    seen = {}
    started = time.monotonic()

    def poll():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows:
            return
        window = windows[0]
        status = window.parts["status"]
        seen.setdefault("status", window.statusBar().currentMessage())
        busy = status.packs_label.text().endswith("…") or \\
            status.model_label.text().endswith("…")
        if not busy or time.monotonic() - started > 150:
            seen.update(title=window.windowTitle(), visible=window.isVisible(),
                        packs=status.packs_label.text(), model=status.model_label.text(),
                        draft=window.draft.view.toPlainText(),
                        offline=status.offline_label.text(),
                        hooks=type(getattr(sys.excepthook, "__self__", None)).__name__,
                        dialog=getattr(sys.excepthook, "__self__", None).on_crash is not None)
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    code = run_gui()
    print(json.dumps({"code": code, **seen}))
""")


def run_window(tmp_path: Path, policy: dict[str, Any]) -> dict[str, Any]:
    policy_file = Path(os.environ["DESKMATE_POLICY_DIR"], "managed", "policy.json")
    policy_file.write_text(json.dumps(policy), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_window_opens_and_reports_problems_without_a_pack(tmp_path: Path) -> None:
    seen = run_window(
        tmp_path,
        {
            "settings": {
                "knowledge.demo_enabled": False,
                "generation.enabled": False,
                "model.bogus": 1,
            }
        },
    )

    assert seen["code"] == 0
    assert seen["title"] == "Deskmate"
    assert seen["visible"] is True
    assert "Offline" in seen["offline"]
    # Policy problems are shown in the status bar, naming the key.
    assert "model.bogus" in seen["status"]
    # No pack installed: guidance in the draft pane, not a traceback.
    assert seen["packs"] == "Knowledge: unavailable"
    assert "No knowledge pack is installed" in seen["draft"]
    assert "index rebuild" in seen["draft"]
    # Generation turned off by policy: no model is loaded.
    assert "extractive" in seen["model"]
    # The bug tier: uncaught exceptions go to the log and to the crash dialog.
    assert seen["hooks"] == "Hooks" and seen["dialog"] is True
    log = Path(os.environ["DESKMATE_HOME"]) / "logs" / "deskmate.log"
    assert "customer text in this log: off" in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_window_builds_the_demo_pack_on_first_run(tmp_path: Path, deskmate_home: Path) -> None:
    policy = {"generation.enabled": False, "knowledge.demo_enabled": True}  # managed: IT allows it
    seen = run_window(tmp_path, {"settings": policy})

    assert seen["code"] == 0
    assert seen["visible"] is True
    assert seen["packs"].startswith("Knowledge: Northwind Mobile help centre (demo) v")
    assert seen["model"] == "Model: none — extractive mode"
    assert seen["draft"].startswith("Welcome to Deskmate")
    assert (deskmate_home / "data" / "packs" / "demo" / "manifest.json").is_file()
