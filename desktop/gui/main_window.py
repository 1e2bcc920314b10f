"""The walking-skeleton main window: ask, see ranked sources, read the original, get a draft.

Thin by design: every piece of work goes through :class:`~desktop.gui.workers.Ops` to a worker
thread, and the window only turns core results into widgets. Nothing heavy is imported here, so
the window appears before the embedding model, LanceDB or llama.cpp are loaded.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core.assist import Answer, Assistant, Done, Sources, Token
from desktop.core.context import AppContext
from desktop.core.errors import UserError
from desktop.core.generation import verify
from desktop.core.knowledge.index import Hit
from desktop.gui.workers import Ops

log = logging.getLogger(__name__)

VERDICT_STYLE = {
    "supported": "",
    "unsupported": "background-color:#ffd6d6; text-decoration:underline;",
    "no_citation": "background-color:#fff0b3;",
}
_CITE = re.compile(r"\[(\d+)\]")


def _utf16_offset(text: str, index: int) -> int:
    """Qt positions count UTF-16 code units; Python offsets count code points."""
    return len(text[:index].encode("utf-16-le")) // 2


class MainWindow(QMainWindow):
    """Question box, ranked results, source pane and a streaming, verified draft."""

    ready = Signal()
    results_shown = Signal(list)
    draft_finished = Signal(object)
    failed = Signal(str)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.assistant = Assistant(context)
        self.ops = Ops(self)
        self.hits: list[Hit] = []
        self.sources: list[Hit] = []
        self._stop: threading.Event | None = None
        self._busy = False
        self.setWindowTitle(APP_NAME)
        self.resize(1200, 780)
        self._build()

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.question = QLineEdit(placeholderText="Ask a question or paste the customer's message")
        self.question.setAccessibleName("Question")
        self.question.returnPressed.connect(self.ask)
        self.ask_button = QPushButton("&Ask")
        self.ask_button.setAccessibleName("Ask")
        self.ask_button.clicked.connect(self.ask)
        self.stop_button = QPushButton("&Stop")
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        QShortcut(QKeySequence("Esc"), self, self.stop)
        QShortcut(QKeySequence("Ctrl+L"), self, self.question.setFocus)

        self.results = QListWidget()
        self.results.setAccessibleName("Results")
        self.results.currentRowChanged.connect(self._on_result_selected)
        self.source_title = QLabel("Source")
        self.source_title.setWordWrap(True)
        self.source_view = QTextBrowser()
        self.source_view.setAccessibleName("Source document")
        self.draft_view = QTextBrowser()
        self.draft_view.setAccessibleName("Draft reply")
        self.draft_view.setOpenLinks(False)
        self.draft_view.anchorClicked.connect(self._on_citation)

        top = QHBoxLayout()
        top.addWidget(self.question, 1)
        top.addWidget(self.ask_button)
        top.addWidget(self.stop_button)
        source_box = QWidget()
        source_layout = QVBoxLayout(source_box)
        source_layout.setContentsMargins(0, 0, 0, 0)
        source_layout.addWidget(self.source_title)
        source_layout.addWidget(self.source_view)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(source_box)
        right.addWidget(self.draft_view)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.results)
        split.addWidget(right)
        split.setSizes([380, 820])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

        self.model_label = QLabel("Model: starting…")
        self.packs_label = QLabel("Knowledge: opening…")
        self.offline_label = QLabel("● Offline: nothing leaves this PC")
        self.offline_label.setAccessibleName("Offline indicator")
        for label in (self.packs_label, self.model_label):
            self.statusBar().addWidget(label)
        self.statusBar().addPermanentWidget(self.offline_label)
        self.draft_view.setPlainText("Type a question and press Enter.")

    # --- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the knowledge packs (building the demo pack on first run), then load the model."""
        self.packs_label.setText("Knowledge: preparing…")
        self.ops.run(self._prepare, self._on_prepared, self._on_prepare_failed)

    def _prepare(self) -> list[str]:
        self.context.ensure_demo_pack()
        packs = self.context.packs()
        self.context.embedder.embed(["warm up"])
        return [f"{pack.title} v{pack.version}" for pack in packs]

    def _on_prepared(self, names: list[str]) -> None:
        self.packs_label.setText("Knowledge: " + ", ".join(names))
        self.ready.emit()
        self._load_model()

    def _on_prepare_failed(self, exc: Exception) -> None:
        self.packs_label.setText("Knowledge: unavailable")
        self._show_problem(exc)
        self._load_model()

    def _load_model(self) -> None:
        self.model_label.setText("Model: loading…")
        self.ops.run(self.context.load_model, self._on_model_loaded, self._on_model_failed)

    def _on_model_loaded(self, engine: Any) -> None:
        if engine is None:
            self.model_label.setText("Model: none — extractive drafts")
        else:
            self.model_label.setText(f"Model: {engine.info.name} ready")

    def _on_model_failed(self, exc: Exception) -> None:
        self.model_label.setText("Model: unavailable — extractive drafts")
        self.model_label.setToolTip(str(exc))
        self._show_problem(exc)

    # --- asking -----------------------------------------------------------------------------

    def ask(self) -> None:
        question = self.question.text().strip()
        if self._busy or not question:
            return
        self._busy = True
        self._stop = threading.Event()
        self.ask_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.results.clear()
        self.draft_view.clear()
        stop = self._stop
        self.ops.run(
            lambda: self._ask_job(question, stop),
            self._on_ask_done,
            self._on_ask_failed,
            self._on_ask_event,
        )

    def _ask_job(self, question: str, stop: threading.Event) -> Iterator[Any]:
        yield ("results", self.assistant.search(question))
        yield from self.assistant.ask(question, stop=stop)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _on_ask_event(self, event: Any) -> None:
        if isinstance(event, tuple) and event[0] == "results":
            self._show_results(event[1])
        elif isinstance(event, Sources):
            self.sources = list(event.hits)
        elif isinstance(event, Token):
            cursor = self.draft_view.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.text)
        elif isinstance(event, Done):
            self._show_answer(event.answer)

    def _on_ask_done(self, _: Any) -> None:
        self._finish()

    def _on_ask_failed(self, exc: Exception) -> None:
        self._finish()
        self._show_problem(exc)

    def _finish(self) -> None:
        self._busy = False
        self.ask_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _show_problem(self, exc: Exception) -> None:
        if isinstance(exc, UserError):
            text = f"<b>{html.escape(exc.message)}</b><br>{html.escape(exc.fix)}"
        else:
            log.error("unexpected error", exc_info=exc)
            text = f"<b>Something went wrong:</b> {html.escape(str(exc))}"
        self.draft_view.setHtml(text)
        self.failed.emit(str(exc))

    # --- results and sources ----------------------------------------------------------------

    def _show_results(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.results.clear()
        for hit in hits:
            where = f" › {hit.heading}" if hit.heading else ""
            item = QListWidgetItem(f"{hit.title}{where}\n{' '.join(hit.text.split())[:110]}…")
            item.setToolTip(f"{hit.pack}: {hit.source} (score {hit.score:.2f})")
            self.results.addItem(item)
        if hits:
            self.results.setCurrentRow(0)
        else:
            # Clear the previous question's article, or its title would label this message.
            self.source_title.setText("Source")
            self.source_view.setExtraSelections([])
            self.source_view.setPlainText("No approved source matches this question.")
        self.results_shown.emit(hits)

    def _on_result_selected(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            self.show_source(self.hits[row])

    def show_source(self, hit: Hit) -> None:
        """Show *hit*'s whole document with the passage highlighted and scrolled into view."""
        pack = next((p for p in self.context.packs() if p.id == hit.pack), None)
        if pack is None:
            return
        text = pack.document_text(hit.source)
        self.source_title.setText(
            f"<b>{html.escape(hit.title)}</b> — {html.escape(hit.source)}"
            f" ({html.escape(pack.title)})"
        )
        self.source_view.setPlainText(text)
        cursor = QTextCursor(self.source_view.document())
        cursor.setPosition(_utf16_offset(text, hit.start))
        cursor.setPosition(_utf16_offset(text, hit.end), QTextCursor.MoveMode.KeepAnchor)
        highlight = QTextEdit.ExtraSelection()
        highlight.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(QColor("#fff2a8"))
        highlight.format = fmt
        self.source_view.setExtraSelections([highlight])
        end = QTextCursor(cursor)
        end.setPosition(cursor.selectionEnd())
        self.source_view.setTextCursor(end)
        self.source_view.ensureCursorVisible()
        start = QTextCursor(cursor)
        start.setPosition(cursor.selectionStart())
        self.source_view.setTextCursor(start)
        self.source_view.ensureCursorVisible()

    def highlighted_text(self) -> str:
        selections = self.source_view.extraSelections()
        return selections[0].cursor.selectedText() if selections else ""

    def _on_citation(self, url: QUrl) -> None:
        if url.scheme() != "cite":
            return
        number = int(url.path() or url.toString().split(":", 1)[1])
        if not 1 <= number <= len(self.sources):
            return
        hit = self.sources[number - 1]
        matches = [
            i
            for i, h in enumerate(self.hits)
            if (h.pack, h.source, h.start) == (hit.pack, hit.source, hit.start)
        ]
        if matches:
            self.results.setCurrentRow(matches[0])
        else:
            self.show_source(hit)

    # --- the finished draft -----------------------------------------------------------------

    def _show_answer(self, answer: Answer) -> None:
        self.sources = list(answer.sources)
        self.draft_view.setHtml(render_answer(answer))
        if answer.status == "route_to_human" and answer.sources:
            self.show_source(answer.sources[0])  # the company's rule for this case
        self.draft_finished.emit(answer)


def _cite_links(text: str) -> str:
    return _CITE.sub(lambda m: f'<a href="cite:{m.group(1)}">[{m.group(1)}]</a>', text)


def render_answer(answer: Answer) -> str:
    """The answer as HTML: verdicts shown inline, citations as links to their sources."""
    if answer.status == "route_to_human":
        route = {k: html.escape(v) for k, v in answer.route.items()}
        return (
            '<div style="background-color:#fde2c8; padding:8px;">'
            f"<h3>Route to a person: {route['topic'].replace('_', ' ')}</h3>"
            "<p>Deskmate does not draft replies for this kind of case.</p>"
            f"<p><b>Why:</b> {route['reason']}</p>"
            f"<p><b>Company rule:</b> {route['rule']}</p>"
            f'<p><b>Handling article:</b> <a href="cite:1">[1] {route["title"]}</a></p></div>'
        )
    if answer.status == "no_source":
        nearest = "".join(f"<li>{html.escape(h.title)}</li>" for h in answer.nearest)
        return (
            f"<p><b>{html.escape(answer.draft)}</b></p>"
            f"<p>Nearest articles (not relevant enough to answer from):</p><ul>{nearest}</ul>"
        )
    parts = []
    if answer.notice:
        parts.append(f"<p><i>{html.escape(answer.notice)}</i></p>")
    if answer.mode == "extractive":
        parts.append("<p><i>Extractive draft: built from the sources' own sentences.</i></p>")
    spans = verify.sentence_spans(answer.draft)
    body = []
    if len(spans) == len(answer.sentences):
        cursor = 0
        for (start, end), sentence in zip(spans, answer.sentences, strict=True):
            body.append(html.escape(answer.draft[cursor:start]).replace("\n", "<br>"))
            style = VERDICT_STYLE.get(sentence.verdict, "")
            text = _cite_links(html.escape(answer.draft[start:end]))
            body.append(f'<span style="{style}">{text}</span>' if style else text)
            cursor = end
        body.append(html.escape(answer.draft[cursor:]).replace("\n", "<br>"))
    else:
        body.append(_cite_links(html.escape(answer.draft)).replace("\n", "<br>"))
    parts.append("<p>" + "".join(body) + "</p>")
    flagged = [s for s in answer.sentences if s.verdict != "supported"]
    if flagged:
        items = "".join(
            f"<li>{html.escape(s.text[:80])} — {html.escape(s.reason)}</li>" for s in flagged
        )
        heading = f"Check before sending ({len(flagged)} flagged):"
        parts.append(f"<p><b>{heading}</b></p><ul>{items}</ul>")
    sources = "".join(
        f'<li><a href="cite:{n}">[{n}]</a> {html.escape(h.title)}</li>'
        for n, h in enumerate(answer.sources, start=1)
    )
    parts.append(f"<p><b>Sources</b></p><ul>{sources}</ul>")
    return "".join(parts)
