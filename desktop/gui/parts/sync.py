"""Knowledge sync in the window: its state in the status bar, the schedule, and "Sync now"."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.core.errors import UserError
from desktop.gui.panes import plain_label
from desktop.gui.parts.base import Part, Shell, Shortcut
from desktop.gui.parts.status import warning_color


class SyncPart(Part):
    """Syncs the knowledge packs when due (policy's ``sync.interval_minutes``, checked every
    minute once the packs were opened or found missing) and on "Sync now"; a sync that
    installed or retired a pack reopens the packs."""

    name = "sync"
    shortcuts = (Shortcut("Ctrl+Shift+Y", "sync knowledge packs now", "sync_now"),)
    CHECK_MS = 60_000

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        # Plain text: sync messages name packs and folders.
        self.label = plain_label()
        self.label.setAccessibleName("Knowledge sync")
        self.label.setVisible(False)
        self.status = [self.label]
        self.timer: QTimer | None = None
        self.syncing = False
        self._requested = False  # "Sync now" while a check was running: sync after it
        self._warning = False
        shell.packs_opened.connect(self._on_knowledge)
        shell.packs_failed.connect(self._on_knowledge)
        shell.theme_changed.connect(self.apply_theme_colors)

    def _on_knowledge(self, _: Any) -> None:
        self.refresh_status()
        self.start_schedule()  # on a new PC the first pack may be the one sync brings

    # --- the status bar ---------------------------------------------------------------------

    def set_status(self, text: str, warning: bool = False) -> None:
        """Show the knowledge-sync state (last sync, staleness) in the status bar."""
        self.label.setVisible(bool(text))
        self.label.setText(("⚠ " if warning else "") + text)
        self._warning = warning
        self.apply_theme_colors()

    def apply_theme_colors(self) -> None:
        """A warning colour that stays readable in the light and the dark theme; applied again
        whenever the palette changes (the OS switched between light and dark)."""
        self.label.setStyleSheet(
            f"color:{warning_color(QApplication.palette())}; font-weight:bold;"
            if self._warning
            else ""
        )

    def refresh_status(self) -> None:
        """Read the pack-sync state on a worker and show it (hidden when sync is off)."""
        paths, settings = self.shell.context.paths, self.shell.context.settings

        def read() -> Any:
            from desktop.core.sync.state import sync_status  # imported off the UI thread

            return sync_status(paths, settings)

        self.shell.ops.run(read, self._on_status, self._on_status_error)

    def _on_status(self, status: Any) -> None:
        if status.warning:
            self.set_status(status.warning, warning=True)
        elif status.enabled and status.last_success is not None:
            self.set_status(f"Knowledge synced {status.last_success:%Y-%m-%d %H:%M}")
        else:
            self.set_status("")

    def _on_status_error(self, exc: Exception) -> None:
        self.set_status(f"Knowledge sync state unreadable: {exc}", warning=True)

    # --- syncing ----------------------------------------------------------------------------

    def start_schedule(self) -> None:
        """Sync when due: checked now and every minute."""
        if self.timer is None:
            self.timer = QTimer(self)
            self.timer.setInterval(self.CHECK_MS)
            self.timer.timeout.connect(self.sync_if_due)
            self.timer.start()
        self.sync_if_due()

    def sync_if_due(self) -> None:
        self._run(force=False)

    def sync_now(self) -> None:
        """Sync the knowledge packs now (the window's "Sync now")."""
        self._run(force=True)

    def _run(self, force: bool) -> None:
        if self.syncing:
            self._requested = self._requested or force
            return
        context = self.shell.context

        def work() -> Any:
            from desktop.core.sync.state import sync_status

            status = sync_status(context.paths, context.settings)
            if not (force or (status.enabled and status.due)):
                return None
            # Imported only when a sync runs: at start it would compete with the first search.
            from desktop.core.sync.client import run_sync

            return run_sync(context.paths, context.settings, context.embedder)

        self.syncing = True
        if force:
            self.set_status("Syncing knowledge packs…")
        self.shell.ops.run(work, self._on_synced, self._on_failed)

    def _after(self) -> None:
        self.syncing = False
        if self._requested:
            self._requested = False
            self.sync_now()

    def _on_synced(self, report: Any) -> None:
        self._after()
        if report is None:
            return
        if report.error:
            self.set_status(f"Knowledge sync failed: {report.error}", warning=True)
        else:
            self.refresh_status()
        if any(t.status in ("installed", "retired") for t in report.targets):
            self.shell.start()  # reopen the packs: new versions, filters and status bar

    def _on_failed(self, exc: Exception) -> None:
        self._after()
        message = exc.message if isinstance(exc, UserError) else str(exc)
        self.set_status(f"Knowledge sync: {message}", warning=True)
