"""Search as you type: the search box, the pack and category filters, and the results."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QWidget

from desktop.core.assist import Answer
from desktop.core.knowledge.index import Hit, Pack
from desktop.core.knowledge.search import categories
from desktop.gui.panes import KeyFilter, SearchPane, column
from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.parts.lane import SearchLane

EMPTY = "Results appear here as you type."
LOADING = "Knowledge is still loading… your search runs as soon as it is ready."


class SearchPart(Part):
    """The typed search: results follow the box and the filters, the selected one is shown in
    the source pane, and Enter in the box drafts a reply."""

    name = "search"
    area = "left"
    size = 430
    shortcuts = (
        Shortcut("Ctrl+K", "focus the search box", "focus"),
        Shortcut("Ctrl+L", "focus the search box", "focus"),
        Shortcut("Ctrl+1", "results", "focus_results"),
    )
    results_shown = Signal(list)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.pane = SearchPane()
        self.widget, _ = column(self.pane.status, self.pane.results)
        self.tools = [self.pane.box, self.pane.pack_filter, self.pane.category_filter]
        self.lane = SearchLane(shell, self._show_results, self.pane.status.setText)
        self._pinned_query = ""  # the source pane shows a draft's source for this search text
        self._choosing = False  # the part itself selects the first result: not the agent
        self._filling = False  # the list is being refilled: its current row moves on its own
        self._debounce = QTimer(self, singleShot=True)
        self._debounce.timeout.connect(self.search)
        pane = self.pane
        pane.box.textChanged.connect(self._on_typed)
        pane.pack_filter.currentIndexChanged.connect(self._on_pack_filter)
        pane.category_filter.currentIndexChanged.connect(lambda _: self.search())
        self._box_enter = KeyFilter(lambda: shell.draft_requested.emit("reply"))
        pane.box.installEventFilter(self._box_enter)
        pane.results.currentRowChanged.connect(self._on_selected)
        pane.results.activated_row.connect(lambda _: shell.focus_requested.emit("source"))
        pane.results.show_message(EMPTY)
        shell.starting.connect(lambda: pane.status.setText("Opening the knowledge packs…"))
        shell.packs_opened.connect(self._on_packs_opened)
        shell.packs_failed.connect(
            lambda _: pane.status.setText("Search is unavailable: see the guidance on the right.")
        )
        shell.answer_shown.connect(self._on_answer_shown)

    def focus_order(self) -> list[QWidget]:
        return [self.pane.box, self.pane.results]

    def focus(self) -> None:
        self.pane.box.setFocus()
        self.pane.box.selectAll()

    def focus_results(self) -> None:
        self.pane.results.setFocus()

    def _on_typed(self, text: str) -> None:
        self.shell.query = text
        self.shell.question_typed(text)
        self.shell.selected = None  # a pick among the old results does not steer the new search
        self._debounce.start(int(self.shell.context.settings.get("ui.search_delay_ms")))

    def _on_packs_opened(self, packs: list[Pack]) -> None:
        self.pane.set_filters([(p.id, p.title) for p in packs], categories(packs))
        self.pane.status.setText("")
        self.search()

    def _on_pack_filter(self) -> None:
        self.shell.pack_filter = str(self.pane.pack_filter.currentData() or "")
        self.shell.selected = None
        self.search()
        self.shell.pack_filter_changed.emit()

    def search(self) -> None:
        """Search for what the box holds, within the filters."""
        query = self.pane.box.text().strip()
        if not query:
            self.lane.cancel()
            self.pane.results.show_message(EMPTY)
            return
        if query != self.lane.shown:
            self.shell.searching.emit(query)
        if self.shell.knowledge_loading:
            self.pane.results.show_message(LOADING)
        pack_id = str(self.pane.pack_filter.currentData() or "")
        category = str(self.pane.category_filter.currentData() or "")
        self.lane.request(query, pack_id, category)

    def _show_results(self, query: str, hits: list[Hit]) -> None:
        self.lane.hits = hits
        self.shell.context.audit.search(query, hits, "window")
        results = self.pane.results
        # Clearing the list moves its current row (from a result the agent chose) onto the
        # new hits: that is neither a source the agent opened nor one to show.
        self._filling = True
        try:
            results.show_hits(hits, query, self.shell.pack_titles())
        finally:
            self._filling = False
        if hits:
            self.pane.status.setText(f"{len(hits)} results")
            # A finished draft for this same text chose what the source pane shows (for a
            # sensitive case, the company's rule): results arriving later must not replace it.
            if query != self._pinned_query:
                self._choosing = True
                try:
                    results.setCurrentRow(0)
                finally:
                    self._choosing = False
        else:
            self.pane.status.setText("")
            results.show_message("No approved source matches this search.")
        self.results_shown.emit(hits)

    def _on_selected(self, row: int) -> None:
        if 0 <= row < len(self.lane.hits) and not self._filling:
            hit = self.lane.hits[row]
            if not self._choosing:
                self.shell.source_opened(hit, "result")
            self.shell.selected = None if self._choosing else hit
            self.shell.source_requested.emit(hit)

    def _on_answer_shown(self, answer: Answer) -> None:
        if answer.sources and answer.sources[0].pack in self.shell.packs:
            self._pinned_query = self.pane.box.text().strip()
