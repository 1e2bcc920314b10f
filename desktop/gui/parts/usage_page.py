"""The Usage page's dialog: period and pack selectors, the totals and a chart per measure (see
:mod:`desktop.gui.parts.usage`, which opens it). Imported when the page is first opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core import usage
from desktop.core.report import Row
from desktop.gui.parts.charts import NOTHING, BarChart, Series

if TYPE_CHECKING:
    from desktop.gui.parts.usage import UsagePart

NOT_EDITED = "No draft was edited before copying."
CHARTS = (  # name, title, unit, what an empty chart says
    ("searches", "Searches", "", NOTHING),
    ("drafts", "Drafts shown and copied", "", NOTHING),
    ("acceptance", "Acceptance (copied / shown)", "%", "No draft was copied."),
    ("edited", "Edited before copying", "%", NOT_EDITED),
    ("first_source", "Median time to first source opened", " s", "No source was opened."),
    ("no_source", "Questions with no approved source", "", "Every question had a source."),
    ("routes", "Routes to a person, by topic", "", "No case was routed to a person."),
    ("feedback", "Feedback", "", "No feedback was given."),
)


class UsageDialog(QDialog):
    """Period and pack selectors, the totals, and a chart per measure."""

    def __init__(self, part: UsagePart, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.part = part
        self.usage: usage.Usage | None = None
        self.setWindowTitle("Usage")
        self.resize(1180, 820)
        self.period = QComboBox()
        self.period.setAccessibleName("Period")
        for days in usage.PERIODS:
            self.period.addItem(f"Last {days} days", days)
        self.period.currentIndexChanged.connect(lambda _: part.refresh())
        self.pack = QComboBox()
        self.pack.setAccessibleName("Pack")
        self.pack.addItem("All packs", usage.ALL)
        self.pack.currentIndexChanged.connect(lambda _: part.regroup())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Usage totals")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Usage message")
        self.charts = {name: BarChart(title, unit, note) for name, title, unit, note in CHARTS}
        layout = QVBoxLayout(self)
        layout.addLayout(self._selectors())
        layout.addWidget(self.summary)
        layout.addWidget(self.message)
        grid = QGridLayout()
        for index, chart in enumerate(self.charts.values()):
            grid.addWidget(chart, index // 2, index % 2)
        layout.addLayout(grid, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _selectors(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.part.refresh)
        for label, widget in (("Period:", self.period), ("Pack:", self.pack)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        return row

    @property
    def days(self) -> int:
        return int(self.period.currentData())

    @property
    def pack_filter(self) -> str:
        return str(self.pack.currentData() or usage.ALL)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.part.refresh()

    def set_packs(self, packs: list[str]) -> None:
        chosen = self.pack_filter
        self.pack.blockSignals(True)
        self.pack.clear()
        self.pack.addItem("All packs", usage.ALL)
        for pack in packs:
            self.pack.addItem("(no pack)" if pack == "-" else pack, pack)
        self.pack.setCurrentIndex(max(0, self.pack.findData(chosen)))
        self.pack.blockSignals(False)

    def show_usage(self, shown: usage.Usage) -> None:
        self.usage = shown
        which = "all packs" if not shown.pack else f"pack {shown.pack}"
        if shown.empty:
            self.message.setText(
                f"No usage was recorded in the last {shown.days} days for {which}: nothing to "
                "chart. Searches, drafts and feedback in this window appear here."
            )
        else:
            self.message.setText("")
        self.message.setVisible(shown.empty)
        self.summary.setText(summary_text(shown, which))
        self._draw(shown)

    def _draw(self, shown: usage.Usage) -> None:
        days = [row.day[5:] for row in shown.rows]
        rows = shown.rows

        def count(key: str) -> tuple[float | None, ...]:
            return tuple(float(row.counts[key]) for row in rows)

        def seconds(row: Row) -> float | None:
            ms = row.median_first_source_ms
            return None if ms is None else ms / 1000

        charts = self.charts
        charts["searches"].set_data(days, [Series("searches", count("searches"))])
        shown_copied = [
            Series("shown", count("drafts_shown")),
            Series("copied", count("drafts_copied")),
        ]
        charts["drafts"].set_data(days, shown_copied)
        charts["acceptance"].set_data(
            days, [Series("acceptance", tuple(r.acceptance for r in rows))]
        )
        charts["edited"].set_data(days, [Series("edited", tuple(r.edited_share for r in rows))])
        charts["first_source"].set_data(days, [Series("median", tuple(map(seconds, rows)))])
        charts["no_source"].set_data(days, [Series("no source", count("no_source"))])
        topics = shown.routes
        charts["routes"].set_data(
            [topic for topic, _ in topics], [Series("routes", tuple(float(n) for _, n in topics))]
        )
        feedback = [Series("up", count("feedback_up")), Series("down", count("feedback_down"))]
        charts["feedback"].set_data(days, feedback)


def summary_text(shown: usage.Usage, which: str) -> str:
    total = shown.total
    counts = total.counts
    accepted = "" if total.acceptance is None else f" ({total.acceptance:.0%} accepted)"
    edited = "" if total.edited_share is None else f", {total.edited_share:.0%} edited first"
    median = total.median_first_source_ms
    first = "-" if median is None else f"{median / 1000:.1f} s"
    return (
        f"Last {shown.days} days, {which}: {counts['searches']} searches · "
        f"{counts['drafts_shown']} drafts shown · {counts['drafts_copied']} copied{accepted}"
        f"{edited} · median time to first source {first} · {counts['routed']} routed to a "
        f"person · {counts['no_source']} with no approved source · feedback "
        f"{counts['feedback_up']} up / {counts['feedback_down']} down"
    )
