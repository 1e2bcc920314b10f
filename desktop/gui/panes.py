"""The window's panes as plain widgets: search, source, draft and listen.

Each pane only lays out its controls and shows what it is given; the main window decides what
runs when, on which worker, and wires the panes together.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QKeyEvent,
    QPainter,
    QPalette,
    QResizeEvent,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core import render, tasks
from desktop.core.knowledge.index import Hit


def _named(widget: Any, name: str, tip: str = "") -> Any:
    widget.setAccessibleName(name)
    widget.setObjectName(name.replace(" ", "_").lower())
    if tip:
        widget.setToolTip(tip)
    return widget


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as written. Qt's default (AutoText) renders text that looks
    like HTML as rich text, so a pack title such as ``<a href=…>`` would become a link."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tip(text: str) -> str:
    """*text* as a tooltip that shows it as written (Qt renders a tooltip that looks like HTML
    as rich text): escaped inside a paragraph."""
    return f"<p>{html.escape(text).replace(chr(10), '<br>')}</p>" if text else ""


def column(*widgets: Any, margins: int = 0) -> tuple[QWidget, QVBoxLayout]:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(margins, margins, margins, margins)
    for widget in widgets:
        if isinstance(widget, QHBoxLayout):
            layout.addLayout(widget)
        else:
            layout.addWidget(widget)
    return box, layout


def row_of(*widgets: Any) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        if widget is None:
            row.addStretch(1)
        else:
            row.addWidget(widget)
    return row


RICH_ROLE = Qt.ItemDataRole.UserRole + 1


class RichRowDelegate(QStyledItemDelegate):
    """Paints an item's rich text (``RICH_ROLE``) with a QTextDocument: no widget per row.

    A rich QLabel per row cost the UI thread several milliseconds each to build and lay out,
    more when the model decodes on every core. Painting builds nothing but a small cached
    document for the rows that are visible. Items without rich text paint as usual.
    """

    MARGIN = 4
    CACHE = 64

    def __init__(self, view: QListWidget) -> None:
        super().__init__(view)
        self._view = view
        self._docs: dict[tuple[str, int], QTextDocument] = {}

    def document(self, rich: str, width: int) -> QTextDocument:
        key = (rich, width)
        doc = self._docs.get(key)
        if doc is None:
            if len(self._docs) >= self.CACHE:
                self._docs.pop(next(iter(self._docs)))
            doc = QTextDocument()
            doc.setDefaultFont(self._view.font())
            doc.setDocumentMargin(self.MARGIN)
            doc.setHtml(rich)
            doc.setTextWidth(width)
            self._docs[key] = doc
        return doc

    def _width(self) -> int:
        # The width a row is painted at (its rect spans the viewport), so that measuring and
        # painting share one document.
        # Less the spacing around each row (the cards have some): else a row is wider than
        # the viewport and the list scrolls sideways.
        return max(120, self._view.viewport().width() - 2 * self._view.spacing())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        rich = index.data(RICH_ROLE)
        if not rich:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the document draws the text
        style = opt.widget.style() if opt.widget else self._view.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if getattr(self._view, "cards", False):  # a card's frame
            painter.save()
            painter.setPen(opt.palette.color(QPalette.ColorRole.Mid))
            painter.drawRoundedRect(opt.rect.adjusted(0, 0, -1, -1), 4, 4)
            painter.restore()
        doc = self.document(rich, opt.rect.width())
        context = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(role))
        painter.save()
        painter.translate(opt.rect.topLeft())
        painter.setClipRect(opt.rect.translated(-opt.rect.topLeft()))
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        rich = index.data(RICH_ROLE)
        if not rich:
            return super().sizeHint(option, index)
        width = self._width()
        return QSize(width, int(self.document(rich, width).size().height()) + 2)

    def forget(self) -> None:
        self._docs.clear()


class HitList(QListWidget):
    """Search hits as rich rows: title › heading, snippet with the query in bold, then pack
    and category. The item's plain text is the title, for tests and assistive technology."""

    activated_row = Signal(int)

    def __init__(self, name: str, cards: bool = False) -> None:
        super().__init__()
        _named(self, name)
        # Cards (the listen panel's suggestions): the title and one sentence, framed, to be
        # read at a glance mid-call; a search result keeps its longer snippet.
        self.cards = cards
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)  # re-measure the rows on resize
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.delegate = RichRowDelegate(self)
        self.setItemDelegate(self.delegate)
        self.itemActivated.connect(lambda item: self.activated_row.emit(self.row(item)))

    def show_hits(self, hits: list[Hit], query: str, pack_titles: dict[str, str]) -> None:
        self.clear()
        self.delegate.forget()
        for hit in hits:
            where = f" › {hit.heading}" if hit.heading and hit.heading != hit.title else ""
            page = f", page {hit.page}" if hit.page else ""
            origin = pack_titles.get(hit.pack, hit.pack)
            if hit.category:
                origin += f" · {hit.category}"
            item = QListWidgetItem(hit.title)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{hit.title}{where}. {origin}")
            item.setToolTip(plain_tip(hit.source))
            if self.cards:
                rich = (
                    f"<b>{html.escape(hit.title)}</b><br>{render.card_line_html(hit.text, query)}"
                    f"<br><small><i>{html.escape(origin + page)}</i></small>"
                )
            else:
                rich = (
                    f"<b>{html.escape(hit.title)}</b>{html.escape(where)}<br>"
                    f"{render.snippet_html(hit.text, query)}<br>"
                    f"<i>{html.escape(origin + page)}</i>"
                )
            item.setData(RICH_ROLE, rich)
            self.addItem(item)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.delegate.forget()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # ui.font_scale or the system font changed
            self.delegate.forget()
            self.doItemsLayout()

    def show_message(self, text: str) -> None:
        self.clear()
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.addItem(item)


