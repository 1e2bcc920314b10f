"""Run work off the UI thread and report back through Qt signals.

One small helper instead of ad-hoc QThread subclasses: :func:`run_op` runs a function on the
shared thread pool and calls ``on_done(result)`` or ``on_error(exception)`` on the UI thread. When
the function returns a generator, each item it yields is delivered to ``on_event`` as it comes,
which is how a draft streams. Errors never raise on a foreign thread.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Signals(QObject):
    event = Signal(object)  # type: ignore[assignment]  # shadows QObject.event on purpose
    done = Signal(object)
    failed = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, func: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.func = func
        self.signals = signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.func()
            if inspect.isgenerator(result):
                last = None
                for item in result:
                    last = item
                    self.signals.event.emit(item)
                result = last
            self.signals.done.emit(result)
        except Exception as exc:  # reported to the UI thread, never raised here
            log.debug("background operation failed", exc_info=True)
            self.signals.failed.emit(exc)


class Ops(QObject):
    """Owns the thread pool and keeps each operation's signal object alive until it ends."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        # Model load or a draft, a typed search and a listen search can all run at once.
        self.pool.setMaxThreadCount(4)
        self._live: set[_Signals] = set()

    def run(
        self,
        func: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_event: Callable[[Any], None] | None = None,
    ) -> None:
        signals = _Signals(self)
        self._live.add(signals)
        if on_event is not None:
            signals.event.connect(on_event)
        signals.done.connect(on_done)
        signals.failed.connect(on_error)
        signals.done.connect(lambda _=None: self._live.discard(signals))
        signals.failed.connect(lambda _=None: self._live.discard(signals))
        self.pool.start(_Runnable(func, signals))

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
