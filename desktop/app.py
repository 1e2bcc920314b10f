"""Composition root: settings and context, the Qt application and the main window."""

from __future__ import annotations

import sys

from desktop import APP_NAME, __version__


def run_gui(argv: list[str] | None = None) -> int:
    """Open the Deskmate window; returns the process exit code."""
    from PySide6.QtWidgets import QApplication

    from desktop.core import logs
    from desktop.core.context import AppContext
    from desktop.gui import crash
    from desktop.gui.main_window import MainWindow
    from desktop.gui.parts.settings import apply_font_scale

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    context = AppContext.from_env()
    logs.setup(context.paths, context.settings)
    bugs = crash.install(app, context.paths, bool(context.settings.get(logs.SETTING)))
    apply_font_scale(float(context.settings.get("ui.font_scale")))
    window = MainWindow(context)
    window.show()
    for problem in context.settings.problems:
        window.statusBar().showMessage(problem, 15000)
    window.start()
    code = app.exec()
    window.stop()
    window.ops.wait()
    bugs.uninstall()
    return int(code)
