"""The agent's window: search as you type, read the source, draft, and listen to the conversation.

Thin by design: every search, draft and model load goes through :class:`~desktop.gui.workers.Ops`
to a worker thread, and the window only turns core results into widgets. Nothing heavy is
imported here, so the window appears before the embedding model, LanceDB or llama.cpp load.
"""

from __future__ import annotations

import gc
import html
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QPushButton, QSplitter, QWidget

from desktop import APP_NAME
from desktop.core import feedback, listen, render
from desktop.core.assist import Answer, Assistant, Done, Error, Replaced, Sources, Token, Verdict
from desktop.core.context import DEMO_PACK_ID, AppContext, demo_source_dir
from desktop.core.errors import KnowledgeError, UserError
from desktop.core.knowledge.index import Hit, Pack
from desktop.core.knowledge.search import one_per_article
from desktop.gui.panes import (
    DraftPane,
    KeyFilter,
    ListenPane,
    SearchPane,
    SourcePane,
    column,
    plain_label,
    plain_tip,
    row_of,
)
from desktop.gui.window_extras import WindowExtras, warning_color
from desktop.gui.workers import Ops

log = logging.getLogger(__name__)
WELCOME = (
    "<h3>Welcome to Deskmate</h3><p>Type in the search box: results appear as you type. "
    "Press <b>Enter</b> (or <b>Ctrl+Enter</b>) to draft a cited reply, or paste the "
    "conversation into <b>Listen</b> for suggestions.</p>"
)
ORIGINAL_MISSING = (
    "The original file is not available on this PC; the text shown is the pack's copy."
)
ORIGINAL_REFUSED = (
    "The pack names an original file outside its originals folder; Deskmate does not open it. "
    "The text shown is the pack's copy."
)
EXTRACTIVE = (
    "Until then, drafts are built from the approved sources' own sentences (extractive mode); "
    "search, sources and checks work as usual."
)
SHORTCUTS = (
    ("Ctrl+K", "focus the search box", "focus_search"),
    ("Ctrl+L", "focus the search box", "focus_search"),
    ("Ctrl+Return", "draft (the selected task)", "draft_task"),
    ("Ctrl+D", "focus the draft", "focus_draft"),
    ("Esc", "stop the draft", "stop"),
    ("Ctrl+Shift+C", "copy the draft", "copy_draft"),
    ("Ctrl+R", "regenerate", "regenerate"),
    ("Ctrl+1", "results", "focus_results"),
    ("Ctrl+2", "source", "focus_source"),
    ("Ctrl+3", "draft", "focus_draft"),
    ("Ctrl+4", "listen", "focus_listen"),
    ("F6", "next pane", "next_pane"),
    ("Ctrl+Shift+W", "wrap-up note from the conversation", "wrapup"),
    ("Ctrl+,", "settings", "open_settings"),
    ("Ctrl+Shift+Y", "sync knowledge packs now", "sync_now"),
)


def _freeze_startup_objects() -> None:
    """Move what start-up created out of the collector's sight, and collect normally again."""
    gc.freeze()
    gc.enable()


@dataclass
class _Lane:
    """One kind of search (typed or listened) with at most one run in flight at a time."""

    running: bool = False
    pending: tuple[str, str, str] | None = None
    shown: str = ""
    hits: list[Hit] = field(default_factory=list)


