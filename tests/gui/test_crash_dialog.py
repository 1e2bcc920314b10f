"""The window's bug tier: a bug shows a dialog and leaves a content-free trace; the window lives on.

Each test puts its own "previous" hooks in place of pytest-qt's and pytest's while it causes a bug
on purpose; test_bugs_still_fail_tests proves in a separate pytest run that, with the bug tier
installed, a bug in a slot or a thread still fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from guikit import QUESTION, context_with, start, type_search
from PySide6.QtCore import Qt, QtMsgType, qWarning
from PySide6.QtWidgets import QApplication

from desktop.core import logs
from desktop.core.paths import Paths
from desktop.gui import crash

pytestmark = [
    pytest.mark.slow,
    # The offscreen platform plugin warns that it cannot resize native windows; harmless here.
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Mr Pemberton-Okafor's card ending 4417"


@pytest.fixture
def window(qtbot: Any, make_window: Any, embedder: Any, demo_pack: Path) -> Any:
    """The real window over the demo pack, drafting without a model (extractive), started."""
    paths = Paths.from_env()
    paths.config.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(json.dumps({"generation.enabled": False}))
    shown = make_window(context_with(embedder, pack_dirs=[demo_pack]))
    start(qtbot, shown)
    return shown


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


@pytest.fixture
def bug_tier(window: Any) -> Iterator[tuple[crash.BugTier, Recorder]]:
    """The bug tier as run_gui installs it, chained to a recorder instead of pytest-qt's hook."""
    paths = window.context.paths
    assert logs.setup(paths, window.context.settings) is not None
    saved = sys.excepthook, threading.excepthook
    previous = Recorder()
    sys.excepthook = previous
    bugs = crash.install(QApplication.instance(), paths)
    try:
        yield bugs, previous
    finally:
        bugs.uninstall()
        sys.excepthook, threading.excepthook = saved
        logs.shutdown()
        if bugs.reporter.dialog is not None:
            bugs.reporter.dialog.close()


def look_up_the_customer(query: str) -> None:
    raise LookupError(f"no account matches {query!r}")


def log_text(window: Any) -> str:
    return logs.log_file(window.context.paths).read_text(encoding="utf-8")


def test_a_bug_shows_the_dialog_and_the_window_keeps_working(
    qtbot: Any, window: Any, bug_tier: Any
) -> None:
    bugs, previous = bug_tier
    try:
        look_up_the_customer(SECRET)
    except LookupError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)  # what PySide does for a slot's bug

    qtbot.waitUntil(lambda: bugs.reporter.dialog is not None and bugs.reporter.dialog.isVisible())
    dialog = bugs.reporter.dialog
    assert dialog.parent() is window and not dialog.isModal()
    assert str(logs.log_file(window.context.paths)) in dialog.where.text()
    summary = dialog.summary.text()
    assert "LookupError" in summary and "look_up_the_customer" in summary
    assert "no customer text" in dialog.where.text()
    assert len(previous.calls) == 1  # chained to the hook that was there before

    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    details = QApplication.clipboard().text()
    assert "LookupError" in details and "in look_up_the_customer" in details
    assert "tests/gui/test_crash_dialog.py:" in details and "Deskmate 0.1" in details
    assert SECRET not in details and "Pemberton" not in details and "no account" not in details
    assert dialog.isVisible()  # copying does not close it

    assert SECRET not in log_text(window)
    assert "Unhandled LookupError" in log_text(window)
    crash_record = logs.last_crash(window.context.paths)
    assert crash_record is not None and crash_record["type"] == "LookupError"

    # The window still answers, with the dialog open beside it.
    hits = type_search(qtbot, window, "return a damaged item")
    assert hits and window.search.results.count() == len(hits)


def test_a_bug_in_a_real_slot_reaches_the_dialog_and_pytest_qt(
    qtbot: Any, window: Any, bug_tier: Any
) -> None:
    bugs, _ = bug_tier
    bugs.uninstall()  # put the tier back on top of pytest-qt's own capturing hook instead
    with qtbot.captureExceptions() as exceptions:
        bugs = crash.install(QApplication.instance(), window.context.paths)
        window.search.box.textChanged.connect(look_up_the_customer)
        try:
            qtbot.keyClicks(window.search.box, "x")
            qtbot.waitUntil(lambda: bugs.reporter.dialog is not None)
        finally:
            window.search.box.textChanged.disconnect(look_up_the_customer)
            bugs.uninstall()
    assert [type(exc) for _, exc, _ in exceptions] == [LookupError]  # pytest-qt would fail us
    assert "Unhandled LookupError" in log_text(window)
    bugs.reporter.dialog.close()


def test_more_bugs_while_the_dialog_is_open_are_counted_not_stacked(
    qtbot: Any, window: Any, bug_tier: Any
) -> None:
    bugs, _ = bug_tier
    for _ in range(3):
        try:
            look_up_the_customer(SECRET)
        except LookupError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bugs.reporter.dialog is not None and bugs.reporter.dialog.more == 2)
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, crash.CrashDialog)]
    assert [d for d in dialogs if d.isVisible()] == [bugs.reporter.dialog]
    assert "2 more problem(s)" in bugs.reporter.dialog.repeats.text()


