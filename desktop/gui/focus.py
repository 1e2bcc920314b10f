"""A visible keyboard focus: a frame in the theme's selection colour round the focused pane.

Drawn by a small overlay over the pane rather than by a style sheet: a style sheet on the panes
would fix their fonts, and they would no longer follow the ``ui.font_scale`` setting.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QApplication, QWidget

WIDTH = 2


class FocusFrame(QWidget):
    """Follows the keyboard focus among *panes* (after Ctrl+1..4 or F6) and frames that pane."""

    def __init__(self, panes: Sequence[QWidget], parent: QWidget) -> None:
        super().__init__(parent)
        self.panes = list(panes)
        self.target: QWidget | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus)

    def _on_focus(self, _: QWidget | None, now: QWidget | None) -> None:
        target = next((p for p in self.panes if now is p or (now and p.isAncestorOf(now))), None)
        if target is self.target:
            return
        if self.target is not None:
            self.target.removeEventFilter(self)
        self.target = target
        if target is None:
            self.hide()
            return
        self.setParent(target)
        target.installEventFilter(self)
        self._fit()

    def _fit(self) -> None:
        if self.target is not None:
            self.setGeometry(self.target.rect())
            self.raise_()
            self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.target and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        color = self.palette().color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(color, WIDTH))
        half = WIDTH // 2
        painter.drawRect(self.rect().adjusted(half, half, -half, -half))
        painter.end()
