"""The source pane: the selected passage's document, its details, and its original file."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget

from desktop.core import render
from desktop.core.context import original_roots
from desktop.core.errors import KnowledgeError, UserError
from desktop.core.knowledge.index import Hit, Pack
from desktop.gui.panes import SourcePane, plain_tip
from desktop.gui.parts.base import Part, Shell, Shortcut

ORIGINAL_MISSING = (
    "The original file is not available on this PC; the text shown is the pack's copy."
)
ORIGINAL_REFUSED = (
    "The pack names an original file outside its originals folder; Deskmate does not open it. "
    "The text shown is the pack's copy."
)


class SourcePart(Part):
    """Shows whatever hit a part asks for (:attr:`Shell.source_requested`), rendered, scrolled
    to the passage and highlighting it."""

    name = "source"
    area = "right"
    size = 420
    shortcuts = (
        Shortcut("Ctrl+2", "source", "focus"),
        Shortcut("Ctrl+Shift+D", "draft a reply from the article shown", "draft_from"),
    )
    source_shown = Signal(object)

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.pane = SourcePane()
        self.widget = self.pane
        self.current_hit: Hit | None = None
        self.original_path: Path | None = None
        self.pane.open_button.clicked.connect(self.open_original)
        self.pane.draft_from_button.clicked.connect(self.draft_from)
        self.pane.show_message("Source", "<p>Select a result to read its source here.</p>")
        shell.source_requested.connect(self.show_source)
        shell.packs_failed.connect(
            lambda exc: self.pane.show_message("No knowledge available", shell.problem_html(exc))
        )

    def focus_order(self) -> list[QWidget]:
        return [self.pane.view]

    def highlighted_text(self) -> str:
        return self.pane.highlighted_text()

    def show_source(self, hit: Hit) -> None:
        """Show *hit*'s document rendered, scrolled to the passage and highlighting it."""
        pack = self.shell.packs.get(hit.pack)
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
            self._show_unreadable(hit, missing)
            return
        except UserError as exc:
            self._show_unreadable(hit, exc)
            return
        self.current_hit = hit
        self.pane.draft_from_button.setEnabled(True)
        title = f"<b>{html.escape(hit.title)}</b> — {html.escape(hit.source)}"
        self.pane.title.setText(title)
        self.pane.meta.setText(render.source_details(pack, hit))
        self._show_original(hit.source, original_roots(pack))
        self._render(pack, hit, text)
        # Laid out and scrolled to the passage in the next turn of the event loop: for a long
        # document, setting the text and laying it out in one go held the window's thread for
        # 20 ms, and over 30 ms while the model decoded on every core.
        QTimer.singleShot(0, self, lambda: self._scroll_to_passage(hit))

    def draft_from(self) -> None:
        """Draft a reply that leads with the article shown (one action: no need to select it
        in the results first)."""
        if self.current_hit is None:
            self.shell.say("Select a result first: its article is what the draft starts from.")
            return
        self.shell.draft_from.emit(self.current_hit)

    def _show_unreadable(self, hit: Hit, exc: Exception) -> None:
        passage = f"<blockquote>{html.escape(hit.text)}</blockquote>"
        self.pane.show_message(hit.title, self.shell.problem_html(exc) + passage)

    def _render(self, pack: Pack, hit: Hit, text: str) -> None:
        shown = (hit.pack, hit.source, hit.start, hit.end)
        if shown == self.pane.rendered:  # the same passage again: nothing to redo
            return
        self.pane.rendered = shown
        self.pane.view.setHtml(
            render.document_html(
                text,
                pack.document_headings(hit.source),
                hit.start,
                hit.end,
                pack.document_pages(hit.source),
            )
        )

    def _scroll_to_passage(self, hit: Hit) -> None:
        if hit is not self.current_hit:
            return  # another result was selected meanwhile
        self.pane.view.scrollToAnchor(render.PASSAGE_ANCHOR)
        self.source_shown.emit(hit)

    def _show_original(self, source: str, roots: list[Path]) -> None:
        self.original_path = render.original_file(source, roots)
        button = self.pane.open_button
        button.setEnabled(self.original_path is not None)
        if self.original_path is not None:
            tip = str(self.original_path)
        elif render.original_refused(source, roots):
            tip = ORIGINAL_REFUSED
        else:
            tip = ORIGINAL_MISSING
        button.setToolTip(plain_tip(tip))

    def open_original(self) -> None:
        path = self.original_path
        if path is None:
            self.shell.say("The original file is not available on this PC.", 8000)
            return
        if path.resolve() != path:  # replaced by a symlink since it was shown: refuse
            self.shell.say(ORIGINAL_REFUSED, 10000)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.shell.say(
                f"No application on this PC opened {path.name}; the pack's copy "
                "is shown here. Ask IT for a viewer for this kind of file.",
                10000,
            )