class MainWindow(WindowExtras, QMainWindow):
    """Search, source, draft and listen panes over the installed knowledge packs."""

    ready = Signal()
    results_shown = Signal(list)
    suggestions_shown = Signal(list)
    source_shown = Signal(object)
    draft_finished = Signal(object)
    model_state = Signal(str)
    failed = Signal(str)

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.assistant = Assistant(context)
        self.ops = Ops(self, bool(context.settings.get("model.low_priority")))
        self.packs: dict[str, Pack] = {}
        self.sources: list[Hit] = []
        self.answer: Answer | None = None
        self.current_hit: Hit | None = None
        self.original_path: Path | None = None
        self.knowledge_ready = False
        self._problem: UserError | None = None
        self._stop: threading.Event | None = None
        self._busy = False
        self._last_request: tuple[str, str, str] | None = None
        self._streamed = ""
        self._banner = ""
        self._verdicts: dict[int, Any] = {}
        self._watching = False
        self._pinned_query = ""  # the source pane shows a draft's source for this search text
        self._typed = _Lane()
        self._listened = _Lane()
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 820)
        self._build()
        self._restore_layout()

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.search = SearchPane()
        self.source = SourcePane()
        self.draft = DraftPane()
        self.listen = ListenPane()
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.clicked.connect(self.open_settings)
        top = QWidget()
        top_row = row_of(
            self.search.box,
            self.search.pack_filter,
            self.search.category_filter,
            self.settings_button,
        )
        top_row.setStretch(0, 1)
        top_row.setContentsMargins(6, 6, 6, 0)
        top.setLayout(top_row)
        left = QSplitter(Qt.Orientation.Vertical)
        results_box, _ = column(self.search.status, self.search.results)
        left.addWidget(results_box)
        left.addWidget(self.listen)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.source)
        right.addWidget(self.draft)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([430, 850])
        left.setSizes([430, 330])
        right.setSizes([420, 340])
        self.splitters = {"main": self.splitter, "left": left, "right": right}
        for splitter in self.splitters.values():
            splitter.setChildrenCollapsible(False)
        central, layout = column(top, self.splitter)
        layout.setStretch(1, 1)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._connect()
        self.draft.view.setHtml(WELCOME)
        self.search.results.show_message("Results appear here as you type.")
        self.source.show_message("Source", "<p>Select a result to read its source here.</p>")

    def _build_status_bar(self) -> None:
        # Plain text: pack titles and versions, model names and sync messages come from files.
        self.model_label = plain_label("Model: starting…")
        self.model_label.setAccessibleName("Model state")
        self.packs_label = plain_label("Knowledge: opening…")
        self.packs_label.setAccessibleName("Installed packs")
        self.sync_label = plain_label()
        self.sync_label.setAccessibleName("Knowledge sync")
        self.sync_label.setVisible(False)
        self.offline_label = QLabel("● Offline: nothing leaves this PC")
        self.offline_label.setAccessibleName("Offline indicator")
        self.offline_label.setToolTip(
            "Search, drafting and checking all run on this PC; no text is sent anywhere."
        )
        for label in (self.model_label, self.packs_label, self.sync_label):
            self.statusBar().addWidget(label)
        self.statusBar().addPermanentWidget(self.offline_label)

    def _connect(self) -> None:
        self._debounce = QTimer(self, singleShot=True)
        self._debounce.timeout.connect(self._search_typed)
        self._listen_debounce = QTimer(self, singleShot=True)
        self._listen_debounce.setInterval(600)
        self._listen_debounce.timeout.connect(self._search_listened)
        s = self.search
        s.box.textChanged.connect(lambda _: self._debounce.start(self._search_delay()))
        s.pack_filter.currentIndexChanged.connect(lambda _: self._search_typed())
        s.category_filter.currentIndexChanged.connect(lambda _: self._search_typed())
        self._box_enter = KeyFilter(self.draft_reply)
        s.box.installEventFilter(self._box_enter)
        s.results.currentRowChanged.connect(self._on_result_selected)
        s.results.activated_row.connect(lambda _: self.source.view.setFocus())
        self.listen.suggestions.currentRowChanged.connect(self._on_suggestion_selected)
        self.listen.conversation.textChanged.connect(lambda: self._listen_debounce.start())
        self.listen.wrapup_button.clicked.connect(self.wrapup)
        self.listen.follow_clipboard.toggled.connect(self._on_follow_toggled)
        self.source.open_button.clicked.connect(self.open_original)
        d = self.draft
        d.draft_button.clicked.connect(self.draft_task)
        d.stop_button.clicked.connect(self.stop)
        d.regenerate_button.clicked.connect(self.regenerate)
        d.copy_button.clicked.connect(self.copy_draft)
        d.thumbs_up.clicked.connect(lambda: self.rate("up"))
        d.thumbs_down.clicked.connect(lambda: self.rate("down"))
        d.view.anchorClicked.connect(self._on_citation)
        d.with_sources.setChecked(bool(self.context.settings.get("ui.copy_with_sources")))
        for keys, _, action in SHORTCUTS:
            QShortcut(QKeySequence(keys), self, getattr(self, action))
        self._apply_clipboard_policy()

    def _search_delay(self) -> int:
        return int(self.context.settings.get("ui.search_delay_ms"))

    def _set_model_state(self, text: str, tip: str = "") -> None:
        self.model_label.setText(f"Model: {text}")
        self.model_label.setToolTip(plain_tip(tip))
        self.model_state.emit(text)

    # --- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the knowledge packs (building the demo pack on first run), then load the model."""
        self.packs_label.setText("Knowledge: preparing…")
        self.search.status.setText("Opening the knowledge packs…")
        # Importing torch, transformers and LanceDB on the worker creates millions of objects,
        # and each full garbage collection they trigger holds the interpreter lock for up to
        # 0.3 s, freezing the window. Collection waits until they are loaded; then they are
        # frozen (never scanned again), which also keeps later collections short.
        gc.disable()
        self.ops.run(self._prepare, self._on_prepared, self._on_prepare_failed)

    def _prepare(self) -> list[Pack]:
        self.context.ensure_demo_pack()
        packs = self.context.packs()
        self.context.embedder.embed(["warm up"])
        return packs

    def _on_prepared(self, packs: list[Pack]) -> None:
        _freeze_startup_objects()
        self.packs = {pack.id: pack for pack in packs}
        self.knowledge_ready = True
        self._show_pack_problems()
        categories = sorted(
            {
                str(meta.get("category"))
                for pack in packs
                for _, meta in pack.documents_meta()
                if meta.get("category")
            }
        )
        self.search.set_filters([(p.id, p.title) for p in packs], categories)
        self.search.status.setText("")
        self.ready.emit()
        self._search_typed()
        self._search_listened()
        self._load_model()
        self.refresh_sync_status()
        self.start_sync_schedule()
        # Ready the sensitive-topic check now, so the first draft does not wait for it.
        self.ops.run(self.context.sensitive_detector, lambda _: None, self._show_problem)

    def _show_pack_problems(self) -> None:
        """The packs in service in the status bar, and any left out (damaged, half installed)
        named there, with what to do in the tooltip."""
        problems = self.context.pack_problems()
        text = "Knowledge: " + ", ".join(
            f"{p.title} v{p.version}" for p in self.packs.values() if p.damage is None
        )
        if problems:
            text += " · not searched: " + ", ".join(problem.pack for problem in problems)
        self.packs_label.setText(text)
        self.packs_label.setToolTip(
            plain_tip("\n".join(f"{p.pack}: {p.message} {p.fix}" for p in problems))
        )
        self.packs_label.setStyleSheet(
            f"color: {warning_color(self.palette())}" if problems else ""
        )

    def _on_prepare_failed(self, exc: Exception) -> None:
        _freeze_startup_objects()
        self.packs_label.setText("Knowledge: unavailable")
        self.search.status.setText("Search is unavailable: see the guidance on the right.")
        self.source.show_message("No knowledge available", self._problem_html(exc))
        self._show_problem(exc)
        self._load_model()
        self.refresh_sync_status()
        self.start_sync_schedule()  # on a new PC the first pack may be the one sync brings

    def _load_model(self) -> None:
        self._set_model_state("loading…")
        self.ops.run(
            self.context.load_model, self._on_model_loaded, self._on_model_failed, model=True
        )

    def _on_model_loaded(self, engine: Any) -> None:
        if engine is not None:
            self._set_model_state(f"{engine.info.name} ready")
            return
        self._set_model_state("none — extractive mode", EXTRACTIVE)
        if self.context.settings.get("generation.enabled"):
            why = (
                "<p><b>No language model is installed.</b> Set <i>Model file</i> in Settings "
                "(model.path) to a .gguf file, or reinstall Deskmate with its default model.</p>"
            )
        else:
            where = (
                "your IT department"
                if self.context.settings.is_locked("generation.enabled")
                else "Settings"
            )
            why = f"<p><b>Drafting with a model is turned off</b> (by {where}).</p>"
        if self.answer is None and not self._busy and self.knowledge_ready:
            self.draft.view.setHtml(WELCOME + why + f"<p>{EXTRACTIVE}</p>")

    def _on_model_failed(self, exc: Exception) -> None:
        self._set_model_state("unavailable — extractive mode", str(exc))
        self._show_problem(exc)
        self.draft.view.append(EXTRACTIVE)

    # --- search as you type -----------------------------------------------------------------

    def _filters(self) -> tuple[str, str]:
        return (
            str(self.search.pack_filter.currentData() or ""),
            str(self.search.category_filter.currentData() or ""),
        )

    def _search_typed(self) -> None:
        query = self.search.box.text().strip()
        if not query:
            self._typed.pending = None
            self._typed.hits = []
            self.search.results.show_message("Results appear here as you type.")
            return
        self._run_search(self._typed, (query, *self._filters()), self._show_results)

    def _search_listened(self) -> None:
        need = listen.customer_need(self.listen.conversation.toPlainText())
        if need.empty:
            self.listen.suggestions.clear()
            self.listen.need.setText("Suggestions appear as the conversation changes.")
            return
        self.listen.need.setText(f"<b>Customer needs:</b> {html.escape(need.query[:160])}")
        self._run_search(self._listened, (need.query, "", ""), self._show_suggestions)

    def _run_search(
        self,
        lane: _Lane,
        request: tuple[str, str, str],
        show: Callable[[str, list[Hit]], None],
    ) -> None:
        if not self.knowledge_ready or lane.running:
            lane.pending = request  # run when the packs are open / the current search ends
            return
        lane.running = True
        lane.pending = None

        def done(result: tuple[str, list[Hit]]) -> None:
            lane.running = False
            self._show_pack_problems()  # a search may have found a pack damaged
            if lane.pending is None:  # only the latest request's results are shown
                show(*result)
            else:
                self._run_search(lane, lane.pending, show)

        def failed(exc: Exception) -> None:
            lane.running = False
            self.search.status.setText(self._problem_text(exc))
            if lane.pending is not None:
                self._run_search(lane, lane.pending, show)

        self.ops.run(lambda: self._search_job(*request), done, failed)

    def _search_job(self, query: str, pack_id: str, category: str) -> tuple[str, list[Hit]]:
        from desktop.core.knowledge.search import SearchOptions, search

        settings = self.context.settings
        packs = [p for p in self.packs.values() if not pack_id or p.id == pack_id]
        options = SearchOptions(
            limit=int(settings.get("search.limit")),
            min_score=float(settings.get("search.min_score")),
            categories=(category,) if category else (),
        )
        return query, search(packs, self.context.embedder, query, options)

    def _show_results(self, query: str, hits: list[Hit]) -> None:
        self._typed.hits = hits
        self._typed.shown = query
        self.search.results.show_hits(hits, query, {k: p.title for k, p in self.packs.items()})
        if hits:
            self.search.status.setText(f"{len(hits)} results")
            # A finished draft for this same text chose what the source pane shows (for a
            # sensitive case, the company's rule): results arriving later must not replace it.
            if query != self._pinned_query:
                self.search.results.setCurrentRow(0)
        else:
            self.search.status.setText("")
            self.search.results.show_message("No approved source matches this search.")
        self.results_shown.emit(hits)

    def _show_suggestions(self, query: str, hits: list[Hit]) -> None:
        hits = one_per_article(hits, 5)  # the agent wants to know what to read
        self._listened.hits = hits
        self._listened.shown = query
        titles = {k: p.title for k, p in self.packs.items()}
        self.listen.suggestions.show_hits(hits, query, titles)
        if not hits:
            self.listen.suggestions.show_message("No approved article matches yet.")
        self.suggestions_shown.emit(hits)

    def _on_result_selected(self, row: int) -> None:
        if 0 <= row < len(self._typed.hits):
            self.show_source(self._typed.hits[row])

    def _on_suggestion_selected(self, row: int) -> None:
        if 0 <= row < len(self._listened.hits):
            self.show_source(self._listened.hits[row])

    # --- the source pane --------------------------------------------------------------------

    def show_source(self, hit: Hit) -> None:
        """Show *hit*'s document rendered, scrolled to the passage and highlighting it."""
        pack = self.packs.get(hit.pack)
        if pack is None:
            return
        try:
            text = pack.document_text(hit.source)
        except OSError as exc:
            missing = KnowledgeError(
                f"The pack {pack.title!r} has no readable copy of {hit.source} ({exc}).",
                "The passage is shown below; rebuild or reinstall the pack to restore the "
                "document.",
            )
            self.source.show_message(hit.title, self._problem_html(missing) + _passage(hit))
            return
        except UserError as exc:
            self.source.show_message(hit.title, self._problem_html(exc) + _passage(hit))
            return
        self.current_hit = hit
        self.source.title.setText(f"<b>{html.escape(hit.title)}</b> — {html.escape(hit.source)}")
        meta = pack.document_meta(hit.source)
        details = [f"Pack: {pack.title} v{pack.version}"]
        if meta.get("updated"):
            details.append(f"last updated {meta['updated']}")
        if hit.category:
            details.append(f"category {hit.category}")
        if hit.page:
            details.append(f"page {hit.page}")
        self.source.meta.setText(" · ".join(details))
        self._show_original(hit.source, self._original_roots(pack))
        shown = (hit.pack, hit.source, hit.start, hit.end)
        if shown != self.source.rendered:  # the same passage again: nothing to redo
            self.source.rendered = shown
            self.source.view.setHtml(
                render.document_html(
                    text,
                    pack.document_headings(hit.source),
                    hit.start,
                    hit.end,
                    pack.document_pages(hit.source),
                )
            )
        # Laid out and scrolled to the passage in the next turn of the event loop: for a long
        # document, setting the text and laying it out in one go held the window's thread for
        # 20 ms, and over 30 ms while the model decoded on every core.
        QTimer.singleShot(0, self, lambda: self._scroll_to_passage(hit))

    def _scroll_to_passage(self, hit: Hit) -> None:
        if hit is not self.current_hit:
            return  # another result was selected meanwhile
        self.source.view.scrollToAnchor(render.PASSAGE_ANCHOR)
        self.source_shown.emit(hit)

    def _original_roots(self, pack: Pack) -> list[Path]:
        roots = [pack.path / "originals"]
        if pack.id == DEMO_PACK_ID:
            roots.append(demo_source_dir())
        return roots

    def _show_original(self, source: str, roots: list[Path]) -> None:
        self.original_path = render.original_file(source, roots)
        self.source.open_button.setEnabled(self.original_path is not None)
        if self.original_path is not None:
            tip = str(self.original_path)
        elif render.original_refused(source, roots):
            tip = ORIGINAL_REFUSED
        else:
            tip = ORIGINAL_MISSING
        self.source.open_button.setToolTip(plain_tip(tip))

    def open_original(self) -> None:
        path = self.original_path
        if path is None:
            self.statusBar().showMessage("The original file is not available on this PC.", 8000)
            return
        if path.resolve() != path:  # replaced by a symlink since it was shown: refuse
            self.statusBar().showMessage(ORIGINAL_REFUSED, 10000)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.statusBar().showMessage(
                f"No application on this PC opened {path.name}; the pack's copy "
                "is shown here. Ask IT for a viewer for this kind of file.",
                10000,
            )

    def highlighted_text(self) -> str:
        return self.source.highlighted_text()

    def _on_citation(self, url: QUrl) -> None:
        if url.scheme() != "cite":
            return
        number = int(url.path() or url.toString().split(":", 1)[1])
        if 1 <= number <= len(self.sources):
            self.show_source(self.sources[number - 1])

    # --- drafting ---------------------------------------------------------------------------

    def draft_reply(self) -> None:
        self.draft.task.setCurrentIndex(self.draft.task.findData("reply"))
        self.draft_task()

    def wrapup(self) -> None:
        self.draft.task.setCurrentIndex(self.draft.task.findData("wrapup"))
        self.draft_task()

    def draft_task(self) -> None:
        """Run the task chosen in the draft pane on the text it applies to."""
        task = str(self.draft.task.currentData())
        if task == "wrapup":
            text = self.listen.conversation.toPlainText()
            missing = "Paste the conversation into the Listen panel first."
        elif task == "rewrite":
            done = self.answer
            text = done.draft if done and done.status == "answered" else self.search.box.text()
            missing = "Write or draft a reply first: Rewrite works on the current draft."
        else:
            text = self.search.box.text()
            if not text.strip():
                text = listen.customer_need(self.listen.conversation.toPlainText()).query
            missing = "Type the customer's question in the search box first."
        if not text.strip():
            self.draft.view.setHtml(f"<p><b>Nothing to draft from.</b> {missing}</p>")
            return
        self._start_ask((text, task, str(self.draft.tone.currentData())))

    def regenerate(self) -> None:
        if self._last_request is not None:
            self._start_ask(self._last_request)

    def _start_ask(self, request: tuple[str, str, str]) -> None:
        if self._busy:
            self.statusBar().showMessage(
                "A draft is still being written: press Stop (Esc) first, or wait for it.", 5000
            )
            return
        self._busy = True
        self._last_request = request
        self._stop = threading.Event()
        self._streamed = ""
        self._verdicts = {}
        self._banner = ""
        self.answer = None
        self.sources = []
        self.draft.set_running(True)
        self.draft.view.clear()
        text, task, tone = request
        stop = self._stop
        self.ops.run(
            lambda: self._ask_job(text, task, tone, stop),
            self._on_ask_done,
            self._on_ask_failed,
            self._on_ask_event,
            model=True,
        )

    def _ask_job(self, text: str, task: str, tone: str, stop: threading.Event) -> Iterator[Any]:
        yield from self.assistant.ask(text, stop=stop, task=task, tone=tone)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _on_ask_event(self, event: Any) -> None:
        if isinstance(event, Sources):
            self.sources = list(event.hits)
        elif isinstance(event, Token):
            self._streamed += event.text
            self.draft.append(event.text)
        elif isinstance(event, Verdict):
            self._verdicts[event.index] = event.sentence
            self._render_streamed()
        elif isinstance(event, (Error, Replaced)):
            # The model's text so far is discarded; say why, and the fallback draft follows.
            why = event.reason if isinstance(event, Replaced) else f"{event.message} {event.fix}"
            self._banner = f"<p><i>{html.escape(why)} Building an extractive draft…</i></p>"
            self._streamed, self._verdicts = "", {}
            self._render_streamed()
        elif isinstance(event, Done):
            self._show_answer(event.answer)

    def _render_streamed(self) -> None:
        judged = [self._verdicts.get(i) for i in range(max(self._verdicts, default=-1) + 1)]
        body = render.draft_html(self._streamed, judged) if self._streamed else ""
        self.draft.view.setHtml(self._banner + body)
        self.draft.append("")  # the cursor back at the end, where the next token goes

    def _on_ask_done(self, _: Any) -> None:
        self._finish()
        if self.answer is not None:
            # Only now: the window takes the next request once it says this one is finished.
            self.draft_finished.emit(self.answer)

    def _on_ask_failed(self, exc: Exception) -> None:
        self._finish()
        self._show_problem(exc)

    def _finish(self) -> None:
        self._busy = False
        self.draft.set_running(False)
        self.draft.regenerate_button.setEnabled(self._last_request is not None)

    def _show_answer(self, answer: Answer) -> None:
        self.answer = answer
        self.sources = list(answer.sources)
        self.draft.view.setHtml(render.answer_html(answer))
        drafted = answer.status == "answered" and bool(answer.draft.strip())
        self.draft.copy_button.setEnabled(drafted)
        self.draft.thumbs_up.setEnabled(True)
        self.draft.thumbs_down.setEnabled(True)
        if answer.sources and answer.sources[0].pack in self.packs:
            # The first source; for a sensitive case, the company's rule.
            self.show_source(answer.sources[0])
            self._pinned_query = self.search.box.text().strip()

    def copy_draft(self) -> None:
        answer = self.answer
        if answer is None or answer.status != "answered" or not answer.draft.strip():
            self.statusBar().showMessage("There is no draft to copy.", 5000)
            return
        text = render.copy_text(answer, self.draft.with_sources.isChecked())
        QApplication.clipboard().setText(text)
        self.statusBar().showMessage("Draft copied as plain text.", 5000)

    def rate(self, rating: str) -> None:
        if self.answer is None:
            return
        try:
            versions = {pack_id: pack.version for pack_id, pack in self.packs.items()}
            feedback.record(self.context.paths.data, self.answer, rating, versions)
        except UserError as exc:
            self.statusBar().showMessage(str(exc), 10000)
            return
        self.draft.thumbs_up.setEnabled(False)
        self.draft.thumbs_down.setEnabled(False)
        self.statusBar().showMessage("Thanks: your feedback is saved on this PC.", 5000)

    # --- problems ---------------------------------------------------------------------------

    def _problem_text(self, exc: Exception) -> str:
        if isinstance(exc, UserError):
            return str(exc)
        return f"Something went wrong: {exc}"

    def _problem_html(self, exc: Exception) -> str:
        if isinstance(exc, UserError):
            return f"<p><b>{html.escape(exc.message)}</b></p><p>{html.escape(exc.fix)}</p>"
        log.error("unexpected error", exc_info=exc)
        return (
            f"<p><b>Something went wrong:</b> {html.escape(str(exc))}</p>"
            "<p>Try again; if it keeps happening, run <code>deskmate doctor</code>.</p>"
        )

    def _show_problem(self, exc: Exception) -> None:
        self.draft.view.setHtml(self._problem_html(exc))
        self.failed.emit(str(exc))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        changed = (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange)
        if event.type() in changed and getattr(self, "sync_label", None) is not None:
            self.apply_theme_colors()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.stop()
        self._watch_clipboard(False)
        super().closeEvent(event)


def _passage(hit: Hit) -> str:
    return f"<blockquote>{html.escape(hit.text)}</blockquote>"
