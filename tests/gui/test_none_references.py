"""PySide6 6.12.0 on CPython 3.11 loses a reference to None on every Qt method that returns
nothing, and a window open for a shift aborted (desktop/app.py). The pinned release must not;
a release that does gets a reserve at start."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from desktop import app

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal from Python 3.12"
)


def test_the_pinned_pyside6_keeps_its_references_to_none(qtbot: Any) -> None:
    # 6.12.0 loses one per call (128 here). If an upgrade brings the bug back, this fails:
    # pin a release without it (requirements/app.txt).
    assert app.singleton_reference_loss(64) == 0


def test_a_sound_pyside6_gets_no_reserve(qtbot: Any) -> None:
    before = sys.getrefcount(None)
    assert app.guard_singletons() is False
    assert sys.getrefcount(None) < before + 1000


def test_a_release_that_loses_references_gets_the_reserve(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "singleton_reference_loss", lambda calls=64: calls)
    assert app.guard_singletons() is True
    for singleton in (None, True, False):
        assert sys.getrefcount(singleton) > app.NONE_RESERVE
