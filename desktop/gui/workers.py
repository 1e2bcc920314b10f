"""Run work off the UI thread and report back through Qt signals.

One small helper instead of ad-hoc QThread subclasses: :func:`run_op` runs a function on the
shared thread pool and calls ``on_done(result)`` or ``on_error(exception)`` on the UI thread. When
the function returns a generator, each item it yields is delivered to ``on_event`` as it comes,
which is how a draft streams. Errors never raise on a foreign thread.
"""

from __future__ import annotations

import inspect
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop.core import priority
from desktop.core.errors import UserError

log = logging.getLogger(__name__)


class _Signals(QObject):
    event = Signal(object)  # type: ignore[assignment]  # shadows QObject.event on purpose
    done = Signal(object)
    failed = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, func: Callable[[], Any], signals: _Signals, low_priority: bool) -> None:
        super().__init__()
        self.func = func
        self.signals = signals
        self.low_priority = low_priority
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            if self.low_priority:
                priority.lower_current_thread()
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


def report_if_bug(exc: Exception) -> None:
    """An operation that failed with anything but a :class:`UserError` met a bug: it goes to the
    bug tier (``sys.excepthook``: the log, ``last-crash.json`` and the window's dialog) as well
    as to the part that ran it, which shows the problem where it happened and keeps working."""
    if not isinstance(exc, UserError):
        sys.excepthook(type(exc), exc, exc.__traceback__)


class Ops(QObject):
    """Owns the thread pools and keeps each operation's signal object alive until it ends.

    Two lanes: ``pool`` for packs, searches and sync, and ``model_pool``, one thread for loading
    the model and drafting, run below normal priority when *low_priority_model* (see
    :mod:`desktop.core.priority`), so that a decoding model does not take the CPU from the window.
    """

    def __init__(self, parent: QObject | None = None, low_priority_model: bool = True) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        # Packs, a typed search, a listen search and a sync can all run at once.
        self.pool.setMaxThreadCount(4)
        self.model_pool = QThreadPool(self)
        self.model_pool.setMaxThreadCount(1)  # drafts never overlap: the window waits for Done
        self.low_priority_model = low_priority_model
        self._live: set[_Signals] = set()

    def run(
        self,
        func: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None],
        on_event: Callable[[Any], None] | None = None,
        *,
        model: bool = False,
    ) -> None:
        signals = _Signals(self)
        self._live.add(signals)
        if on_event is not None:
            signals.event.connect(on_event)
        signals.done.connect(on_done)
        signals.failed.connect(on_error)
        signals.failed.connect(report_if_bug)
        signals.done.connect(lambda _=None: self._live.discard(signals))
        signals.failed.connect(lambda _=None: self._live.discard(signals))
        if model:
            self.model_pool.start(_Runnable(func, signals, self.low_priority_model))
        else:
            self.pool.start(_Runnable(func, signals, low_priority=False))

    def wait(self, msecs: int = -1) -> bool:
        started = time.monotonic()
        if not self.model_pool.waitForDone(msecs):
            return False
        left = -1 if msecs < 0 else max(0, msecs - int((time.monotonic() - started) * 1000))
        return self.pool.waitForDone(left)
