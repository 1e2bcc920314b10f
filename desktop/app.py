"""Composition root: settings and context, the Qt application and the main window."""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

from desktop import APP_NAME, __version__

# PySide6 6.12.0 on CPython 3.11 drops one reference to None (and True, False) on every call of
# a Qt method that returns nothing (painter.save(), QStyledItemDelegate.paint(), a signal's
# emit): None is not immortal before Python 3.12, so a window open for a shift aborted with
# "Fatal Python error: none_dealloc" (the soak benchmark, after about 650 actions). 6.11.3 does
# not, and is the pinned release (requirements/app.txt; pyproject excludes 6.12.0). In case a
# machine runs a release with the bug anyway, the window measures the loss at start and, if
# there is one, adds this many references to each singleton, never given back (a list holding
# them would give them back at exit and abort then): thousands of actions' worth.
# See tests/gui/test_none_references.py.
NONE_RESERVE = 2_000_000
_held = False


def singleton_reference_loss(calls: int = 64) -> int:
    """References to None lost by `calls` pairs of void Qt calls (0 on a sound PySide6).

    Needs a QGuiApplication.
    """
    from PySide6.QtGui import QImage, QPainter

    image = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(calls):
        painter.save()
        painter.restore()
    lost = before - sys.getrefcount(None)
    painter.end()
    return lost


def hold_none_references() -> None:
    """Keep None, True and False alive under PySide6's lost references (no-op from 3.12)."""
    global _held
    if sys.version_info >= (3, 12) or _held:
        return
    import ctypes

    # CPython 3.11: ob_refcnt is the first field of every object, at id(obj).
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += NONE_RESERVE
    _held = True


def guard_singletons() -> bool:
    """Hold the reserve if this PySide6 loses references to None; True if it does."""
    if sys.version_info >= (3, 12) or singleton_reference_loss() <= 0:
        return False
    import logging

    import PySide6

    logging.getLogger(__name__).warning(
        "PySide6 %s loses references to None; holding a reserve (install the pinned release)",
        PySide6.__version__,
    )
    hold_none_references()
    return True


def run_gui(argv: list[str] | None = None) -> int:
    """Open the Deskmate window; returns the process exit code.

    The window is built and shown first; then the embedding model loads on one thread while
    LanceDB and the packs load on another (see AppContext.preload). Loading them before the
    window, in parallel with it, got the first result no sooner but the window later: both are
    mostly Python work, which takes turns on the interpreter lock. What runs earlier is the
    kernel reading the large native libraries, for a cold disk (prefetch_libraries).
    """
    from desktop.core import logs, trace
    from desktop.core.context import AppContext
    from desktop.core.imports import prefetch_libraries, quick_pyside_module_check

    # The window's start re-enables collection once start-up's objects are loaded and frozen
    # (see Shell.start): a full collection during start-up holds the interpreter lock.
    gc.disable()
    context = AppContext.from_env()
    logs.setup(context.paths, context.settings)
    # A cold disk reads the large native libraries while Qt loads.
    threading.Thread(target=prefetch_libraries, name="deskmate-prefetch", daemon=True).start()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    quick_pyside_module_check()  # before the window's modules, LanceDB and onnxruntime import
    from desktop.gui import crash
    from desktop.gui.main_window import MainWindow
    from desktop.gui.parts.settings import apply_font_scale

    trace.mark("window_imported")
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    guard_singletons()
    bugs = crash.install(app, context.paths, bool(context.settings.get(logs.SETTING)))
    apply_font_scale(float(context.settings.get("ui.font_scale")))
    window = MainWindow(context)
    trace.mark("window_built")
    _trace(window)
    window.show()
    for problem in context.settings.problems:
        window.statusBar().showMessage(problem, 15000)
    window.start()
    QTimer.singleShot(0, lambda: trace.mark("window_shown"))
    loading: list[threading.Thread] = []  # started once the window has had its first turn
    QTimer.singleShot(0, lambda: loading.append(context.preload()))
    code = app.exec()
    window.stop()
    window.ops.wait()
    for thread in loading:
        thread.join()
    bugs.uninstall()
    return int(code)


def _trace(window: Any) -> None:
    """Mark the start-up moments for DESKMATE_TRACE_STARTUP (see desktop.core.trace)."""
    from desktop.core import trace

    if not trace.enabled():
        return
    window.ready.connect(lambda: trace.mark("knowledge_ready"))
    window.results_shown.connect(lambda hits: trace.mark("first_result" if hits else "no_result"))
    window.shell.model_loaded.connect(lambda _: trace.mark("model_ready"))
    window.shell.model_failed.connect(lambda _: trace.mark("model_ready"))
