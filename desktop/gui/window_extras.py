"""The window's supporting parts: sync status, clipboard following, settings, focus and layout.

A mixin of :class:`~desktop.gui.main_window.MainWindow`, kept apart so that the main module holds
the search, source and draft flow only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QSplitter, QStatusBar, QWidget

from desktop.core.errors import UserError
from desktop.gui.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.gui.panes import DraftPane, ListenPane, SearchPane, SourcePane
    from desktop.gui.workers import Ops


def warning_color(palette: QPalette) -> str:
    """A red that reads on the palette's window colour: dark on light, light on dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return "#ff8a80" if dark else "#b00020"


class WindowExtras:
    """Status-bar sync state, clipboard following, settings dialog, pane focus, saved layout."""

    context: AppContext
    ops: Ops
    search: SearchPane
    source: SourcePane
    draft: DraftPane
    listen: ListenPane
    sync_label: QLabel
    splitters: dict[str, QSplitter]
    _watching: bool
    _sync_timer: QTimer | None = None
    _syncing: bool = False
    _sync_requested: bool = False  # "Sync now" while a check was running: sync after it
    SYNC_CHECK_MS = 60_000

    if TYPE_CHECKING:

        def start(self) -> None: ...
        def statusBar(self) -> QStatusBar: ...
        def saveGeometry(self) -> Any: ...
        def restoreGeometry(self, geometry: Any) -> bool: ...

    # --- status bar -------------------------------------------------------------------------

    _sync_warning: bool = False

    def set_sync_status(self, text: str, warning: bool = False) -> None:
        """Show the knowledge-sync state (last sync, staleness) in the status bar."""
        self.sync_label.setVisible(bool(text))
        self.sync_label.setText(("⚠ " if warning else "") + text)
        self._sync_warning = warning
        self.apply_theme_colors()

    def apply_theme_colors(self) -> None:
        """Colours of our own that must stay readable in the light and the dark theme; called
        again whenever the palette changes (the OS switched between light and dark)."""
        self.sync_label.setStyleSheet(
            f"color:{warning_color(QApplication.palette())}; font-weight:bold;"
            if self._sync_warning
            else ""
        )

    def refresh_sync_status(self) -> None:
        """Read the pack-sync state on a worker and show it (hidden when sync is off)."""
        paths, settings = self.context.paths, self.context.settings

        def read() -> Any:
            from desktop.core.sync.state import sync_status  # imported off the UI thread

            return sync_status(paths, settings)

        self.ops.run(read, self._on_sync_status, self._on_sync_error)

    def _on_sync_status(self, status: Any) -> None:
        if status.warning:
            self.set_sync_status(status.warning, warning=True)
        elif status.enabled and status.last_success is not None:
            self.set_sync_status(f"Knowledge synced {status.last_success:%Y-%m-%d %H:%M}")
        else:
            self.set_sync_status("")

    def _on_sync_error(self, exc: Exception) -> None:
        self.set_sync_status(f"Knowledge sync state unreadable: {exc}", warning=True)

    # --- pack sync --------------------------------------------------------------------------

    def start_sync_schedule(self) -> None:
        """Sync when due (policy's ``sync.interval_minutes``): checked now and every minute."""
        if self._sync_timer is None:
            self._sync_timer = QTimer(cast(QWidget, self))
            self._sync_timer.setInterval(self.SYNC_CHECK_MS)
            self._sync_timer.timeout.connect(self.sync_if_due)
            self._sync_timer.start()
        self.sync_if_due()

    def sync_if_due(self) -> None:
        self._run_sync(force=False)

    def sync_now(self) -> None:
        """Sync the knowledge packs now (the window's "Sync now")."""
        self._run_sync(force=True)

    def _run_sync(self, force: bool) -> None:
        if self._syncing:
            self._sync_requested = self._sync_requested or force
            return
        context = self.context

        def work() -> Any:
            from desktop.core.sync.client import run_sync
            from desktop.core.sync.state import sync_status

            status = sync_status(context.paths, context.settings)
            if not (force or (status.enabled and status.due)):
                return None
            return run_sync(context.paths, context.settings, context.embedder)

        self._syncing = True
        if force:
            self.set_sync_status("Syncing knowledge packs…")
        self.ops.run(work, self._on_synced, self._on_sync_failed)

    def _after_sync(self) -> None:
        self._syncing = False
        if self._sync_requested:
            self._sync_requested = False
            self.sync_now()

    def _on_synced(self, report: Any) -> None:
        self._after_sync()
        if report is None:
            return
        if report.error:
            self.set_sync_status(f"Knowledge sync failed: {report.error}", warning=True)
        else:
            self.refresh_sync_status()
        if any(t.status in ("installed", "retired") for t in report.targets):
            self.start()  # reopen the packs: new versions, filters and status bar

    def _on_sync_failed(self, exc: Exception) -> None:
        self._after_sync()
        message = exc.message if isinstance(exc, UserError) else str(exc)
        self.set_sync_status(f"Knowledge sync: {message}", warning=True)

    # --- clipboard following ----------------------------------------------------------------

    def _apply_clipboard_policy(self) -> None:
        """The checkbox shows the setting; policy can lock it (on or off)."""
        settings = self.context.settings
        box = self.listen.follow_clipboard
        box.blockSignals(True)
        box.setChecked(bool(settings.get("listen.follow_clipboard")))
        box.blockSignals(False)
        locked = settings.is_locked("listen.follow_clipboard")
        box.setEnabled(not locked)
        box.setToolTip(
            "Set by your IT department"
            if locked
            else "Use text copied to the clipboard as the conversation"
        )
        self._watch_clipboard(box.isChecked())

    def _on_follow_toggled(self, on: bool) -> None:
        try:
            self.context.settings.set("listen.follow_clipboard", on)
            self.context.settings.save()
        except UserError as exc:
            self.statusBar().showMessage(str(exc), 10000)
        self._apply_clipboard_policy()

    def _watch_clipboard(self, on: bool) -> None:
        clipboard = QApplication.clipboard()
        if on == self._watching:
            return
        self._watching = on
        if on:
            clipboard.dataChanged.connect(self._on_clipboard)
        else:
            clipboard.dataChanged.disconnect(self._on_clipboard)

    def _on_clipboard(self) -> None:
        text = QApplication.clipboard().text().strip()
        if text and text != self.listen.conversation.toPlainText().strip():
            self.listen.conversation.setPlainText(text)

    # --- settings, panes and layout ---------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.context.settings, cast(QWidget, self))
        dialog.accepted.connect(self._settings_changed)
        dialog.open()
        return dialog

    def _settings_changed(self) -> None:
        self._apply_clipboard_policy()
        self.draft.with_sources.setChecked(bool(self.context.settings.get("ui.copy_with_sources")))
        apply_font_scale(float(self.context.settings.get("ui.font_scale")))
        self.statusBar().showMessage("Settings saved.", 5000)

    def focus_search(self) -> None:
        self.search.box.setFocus()
        self.search.box.selectAll()

    def focus_results(self) -> None:
        self.search.results.setFocus()

    def focus_source(self) -> None:
        self.source.view.setFocus()

    def focus_draft(self) -> None:
        self.draft.view.setFocus()

    def focus_listen(self) -> None:
        self.listen.conversation.setFocus()

    def next_pane(self) -> None:
        panes = [self.search.box, self.search.results, self.source.view, self.draft.view]
        panes.append(self.listen.conversation)
        focused = QApplication.focusWidget()
        index = panes.index(focused) if focused in panes else -1
        panes[(index + 1) % len(panes)].setFocus()

    def _layout_store(self) -> QSettings:
        path = self.context.paths.config / "window.ini"
        return QSettings(str(path), QSettings.Format.IniFormat)

    def _restore_layout(self) -> None:
        store = self._layout_store()
        geometry = store.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        for name, splitter in self.splitters.items():
            state = store.value(f"splitter/{name}")
            if state is not None:
                splitter.restoreState(state)

    def save_layout(self) -> None:
        store = self._layout_store()
        store.setValue("geometry", self.saveGeometry())
        for name, splitter in self.splitters.items():
            store.setValue(f"splitter/{name}", splitter.saveState())
        store.sync()


_BASE_POINT_SIZE: list[float] = []


def apply_font_scale(scale: float) -> None:
    """Scale the application font from the system's own size (so it follows the OS too)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    font = app.font()
    if not _BASE_POINT_SIZE:
        _BASE_POINT_SIZE.append(font.pointSizeF())
    if _BASE_POINT_SIZE[0] > 0:
        font.setPointSizeF(_BASE_POINT_SIZE[0] * scale)
        app.setFont(font)
