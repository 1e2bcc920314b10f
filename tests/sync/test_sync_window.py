"""The running window syncs on the policy's schedule and on "Sync now", and answers from the new
pack without a restart (real window offscreen, real repository on file://)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synckit import Workstation

from desktop.core.sync.repo import Repository

pytestmark = [
    pytest.mark.slow,
    # The offscreen platform plugin warns that it cannot resize native windows; harmless here.
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


@pytest.fixture
def window(qtbot: Any, workstation: Workstation) -> Iterator[Any]:
    from desktop.gui.main_window import MainWindow

    workstation.set_policy(interval_minutes=60)  # due: this PC has never synced
    shown = MainWindow(workstation.context())
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.stop()
    assert shown.ops.wait(120_000)


def packs_label(window: Any) -> Any:
    return window.parts["status"].packs_label


def sync_label(window: Any) -> Any:
    return window.parts["sync"].label


def test_first_run_syncs_on_schedule_then_sync_now_brings_v2(
    qtbot: Any, window: Any, repo: Repository, packs: dict[str, Path]
) -> None:
    # No pack on this PC yet: the window says so, and the scheduled sync brings v1.
    window.start()
    qtbot.waitUntil(lambda: "northwind" in packs_label(window).text().lower(), timeout=120_000)
    assert "v1" in packs_label(window).text()
    qtbot.waitUntil(lambda: "Knowledge synced" in sync_label(window).text(), timeout=30_000)
    assert window.parts["sync"].timer is not None and window.parts["sync"].timer.isActive()

    # Not due again within the interval: a scheduled check does nothing.
    window.parts["sync"].sync_if_due()
    qtbot.waitUntil(lambda: not window.parts["sync"].syncing, timeout=30_000)
    assert "v1" in packs_label(window).text()

    # The admin publishes v2; "Sync now" installs it and the window reopens its packs.
    repo.publish(packs["2"])
    window.parts["sync"].sync_now()
    qtbot.waitUntil(lambda: "v2" in packs_label(window).text(), timeout=120_000)
    assert window.context.packs()[0].version == "2"


def test_sync_now_failure_is_shown_and_the_packs_stay(
    qtbot: Any, window: Any, workstation: Workstation, repo: Repository
) -> None:
    window.start()
    qtbot.waitUntil(lambda: "v1" in packs_label(window).text(), timeout=120_000)
    qtbot.waitUntil(lambda: not window.parts["sync"].syncing, timeout=30_000)
    # The source disappears (share unmounted): the failure is shown, v1 stays in service.
    workstation.set_policy(url=(repo.folder.parent / "gone").as_uri())
    window.context.settings = workstation.settings()
    window.parts["sync"].sync_now()
    qtbot.waitUntil(lambda: "failed" in sync_label(window).text().lower(), timeout=60_000)
    assert window.context.packs()[0].version == "1"
    assert "v1" in packs_label(window).text()


def test_sync_now_during_a_scheduled_check_is_not_lost(
    qtbot: Any, window: Any, repo: Repository, packs: dict[str, Path]
) -> None:
    window.start()
    qtbot.waitUntil(lambda: "v1" in packs_label(window).text(), timeout=120_000)
    qtbot.waitUntil(lambda: not window.parts["sync"].syncing, timeout=30_000)
    repo.publish(packs["2"])
    window.parts["sync"].sync_if_due()  # not due: a quick check is in flight ...
    assert window.parts["sync"].syncing
    window.parts["sync"].sync_now()  # ... and the agent's "Sync now" runs right after it
    qtbot.waitUntil(lambda: "v2" in packs_label(window).text(), timeout=120_000)
