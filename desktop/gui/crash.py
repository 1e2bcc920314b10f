"""The window's bug tier: Qt's messages go to the log, and a bug shows a dialog, not an exit.

An exception that escapes a Qt slot or event handler reaches ``sys.excepthook``; the hooks of
:mod:`desktop.core.logs` log it (content-free) and hand the report to :class:`CrashReporter`,
which shows a :class:`CrashDialog` on the UI thread: what happened, where the log is, and a
"Copy details" button. The window keeps working. The hooks then call the hook that was there
before, so under pytest-qt the bug still fails its test.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    Qt,
    QtMsgType,
    Signal,
    qFormatLogMessage,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core import logs
from desktop.core.paths import Paths

log = logging.getLogger(__name__)

_QT_LEVELS = {
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


class QtMessages:
    """A Qt message handler that logs warnings and worse, then passes every message on."""

    def __init__(self) -> None:
        self.previous: Any = None

    def install(self) -> None:
        self.previous = qInstallMessageHandler(self.handle)

    def uninstall(self) -> None:
        qInstallMessageHandler(self.previous)

    def handle(self, mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        level = _QT_LEVELS.get(mode)
        if level is not None:
            name, rest = logs.split_qt_message(message)
            category = logs.safe(context.category or "default")
            if name:
                log.log(level, "Qt (%s) %s %s", category, logs.safe(name), logs.content(rest))
            else:
                log.log(level, "Qt (%s) %s", category, logs.content(rest))
        if self.previous is not None:
            self.previous(mode, context, message)
        elif sys.stderr is not None:
            sys.stderr.write(qFormatLogMessage(mode, context, message) + "\n")


def _main_window() -> QWidget | None:
    """The window a dialog should sit over: the active one, else a visible main window."""
    active = QApplication.activeWindow()
    if active is not None:
        return active
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow)]
    return next((w for w in shown if w.isVisible()), None)


class CrashDialog(QDialog):
    """Tells the agent that something went wrong, where the log is, and offers the details."""

    def __init__(
        self, report: logs.Report, log_path: Path, customer_text: bool, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deskmate: something went wrong")
        self.setModal(False)
        self.details = logs.format_details(report)
        self.more = 0
        privacy = (
            "It may contain customer text (log.customer_text is on)."
            if customer_text
            else "It holds no customer text."
        )
        self.summary = QLabel(
            f"<p><b>Deskmate hit an unexpected problem</b> ({report['type']} in "
            f"{report['where']}).</p><p>The window keeps working: you can carry on. If it "
            "happens again, send the log to IT support.</p>"
        )
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.where = QLabel(f"Log: {log_path}\n{privacy}")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.repeats = QLabel("")
        self.repeats.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy what happened (no customer text) to paste into a ticket")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.where, self.repeats, buttons):
            layout.addWidget(widget)

    def copy_details(self) -> None:
        clipboard = QApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.details)
        self.copy_button.setText("Copied")

    def add(self, report: logs.Report) -> None:
        """Another problem while this dialog is open: count it rather than stack dialogs."""
        self.more += 1
        self.repeats.setText(
            f"{self.more} more problem(s) since, the last {report['type']} in {report['where']}."
        )
        self.repeats.show()


class CrashReporter(QObject):
    """Receives crash reports from any thread and shows them in one dialog on the UI thread."""

    crashed = Signal(object)

    def __init__(self, log_path: Path, customer_text: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.customer_text = customer_text
        self.dialog: CrashDialog | None = None
        # Queued even on the UI thread: never open a dialog inside a paint or event handler.
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, report: logs.Report) -> None:
        self.crashed.emit(report)

    def _show(self, report: logs.Report) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add(report)
            return
        self.dialog = CrashDialog(report, self.log_path, self.customer_text, _main_window())
        self.dialog.show()


class BugTier:
    """What :func:`install` set up, to keep alive while the app runs (and undo in tests)."""

    def __init__(
        self, reporter: CrashReporter, hooks: logs.Hooks, messages: QtMessages, owns_hooks: bool
    ) -> None:
        self.reporter = reporter
        self.hooks = hooks
        self.messages = messages
        self.owns_hooks = owns_hooks

    def uninstall(self) -> None:
        """No more dialogs or Qt messages; the hooks go too unless the CLI installed them."""
        self.hooks.on_crash = None
        self.messages.uninstall()
        if self.owns_hooks:
            self.hooks.uninstall()


def install(app: QObject, paths: Paths, customer_text: bool = False) -> BugTier:
    """Route Qt's messages and uncaught exceptions to the log, and bugs to the dialog."""
    reporter = CrashReporter(logs.log_file(paths), customer_text, app)
    owns_hooks = not isinstance(getattr(sys.excepthook, "__self__", None), logs.Hooks)
    hooks = logs.install_hooks(paths, on_crash=reporter.report)
    messages = QtMessages()
    messages.install()
    return BugTier(reporter, hooks, messages, owns_hooks)
