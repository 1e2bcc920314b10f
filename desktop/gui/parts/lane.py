"""One kind of search (typed or listened) with at most one run in flight at a time."""

from __future__ import annotations

from collections.abc import Callable

from desktop.core import render
from desktop.core.knowledge.index import Hit
from desktop.gui.parts.base import Shell

Request = tuple[str, str, str]  # query, pack id ("" for all), category ("" for all)


class SearchLane:
    """Runs searches on a worker one at a time: a request made while one runs waits, and only
    the latest request's results are handed to *show*; a failure goes to *failed* as text."""

    def __init__(
        self,
        shell: Shell,
        show: Callable[[str, list[Hit]], None],
        failed: Callable[[str], None],
    ) -> None:
        self.shell = shell
        self.show = show
        self.failed = failed
        self.running = False
        self.pending: Request | None = None
        self.hits: list[Hit] = []
        self.shown = ""  # the query whose results were shown last

    def request(self, query: str, pack_id: str = "", category: str = "") -> None:
        if not self.shell.knowledge_ready or self.running:
            # Run when the packs are open / the current search ends.
            self.pending = (query, pack_id, category)
            return
        self.running = True
        self.pending = None
        self.shell.ops.run(
            lambda: self._job(query, pack_id, category), self._on_done, self._on_failed
        )

    def cancel(self) -> None:
        """Nothing to search for: forget the waiting request and the hits."""
        self.pending = None
        self.hits = []

    def _job(self, query: str, pack_id: str, category: str) -> tuple[str, list[Hit]]:
        packs = [p for p in self.shell.packs.values() if not pack_id or p.id == pack_id]
        categories = (category,) if category else ()
        return query, self.shell.assistant.search(query, categories=categories, packs=packs)

    def _on_done(self, result: tuple[str, list[Hit]]) -> None:
        self.running = False
        self.shell.searched.emit()
        if self.pending is None:  # only the latest request's results are shown
            self.shown = result[0]
            self.show(*result)
        else:
            self.request(*self.pending)

    def _on_failed(self, exc: Exception) -> None:
        self.running = False
        self.failed(render.problem_text(exc))
        if self.pending is not None:
            self.request(*self.pending)
