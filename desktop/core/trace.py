"""Start-up trace: when each start-up moment happened, counted from process start.

Set ``DESKMATE_TRACE_STARTUP=FILE`` and each moment (the window shown, the knowledge ready, the
first search result, the model ready, and the steps between) appends one line
``EVENT SECONDS CPU`` to FILE, SECONDS being the time since the process started and CPU the CPU
seconds the process (all its threads) had used by then. Nothing else is written: no query, no
text, no path. Unset, :func:`mark` is one environment lookup. ``benchmarks/startup.py`` reads
these lines.

Process start is ``DESKMATE_TRACE_T0`` (a ``time.time()`` the launcher took just before starting
the process) when set, else the kernel's start time of this process (Linux, 10 ms resolution),
else the moment this module was first imported.
"""

from __future__ import annotations

import os
import time

TRACE_ENV = "DESKMATE_TRACE_STARTUP"
T0_ENV = "DESKMATE_TRACE_T0"
_IMPORTED = time.time()
_marked: set[str] = set()


def process_start() -> float:
    """The wall-clock time (``time.time()``) this process started, as well as it is known."""
    given = os.environ.get(T0_ENV)
    if given:
        try:
            return float(given)
        except ValueError:
            pass
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # Field 22, counted after the command name (which may hold spaces) ends with ")".
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return time.time() - up + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED


def enabled() -> bool:
    """True when this process writes a start-up trace."""
    return bool(os.environ.get(TRACE_ENV))


def mark(event: str, once: bool = True) -> None:
    """Append ``EVENT SECONDS-SINCE-PROCESS-START`` to the trace file, if tracing is on.

    With *once*, only the first mark of *event* in this process is written. A trace file that
    cannot be written is ignored: tracing never breaks the app.
    """
    path = os.environ.get(TRACE_ENV)
    if not path or (once and event in _marked):
        return
    _marked.add(event)
    elapsed = time.time() - process_start()
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{event} {elapsed:.4f} {time.process_time():.4f}\n")
    except OSError:
        pass


def read(path: str | os.PathLike[str], column: int = 1) -> dict[str, float]:
    """The first time of each event in a trace file (*column* 2: the CPU seconds by then)."""
    events: dict[str, float] = {}
    with open(path, encoding="utf-8") as trace:
        for line in trace:
            fields = line.split()
            if len(fields) > column:
                events.setdefault(fields[0], float(fields[column]))
    return events
