"""Run the model's work below the priority of the window.

On a PC with few cores, llama.cpp keeps every core busy while it decodes. At equal priority the
window's thread then waits its turn behind the model's threads, and now and then it missed a
frame (a tick 50 ms late on 2 cores). Lowering the priority of the thread that drives the model
costs the model nothing when the PC is otherwise idle, and gives the window, and the agent's other
applications, the CPU first when they need it.

The window runs model work this way unless the ``model.low_priority`` setting is off.
Measured with Qwen2.5-1.5B on 2 cores: the window's longest stall while drafts streamed fell
from 40 to 28 ms, at the same decode speed; with SmolLM2-135M decode was ~10% slower.

Linux: the thread's nice value (threads the model creates from it, such as llama.cpp's OpenMP
team, inherit it). Windows: ``THREAD_PRIORITY_BELOW_NORMAL`` for the calling thread. Elsewhere:
nothing. Lowering is one-way for unprivileged users, so only call this on a thread that does
nothing but model work.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

NICE_STEP = 5  # a nice-5 thread gets about a third of the CPU share of a nice-0 one
_BELOW_NORMAL = -1


def lower_current_thread() -> bool:
    """Lower this thread's scheduling priority one step below the process's; True if it did."""
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + NICE_STEP)
            if os.getpriority(os.PRIO_PROCESS, tid) < target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
            return True
        if sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _BELOW_NORMAL))
    except OSError:
        log.debug("could not lower the thread's priority", exc_info=True)
    return False


def thread_nice() -> int:
    """This thread's nice value on Linux (for tests and diagnostics); 0 elsewhere."""
    if sys.platform.startswith("linux"):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return 0
