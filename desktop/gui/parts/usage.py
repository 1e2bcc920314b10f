"""The Usage page: what Deskmate did on this PC over the last 7, 30 or 90 days, per day, for all
packs or one, drawn from the local audit trail (:mod:`desktop.core.usage` over
:func:`desktop.core.report.daily`, the numbers of ``deskmate report``). No customer text.

The trail is read on a worker (a long trail takes a while) each time the page is shown or the
period changes; the pack filter only regroups the rows already read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QPushButton

from desktop.gui.parts.base import Part, Shell

if TYPE_CHECKING:
    from desktop.core.report import Row
    from desktop.gui.parts.usage_page import UsageDialog


class UsagePart(Part):
    """Opens the Usage page and reads the audit trail for it on a worker."""

    name = "usage"

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.button = QPushButton("Usage…")
        self.button.setAccessibleName("Usage")
        self.button.clicked.connect(self.open_usage)
        self.tools = [self.button]
        self.dialog: UsageDialog | None = None
        self.rows: list[Row] = []
        self._asked = 0  # the latest refresh: an older one that ends later is dropped

    def open_usage(self) -> UsageDialog:
        if self.dialog is None:
            from desktop.gui.parts.usage_page import UsageDialog  # the page's modules: now

            self.dialog = UsageDialog(self, self.button.window())
        self.dialog.open()  # shown: it refreshes
        return self.dialog

    def refresh(self) -> None:
        """Read the period's rows from the audit trail on a worker, then draw them."""
        if self.dialog is None:
            return
        self._asked += 1
        asked, days = self._asked, self.dialog.days
        context = self.shell.context
        self.dialog.summary.setText("Reading the audit trail…")

        def read() -> tuple[int, list[Row]]:
            from desktop.core import usage

            context.audit.flush()  # what the window recorded a moment ago is in
            return asked, usage.load(context.paths.data, days)

        self.shell.ops.run(read, self._read, self._failed)

    def _read(self, result: tuple[int, list[Row]]) -> None:
        asked, rows = result
        if asked != self._asked or self.dialog is None:
            return
        self.rows = rows
        self.dialog.set_packs(sorted({row.pack for row in rows}))
        self.regroup()

    def regroup(self) -> None:
        """Draw the rows read for the pack chosen (no new read)."""
        if self.dialog is None:
            return
        from desktop.core import usage

        self.dialog.show_usage(
            usage.summarise(self.rows, self.dialog.days, self.dialog.pack_filter)
        )

    def _failed(self, exc: Exception) -> None:
        if self.dialog is not None:
            self.dialog.summary.setText(f"Could not read the audit trail: {exc}")
        self.shell.show_problem(exc)
