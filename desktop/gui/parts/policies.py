"""The Policies page (like ``chrome://policy``): every machine policy in force with its value,
level, source and status, each refused source and skipped pack, and a Reload button.

The page shows :func:`desktop.core.managed.report`, the same report as ``deskmate policy
--json``. Reload reads the policy again on a worker, puts the new settings in force, and tells
the other parts (:attr:`Shell.settings_changed`).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core import managed
from desktop.core.settings import Settings
from desktop.gui.parts.base import Part, Shell

COLUMNS = ("Policy", "Value", "Level", "Source", "Status", "Note")


class PoliciesDialog(QDialog):
    """The table of policies, the problems below it, and Reload."""

    def __init__(self, part: PoliciesPart, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.part = part
        self.setWindowTitle("Policies")
        self.resize(900, 480)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Policies in force")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setAccessibleName("Policy problems")
        self.reload_button = QPushButton("Reload policies")
        self.reload_button.setAccessibleName("Reload policies")
        self.reload_button.clicked.connect(part.reload)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.reload_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.table, self.problems, buttons):
            layout.addWidget(widget)

    def show_report(self, report: dict[str, Any]) -> None:
        state = "machine policy" if report["machine_policy"] else "development folder"
        sources = report["sources"]
        self.summary.setText(
            f"Policy folder {report['policy_dir']} ({state}): {len(sources)} source(s), "
            f"{sum(s['status'] == 'refused' for s in sources)} refused."
        )
        rows = report["policies"]
        self.table.setRowCount(len(rows))
        for number, row in enumerate(rows):
            cells = (row["key"], json.dumps(row["value"]), row["level"], row["source"])
            for column, text in enumerate((*cells, row["status"], row["message"])):
                self.table.setItem(number, column, QTableWidgetItem(str(text)))
        lines = [f"• {problem}" for problem in report["problems"]]
        lines += [f"• Pack skipped: {p['message']} {p['fix']}" for p in report["skipped_packs"]]
        self.problems.setText("\n".join(lines) or "No problems.")


class PoliciesPart(Part):
    """Opens the Policies page and reloads the machine policy on request."""

    name = "policies"

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.button = QPushButton("Policies…")
        self.button.setAccessibleName("Policies")
        self.button.clicked.connect(self.open_policies)
        self.tools = [self.button]
        self.dialog: PoliciesDialog | None = None

    def open_policies(self) -> PoliciesDialog:
        if self.dialog is None:
            self.dialog = PoliciesDialog(self, self.button.window())
        self.dialog.show_report(managed.report(self.shell.context))
        self.dialog.open()
        return self.dialog

    def reload(self) -> None:
        """Read the machine policy (and user settings) again and put them in force."""
        context = self.shell.context

        def read() -> tuple[Settings, dict[str, Any]]:
            context.settings = Settings.load(context.paths)
            context.reload_packs()
            return context.settings, managed.report(context)

        self.shell.ops.run(read, self._reloaded, self.shell.show_problem)

    def _reloaded(self, result: tuple[Settings, dict[str, Any]]) -> None:
        if self.dialog is not None:
            self.dialog.show_report(result[1])
        self.shell.settings_changed.emit()
        self.shell.say("Policies reloaded.", 5000)
