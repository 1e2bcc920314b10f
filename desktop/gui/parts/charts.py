"""A small bar chart drawn with QPainter: Qt's own charts module is in PySide6-Addons, which
Deskmate does not ship, and a plotting library would be a heavy dependency for a few bars.

A :class:`BarChart` holds its data (:attr:`labels`, :attr:`series`), so tests read the numbers
and not the pixels. One series draws one bar per label; two draw them side by side, with a
legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = ("#3b7dd8", "#e08a2c")
MARGIN = 6
NOTHING = "Nothing recorded in this period."


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # None: no value that day (e.g. nothing to divide by)


class BarChart(QWidget):
    """A titled bar chart; *unit* follows the values in the labels ("%" turns 0.5 into 50%)."""

    def __init__(
        self, title: str, unit: str = "", note: str = NOTHING, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self.note = note  # said in the plot when no bar has a value
        self.labels: list[str] = []
        self.series: list[Series] = []
        self.setAccessibleName(title)
        self.setMinimumSize(260, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 190)

    def set_data(self, labels: Sequence[str], series: Sequence[Series]) -> None:
        self.labels = list(labels)
        self.series = list(series)
        self.setAccessibleDescription(self.describe())
        self.update()

    def describe(self) -> str:
        """The numbers in words (what a screen reader says, and what a test can read)."""
        parts = []
        for series in self.series:
            shown = [self.format(v) for v in series.values if v is not None]
            parts.append(f"{series.name}: {', '.join(shown) or 'none'}")
        return "; ".join(parts)

    def format(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "%":
            return f"{value:.0%}"
        if float(value).is_integer():
            return f"{int(value)}{self.unit}"
        return f"{value:.1f}{self.unit}"

    def top(self) -> float:
        values = [v for s in self.series for v in s.values if v is not None]
        if self.unit == "%":
            return 1.0
        return max([*values, 1.0])

    # --- drawing ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        metrics = painter.fontMetrics()
        line = metrics.height()
        painter.setPen(text)
        title = QRectF(MARGIN, MARGIN, self.width() - 2 * MARGIN, line)
        painter.drawText(title, Qt.AlignmentFlag.AlignLeft, self.title)
        self._legend(painter, title)
        axis_width = metrics.horizontalAdvance(self.format(self.top())) + MARGIN
        plot = QRectF(
            MARGIN + axis_width,
            MARGIN + line * 2.4,
            self.width() - 2 * MARGIN - axis_width,
            self.height() - 2 * MARGIN - line * 3.6,
        )
        self._axis(painter, plot, text)
        if plot.width() > 0 and plot.height() > 0 and self.labels:
            self._bars(painter, plot, text)
        if not any(v for s in self.series for v in s.values):
            painter.setPen(text)
            painter.drawText(
                plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.note
            )
        painter.end()

    def _legend(self, painter: QPainter, title: QRectF) -> None:
        if len(self.series) < 2:
            return
        metrics = painter.fontMetrics()
        x = title.right()
        for index in reversed(range(len(self.series))):
            name = self.series[index].name
            x -= metrics.horizontalAdvance(name)
            painter.drawText(
                QRectF(x, title.top(), metrics.horizontalAdvance(name), title.height()), name
            )
            x -= title.height() * 0.9
            swatch = QRectF(x, title.top() + 2, title.height() * 0.7, title.height() - 4)
            painter.fillRect(swatch, QColor(COLOURS[index % len(COLOURS)]))
            x -= MARGIN * 2

    def _axis(self, painter: QPainter, plot: QRectF, text: QColor) -> None:
        faint = QColor(text)
        faint.setAlpha(60)
        painter.setPen(faint)
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.topLeft(), plot.topRight())
        painter.setPen(text)
        width = plot.left() - MARGIN * 2
        top_label = QRectF(MARGIN, plot.top() - 8, width, 16)
        painter.drawText(top_label, Qt.AlignmentFlag.AlignRight, self.format(self.top()))
        zero = QRectF(MARGIN, plot.bottom() - 8, width, 16)
        painter.drawText(zero, Qt.AlignmentFlag.AlignRight, self.format(0))

    def _bars(self, painter: QPainter, plot: QRectF, text: QColor) -> None:
        count, top = len(self.labels), self.top()
        slot = plot.width() / count
        bar = max(1.0, slot * 0.8 / max(1, len(self.series)))
        metrics = painter.fontMetrics()
        widest = max(metrics.horizontalAdvance(label) for label in self.labels) + MARGIN
        every = max(1, int(widest // slot) + 1)
        for index, label in enumerate(self.labels):
            left = plot.left() + index * slot + slot * 0.1
            for number, series in enumerate(self.series):
                value = series.values[index] if index < len(series.values) else None
                if not value:
                    continue
                height = plot.height() * min(1.0, value / top)
                rect = QRectF(left + number * bar, plot.bottom() - height, bar - 1, height)
                painter.fillRect(rect, QColor(COLOURS[number % len(COLOURS)]))
                if count <= 14 and bar >= metrics.horizontalAdvance(self.format(value)):
                    above = QRectF(
                        rect.left(), rect.top() - metrics.height(), bar, metrics.height()
                    )
                    painter.drawText(above, Qt.AlignmentFlag.AlignHCenter, self.format(value))
            if index % every == 0:
                middle = plot.left() + (index + 0.5) * slot
                below = QRectF(middle - widest / 2, plot.bottom() + 2, widest, metrics.height())
                painter.setPen(text)
                painter.drawText(below, Qt.AlignmentFlag.AlignHCenter, label)
