"""Take screenshots of the real Deskmate window for the README (run under Xvfb).

    xvfb-run -s "-screen 0 1280x860x24" .venv/bin/python scripts/screenshot.py docs/

Starts the window with the embedded defaults, asks a question, waits for the streamed draft and
grabs the whole X screen, so what is saved is what a person would see.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.core.context import AppContext
from desktop.gui.main_window import MainWindow

QUESTION = "How do I return a damaged item?"


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    window = MainWindow(AppContext.from_env())
    window.setGeometry(0, 0, 1280, 860)
    window.show()
    window.start()

    def ask() -> None:
        window.question.setText(QUESTION)
        window.ask()

    def shoot(_: object) -> None:
        def grab() -> None:
            screen = app.primaryScreen()
            screen.grabWindow(0).save(str(out / "screenshot-main.png"))
            app.quit()

        QTimer.singleShot(500, grab)

    window.ready.connect(ask)
    window.draft_finished.connect(shoot)
    QTimer.singleShot(300_000, app.quit)
    app.exec()
    window.stop()
    window.ops.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
