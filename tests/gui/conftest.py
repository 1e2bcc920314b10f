"""GUI fixtures: the real main window, shown offscreen, with its workers drained at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture
def make_window(qtbot: Any) -> Iterator[Callable[[Any], Any]]:
    """Build and show the real MainWindow over a given AppContext.

    At teardown every window is stopped and its background operations are waited for, so no
    worker thread outlives the test (or touches the next test's home folder).
    """
    from desktop.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(context: Any) -> MainWindow:
        window = MainWindow(context)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.stop()
        assert window.ops.wait(120_000), "a background operation did not finish"
    QApplication.processEvents()
