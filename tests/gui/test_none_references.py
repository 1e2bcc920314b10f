"""PySide6 6.12 on CPython 3.11 loses a reference to None on every Qt method that returns
nothing; the window keeps a reserve so a shift cannot exhaust None (desktop/app.py)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from PySide6.QtGui import QImage, QPainter

from desktop import app


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_the_window_holds_a_reserve_of_none_references(qtbot: Any) -> None:
    app.hold_none_references()  # first: the loop below would otherwise eat the test's own
    for singleton in (None, True, False):
        assert sys.getrefcount(singleton) > app.NONE_RESERVE
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(1000):
        painter.save()
        painter.restore()
    lost = before - sys.getrefcount(None)
    painter.end()
    # What the reserve protects against. If a PySide6 upgrade fixes it, this fails: then the
    # reserve can go.
    assert lost >= 1000
