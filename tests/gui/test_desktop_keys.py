"""The window's shortcuts under the GNOME and KDE key schemes, where text boxes have Emacs keys.

Qt gives text boxes Ctrl+K (delete to the end of the line), Ctrl+E (end of line) and Ctrl+D
(delete a character) on X11 desktops; offscreen, where the rest of the suite runs, it does not.
Checked here: the window's shortcuts with those keys still win (Qt's text boxes do not claim
them before a shortcut), so nothing typed is lost. This guards it, in case a Qt upgrade or a
new text box changes that: the real window on a virtual X server (xvfb) with the desktop's key
scheme, in a fresh interpreter, the keys pressed as an agent would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

app = QApplication([])
from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.gui.main_window import MainWindow

paths = Paths.from_env()
window = MainWindow(AppContext(paths, Settings.load(paths), pack_dirs=[]))
window.show()
QTest.qWaitForWindowExposed(window)
window.activateWindow()  # no window manager on the virtual display: window shortcuts need it
assert QTest.qWaitForWindowActive(window)
ctrl = Qt.KeyboardModifier.ControlModifier
out = {"platform": app.platformName(),
       "scheme_ctrl_k": [s.toString() for s in
                         QKeySequence.keyBindings(QKeySequence.StandardKey.DeleteEndOfLine)]}

box = window.search
box.box.setText("my parcel never arrived")
box.box.setFocus()
box.box.setCursorPosition(9)
QTest.keyClick(box.box, Qt.Key.Key_K, ctrl)  # Ctrl+K: focus the search box, select the question
out["search_text"] = box.box.text()
out["search_selected"] = box.box.selectedText()

talk = window.listen.conversation
talk.setPlainText("Customer: my parcel never arrived")
talk.setFocus()
QTest.keyClick(talk, Qt.Key.Key_D, ctrl)  # Ctrl+D: to the draft
out["conversation"] = talk.toPlainText()
focus = QApplication.focusWidget()
out["focus_after_ctrl_d"] = focus.accessibleName() if focus else None
talk.setFocus()
QTest.keyClick(talk, Qt.Key.Key_K, ctrl)  # Ctrl+K from the conversation: to the search box
out["conversation_after_k"] = talk.toPlainText()
out["search_has_focus"] = box.box.hasFocus()
print(json.dumps(out))
"""


def run_on_desktop(desktop: str, tmp_path: Path) -> Any:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        if os.environ.get("CI"):
            pytest.fail("xvfb-run is missing: scripts/setup.sh installs xvfb for the tests")
        pytest.skip("xvfb-run is not installed (apt-get install xvfb)")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "xcb",
        "XDG_CURRENT_DESKTOP": desktop,
        "KDE_SESSION_VERSION": "5",
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    command = [xvfb, "-a", "-s", "-screen 0 1280x860x24", sys.executable, "-c"]
    result = subprocess.run(
        [*command, textwrap.dedent(SCRIPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("desktop", ["GNOME", "KDE"])
def test_shortcuts_win_over_the_text_boxes_emacs_keys(desktop: str, tmp_path: Path) -> None:
    out = run_on_desktop(desktop, tmp_path)
    assert out["platform"] == "xcb" and "Ctrl+K" in out["scheme_ctrl_k"]  # the scheme is on
    assert out["search_text"] == "my parcel never arrived"  # nothing deleted
    assert out["search_selected"] == "my parcel never arrived"  # Ctrl+K selected it
    assert out["conversation"] == "Customer: my parcel never arrived"
    assert out["focus_after_ctrl_d"] == "Draft reply"
    assert out["conversation_after_k"] == "Customer: my parcel never arrived"
    assert out["search_has_focus"]
