"""How many physical CPU cores this machine has: llama.cpp's decode speed scales with physical
cores, and running one thread per SMT sibling oversubscribes them (slower, not faster).

One reader per OS, each behind an injectable function so that every path is tested anywhere:
Linux ``/proc/cpuinfo``, Windows ``GetLogicalProcessorInformationEx(RelationProcessorCore)``,
macOS ``sysctl hw.physicalcpu``. Whatever cannot be read falls back to the logical count.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Callable

RELATION_PROCESSOR_CORE = 0
ERROR_INSUFFICIENT_BUFFER = 122
_HEADER = struct.Struct("<II")  # SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX: Relationship, Size


def linux_cores(cpuinfo: str) -> int:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo text; 0 when it names none."""
    cores = set()
    physical = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            cores.add((physical, value.strip()))
    return len(cores)


def windows_cores(buffer: bytes) -> int:
    """Processor-core records in a GetLogicalProcessorInformationEx buffer (one per physical
    core, across every processor group); ValueError for a malformed buffer."""
    count, offset = 0, 0
    while offset < len(buffer):
        if offset + _HEADER.size > len(buffer):
            raise ValueError(f"a truncated record at byte {offset}")
        relationship, size = _HEADER.unpack_from(buffer, offset)
        if size < _HEADER.size or offset + size > len(buffer):
            raise ValueError(f"a record of impossible size {size} at byte {offset}")
        count += relationship == RELATION_PROCESSOR_CORE
        offset += size
    return count


def windows_buffer() -> bytes:  # pragma: no cover - Windows only
    """The RelationProcessorCore records of this machine, from kernel32."""
    import ctypes

    kernel32 = getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009
    length = ctypes.c_uint32(0)
    kernel32.GetLogicalProcessorInformationEx(RELATION_PROCESSOR_CORE, None, ctypes.byref(length))
    error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
    if error != ERROR_INSUFFICIENT_BUFFER or not length.value:
        raise OSError(f"GetLogicalProcessorInformationEx failed (error {error})")
    buffer = ctypes.create_string_buffer(length.value)
    if not kernel32.GetLogicalProcessorInformationEx(
        RELATION_PROCESSOR_CORE, buffer, ctypes.byref(length)
    ):
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        raise OSError(f"GetLogicalProcessorInformationEx failed (error {error})")
    return buffer.raw[: length.value]


def sysctl_physicalcpu() -> str:  # pragma: no cover - macOS only
    return subprocess.run(
        ["/usr/sbin/sysctl", "-n", "hw.physicalcpu"],
        capture_output=True,
        text=True,
        check=True,
        timeout=5,
    ).stdout


def _proc_cpuinfo() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        return handle.read()


def physical_cores(
    platform: str = sys.platform,
    *,
    windows: Callable[[], bytes] = windows_buffer,
    sysctl: Callable[[], str] = sysctl_physicalcpu,
    cpuinfo: Callable[[], str] = _proc_cpuinfo,
    logical: Callable[[], int | None] = os.cpu_count,
) -> int:
    """Physical cores of this machine, else the logical count (at least 1)."""
    try:
        if platform == "win32":
            found = windows_cores(windows())
        elif platform == "darwin":
            found = int(sysctl().strip())
        else:
            found = linux_cores(cpuinfo())
    except (OSError, ValueError, subprocess.SubprocessError):
        found = 0
    return found if found > 0 else max(1, logical() or 1)
