"""A pack added to or removed from the packs folder is served without a restart."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QTimer

from desktop.gui.parts.base import Part, Shell

log = logging.getLogger(__name__)
Signature = tuple[tuple[str, int, int, int], ...]


class PacksWatchPart(Part):
    """Watches the packs folder; once it has stopped changing, reopens the packs.

    A pack copied in by hand arrives file by file, so one change only starts a look: the
    folder's contents (names, file counts, sizes, times; read on a worker) are compared with
    the previous look *SETTLE_MS* later, and the packs are reopened when they are stable and
    differ from what is served. Policy still decides what is served
    (``knowledge.allow_user_packs``).
    """

    name = "packs_watch"
    SETTLE_MS = 1500

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._changed)
        self.settle = QTimer(self, singleShot=True)
        self.settle.setInterval(self.SETTLE_MS)
        self.settle.timeout.connect(self._look)
        self.served: Signature | None = None  # what the folder held when the packs were opened
        self._seen: Signature | None = None  # at the previous look
        self._looking = False
        self._closing = False
        shell.packs_opened.connect(self._on_opened)
        shell.packs_failed.connect(self._on_opened)

    def closing(self) -> None:
        self._closing = True
        self.settle.stop()

    def _on_opened(self, _: Any) -> None:
        context = self.shell.context
        if context.pack_dirs_given:
            return  # packs named on the command line: nothing to watch
        root = context.paths.data / "packs"
        root.mkdir(parents=True, exist_ok=True)
        if str(root) not in self.watcher.directories():
            self.watcher.addPath(str(root))
        self.shell.ops.run(context.packs_on_disk, self._set_served, lambda _: None)

    def _set_served(self, signature: Signature | None) -> None:
        self.served = self._seen = signature

    def _changed(self, _: str) -> None:
        if not self._closing:
            self.settle.start()

    def _look(self) -> None:
        if self._looking or self._closing:
            return
        self._looking = True
        self.shell.ops.run(self.shell.context.packs_on_disk, self._looked, self._look_failed)

    def _look_failed(self, exc: Exception) -> None:
        self._looking = False
        log.warning("could not read the packs folder: %s", exc)

    def _looked(self, signature: Signature | None) -> None:
        self._looking = False
        if self._closing or signature is None:
            return
        if signature != self._seen:  # still changing (a copy in progress): look again later
            self._seen = signature
            self.settle.start()
            return
        if signature == self.served:
            return
        before = {row[0] for row in self.served or ()}
        after = {row[0] for row in signature}
        added, removed = sorted(after - before), sorted(before - after)
        self.served = signature
        words = []
        if added:
            words.append("added: " + ", ".join(added))
        if removed:
            words.append("removed: " + ", ".join(removed))
        what = "; ".join(words) or "changed"
        self.shell.say(f"Knowledge packs {what}. Reopening the knowledge…", 8000)
        self.shell.context.reload_packs()
        self.shell.start()