class SearchBox(QLineEdit):
    """The search box: Up/Down move through the results without leaving it."""

    def __init__(self, results: QListWidget) -> None:
        super().__init__()
        self.results = results

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1}.get(Qt.Key(event.key()))
        if step is not None and self.results.count():
            row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
            self.results.setCurrentRow(row)
            return
        super().keyPressEvent(event)


class SearchPane(QWidget):
    """Search as you type, filters for pack and category, and the ranked results."""

    def __init__(self) -> None:
        super().__init__()
        self.results = HitList("Results")
        self.results.setToolTip("Results: Up/Down to move, Enter to read the source (Ctrl+1)")
        self.box = _named(
            SearchBox(self.results),
            "Search",
            "Type to search the approved knowledge; Enter drafts a reply (Ctrl+K)",
        )
        self.box.setPlaceholderText("Search knowledge, or type the customer's question…")
        self.box.setClearButtonEnabled(True)
        for button in self.box.findChildren(QToolButton):
            _named(button, "Clear search")
        self.pack_filter = _named(QComboBox(), "Pack filter", "Search only this pack")
        self.pack_filter.addItem("All packs", "")
        self.category_filter = _named(QComboBox(), "Category filter", "Search only this category")
        self.category_filter.addItem("All categories", "")
        self.status = _named(plain_label(), "Search status")
        self.status.setWordWrap(True)

    def set_filters(self, packs: list[tuple[str, str]], categories: list[str]) -> None:
        for combo, items in (
            (self.pack_filter, packs),
            (self.category_filter, [(c, c) for c in categories]),
        ):
            while combo.count() > 1:
                combo.removeItem(1)
            for value, label in items:
                combo.addItem(label, value)