def test_a_bug_in_a_worker_thread_shows_the_dialog_on_the_ui_thread(
    qtbot: Any, window: Any, bug_tier: Any
) -> None:
    bugs, _ = bug_tier
    recorded: list[Any] = []
    threading.excepthook = recorded.append  # replaces pytest's hook for this bug
    bugs.uninstall()
    bugs = crash.install(QApplication.instance(), window.context.paths)
    worker = threading.Thread(target=look_up_the_customer, args=(SECRET,), name="sync-worker")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bugs.reporter.dialog is not None and bugs.reporter.dialog.isVisible())
    assert bugs.reporter.dialog.thread() is QApplication.instance().thread()
    assert len(recorded) == 1
    assert "in thread sync-worker" in log_text(window)
    bugs.uninstall()


def test_qt_warnings_go_to_the_log_without_their_text(
    qtbot: Any, window: Any, bug_tier: Any
) -> None:
    passed_on: list[Any] = []
    messages = bug_tier[0].messages
    previous, messages.previous = messages.previous, lambda *args: passed_on.append(args)
    try:
        qWarning(f"QTextDocument::find: {SECRET}")
    finally:
        messages.previous = previous
    text = log_text(window)
    assert "WARNING desktop.gui.crash" in text and "QTextDocument::find:" in text
    assert SECRET not in text
    assert [(mode, message) for mode, _, message in passed_on] == [
        (QtMsgType.QtWarningMsg, f"QTextDocument::find: {SECRET}")
    ]


def test_a_query_asked_in_the_window_never_reaches_the_log(
    qtbot: Any, window: Any, bug_tier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_ask(text: str, **_: Any) -> Iterator[Any]:
        raise ValueError(f"cannot draft for {text!r}")
        yield  # a generator, like the real one

    monkeypatch.setattr(window.assistant, "ask", failing_ask)
    question = f"{QUESTION} {SECRET}"
    type_search(qtbot, window, question)
    with qtbot.waitSignal(window.failed, timeout=60_000):
        qtbot.keyClick(window.search.box, Qt.Key.Key_Return)

    text = log_text(window)
    assert "ERROR desktop.gui.parts." in text and "ValueError (message hidden" in text
    assert "in failing_ask" in text
    assert SECRET not in text and "Pemberton" not in text and "damaged" not in text


BUGGY_TESTS = textwrap.dedent("""
    import threading

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.core import logs
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.gui import crash


    def boom():
        raise ValueError("a bug")


    def test_bug_in_a_slot(qtbot):
        paths = Paths.from_env()
        logs.setup(paths, Settings(paths))
        bugs = crash.install(QApplication.instance(), paths)
        try:
            QTimer.singleShot(0, boom)
            qtbot.waitUntil(lambda: bugs.reporter.dialog is not None)
        finally:
            bugs.uninstall()


    def test_bug_in_a_thread():
        hooks = logs.install_hooks(Paths.from_env())
        try:
            worker = threading.Thread(target=boom)
            worker.start()
            worker.join()
        finally:
            hooks.uninstall()
""")


def test_bugs_still_fail_tests(tmp_path: Path, deskmate_home: Path) -> None:
    (tmp_path / "test_buggy.py").write_text(BUGGY_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_QT_API": "pyside6"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "2 failed" in result.stdout, result.stdout + result.stderr
    assert "Exceptions caught in Qt event loop" in result.stdout
    assert "PytestUnhandledThreadExceptionWarning" in result.stdout
    assert logs.last_crash(Paths.from_env()) is not None  # and the bug tier saw them too


def test_a_bug_in_a_background_search_reaches_the_dialog_and_the_search_recovers(
    qtbot: Any, window: Any, bug_tier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's exception is caught by Ops, not by sys.excepthook: a bug (not a UserError)
    must still reach the bug tier, while the part shows the problem and keeps working."""
    bugs, previous = bug_tier
    real_search = window.assistant.search
    monkeypatch.setattr(window.assistant, "search", lambda *a, **k: look_up_the_customer(SECRET))
    qtbot.keyClicks(window.search.box, "return a damaged item")
    qtbot.waitUntil(lambda: bugs.reporter.dialog is not None and bugs.reporter.dialog.isVisible())
    assert "LookupError" in bugs.reporter.dialog.summary.text()
    assert len(previous.calls) == 1
    assert logs.last_crash(window.context.paths)["type"] == "LookupError"
    assert SECRET not in log_text(window)

    monkeypatch.setattr(window.assistant, "search", real_search)
    window.search.box.clear()
    hits = type_search(qtbot, window, "return a damaged item")
    assert hits


def test_a_user_error_in_the_background_is_not_a_bug(
    qtbot: Any, window: Any, bug_tier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.core.errors import KnowledgeError

    bugs, previous = bug_tier

    def damaged(*_: Any, **__: Any) -> None:
        raise KnowledgeError("The pack is damaged.", "Reinstall it.")

    monkeypatch.setattr(window.assistant, "search", damaged)
    qtbot.keyClicks(window.search.box, "return a damaged item")
    qtbot.waitUntil(lambda: "damaged" in window.search.status.text())
    QApplication.processEvents()
    assert bugs.reporter.dialog is None and previous.calls == []