class SourcePane(QWidget):
    """The selected result's document, rendered, scrolled to the passage and highlighting it."""

    def __init__(self) -> None:
        super().__init__()
        # (pack, source, start, end) of the passage the view renders, None for a message.
        self.rendered: tuple[str, str, int, int] | None = None
        self.title = _named(QLabel("Source"), "Source title")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.meta = _named(plain_label(), "Source details")
        self.meta.setWordWrap(True)
        self.open_button = _named(
            QPushButton("Open &original"), "Open original", "Open the original file"
        )
        self.open_button.setEnabled(False)
        self.draft_from_button = _named(
            QPushButton("Draft &from this article"),
            "Draft from this article",
            "Draft a reply that starts from this article (Ctrl+Shift+D)",
        )
        self.draft_from_button.setEnabled(False)
        self.view = _named(
            QTextBrowser(), "Source document", "The selected result's document (Ctrl+2)"
        )
        self.view.setOpenLinks(False)
        head = row_of(self.title, self.draft_from_button, self.open_button)
        head.setStretch(0, 1)
        box, layout = column(head, self.meta, self.view)
        layout.setStretch(2, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)

    def show_message(self, title: str, text_html: str) -> None:
        self.rendered = None
        self.title.setText(f"<b>{html.escape(title)}</b>")
        self.meta.setText("")
        self.open_button.setEnabled(False)
        self.draft_from_button.setEnabled(False)
        self.view.setHtml(text_html)

    def highlighted_text(self) -> str:
        """The text shown with the passage highlight (what the agent's eye is drawn to)."""
        doc = self.view.document()
        target = QColor(render.HIGHLIGHT)
        parts: list[str] = []
        block = doc.begin()
        while block.isValid():
            it = block.begin()
            in_block = []
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().background().color() == target:
                    in_block.append(fragment.text())
                it += 1
            if in_block:
                parts.append("".join(in_block))
            block = block.next()
        return "\n".join(parts)


class DraftPane(QWidget):
    """Task, tone, the streaming draft with inline verdicts, and what to do with it."""

    def __init__(self) -> None:
        super().__init__()
        self.task = _named(QComboBox(), "Task", "What to write")
        for value, label in tasks.TASKS.items():
            self.task.addItem(label, value)
        self.tone = _named(QComboBox(), "Tone", "How to rewrite the text")
        for value, label in tasks.TONES.items():
            self.tone.addItem(label, value)
        self.tone.setEnabled(False)
        self.task.currentIndexChanged.connect(
            lambda _: self.tone.setEnabled(self.task.currentData() == "rewrite")
        )
        self.draft_button = _named(QPushButton("&Draft"), "Draft", "Write it (Ctrl+Enter)")
        self.stop_button = _named(QPushButton("&Stop"), "Stop generating", "Stop (Esc)")
        self.stop_button.setEnabled(False)
        self.regenerate_button = _named(
            QPushButton("&Regenerate"), "Regenerate", "Write it again (Ctrl+R)"
        )
        self.regenerate_button.setEnabled(False)
        self.copy_button = _named(
            QPushButton("&Copy"), "Copy draft", "Copy the draft as plain text (Ctrl+Shift+C)"
        )
        self.copy_button.setEnabled(False)
        self.edit_button = _named(
            QPushButton("&Edit"), "Edit draft", "Edit the draft before copying it (Ctrl+E)"
        )
        self.edit_button.setEnabled(False)
        self.with_sources = _named(
            QCheckBox("with source titles"), "Copy with source titles", "Append the sources"
        )
        self.thumbs_up = _named(QPushButton("✓ Useful"), "Good draft", "This draft was useful")
        self.thumbs_down = _named(
            QPushButton("✗ Not useful"), "Bad draft", "This draft was not useful"
        )
        for button in (self.thumbs_up, self.thumbs_down):
            button.setEnabled(False)
        self.view = _named(QTextBrowser(), "Draft reply", "The draft (Ctrl+3)")
        self.view.setOpenLinks(False)
        # Edit: the draft as plain text, exactly what Copy copies, in place of the view.
        self.editor = _named(QPlainTextEdit(), "Edited draft", "Your edit of the draft (Ctrl+E)")
        self.editor.setVisible(False)
        # The rating sits on the top row: one bottom row with all eight controls made the pane
        # ~570 px wide, too wide for a window beside the CRM on half a 1366 px screen.
        top = row_of(
            self.task,
            self.tone,
            self.draft_button,
            self.stop_button,
            None,
            self.thumbs_up,
            self.thumbs_down,
        )
        bottom = row_of(
            self.regenerate_button, self.edit_button, self.copy_button, self.with_sources, None
        )
        # Buttons as narrow as their text (the style's 80 px minimum would make the draft pane
        # alone ~570 px wide): the window must fit half of a 1366 px screen, beside the CRM.
        for button in (
            self.draft_button,
            self.stop_button,
            self.regenerate_button,
            self.edit_button,
            self.copy_button,
            self.thumbs_up,
            self.thumbs_down,
        ):
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 20)
            button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top)
        outer.addWidget(self.view, 1)
        outer.addWidget(self.editor, 1)
        outer.addLayout(bottom)

    def append(self, text: str) -> None:
        cursor = self.view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.view.setTextCursor(cursor)
        self.view.ensureCursorVisible()

    def set_running(self, running: bool) -> None:
        self.draft_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if running:
            for button in (
                self.regenerate_button,
                self.edit_button,
                self.copy_button,
                self.thumbs_up,
                self.thumbs_down,
            ):
                button.setEnabled(False)

    def set_editing(self, editing: bool) -> None:
        """Show the editor in place of the view (Edit), or the view again (Done)."""
        self.view.setVisible(not editing)
        self.editor.setVisible(editing)
        self.edit_button.setText("D&one" if editing else "&Edit")
        self.edit_button.setToolTip(
            "Back to the draft: Copy copies your edited text (Ctrl+E)"
            if editing
            else "Edit the draft before copying it (Ctrl+E)"
        )


class ListenPane(QWidget):
    """The live conversation and the articles it calls for, kept up to date as it changes."""

    def __init__(self) -> None:
        super().__init__()
        self.conversation = _named(
            QPlainTextEdit(), "Conversation", "The live conversation (Ctrl+4)"
        )
        self.conversation.setPlaceholderText(
            "Paste or type the live conversation here, e.g.\n"
            "Customer: my new phone arrived with a cracked screen\n"
            "Agent: sorry to hear that…"
        )
        self.need = _named(QLabel("Suggestions appear as the conversation changes."), "Need")
        self.need.setWordWrap(True)
        self.suggestions = HitList("Suggested articles", cards=True)
        self.suggestions.setSpacing(3)
        self.follow_clipboard = _named(
            QCheckBox("Follow clipboard"),
            "Follow clipboard",
            "Use text copied to the clipboard as the conversation",
        )
        self.wrapup_button = _named(
            QPushButton("&Wrap-up note"),
            "Wrap-up note",
            "Turn the conversation into a wrap-up note (Ctrl+Shift+W)",
        )
        self.audio_button = _named(
            QPushButton("Listen to call &audio"),
            "Listen to call audio",
            "Transcribe the call on this PC and follow what the customer says",
        )
        self.audio_button.setCheckable(True)
        self.audio_button.hide()  # shown when the listen.audio setting allows it
        self.audio_status = _named(plain_label(), "Call audio")
        self.audio_status.setWordWrap(True)
        self.audio_status.hide()
        box, layout = column(
            QLabel("<b>Listen</b> — the conversation so far"),
            self.conversation,
            row_of(self.follow_clipboard, self.audio_button, None, self.wrapup_button),
            self.audio_status,
            self.need,
            self.suggestions,
        )
        layout.setStretch(1, 2)
        layout.setStretch(5, 3)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)


class KeyFilter(QObject):
    """Calls *on_enter* when Return/Enter is pressed in the watched widget."""

    def __init__(self, on_enter: Any) -> None:
        super().__init__()
        self.on_enter = on_enter

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            mods = event.modifiers()
            enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            if enter and not mods & Qt.KeyboardModifier.ControlModifier:
                self.on_enter()
                return True
        return False
