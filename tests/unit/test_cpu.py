"""Physical-core counting per OS (issue 16): llama.cpp gets one thread per physical core on
Windows and macOS too, not one per logical processor."""

from __future__ import annotations

import struct

import pytest

from desktop.core.generation import cpu
from desktop.core.generation.engine import physical_cores


def core_record(smt: bool = True, group: int = 0, mask: int = 0b11) -> bytes:
    """A SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX of RelationProcessorCore, as Windows x64 lays it
    out: header (Relationship, Size), PROCESSOR_RELATIONSHIP (Flags, EfficiencyClass, 20 reserved
    bytes, GroupCount) and one GROUP_AFFINITY (Mask, Group, 3 reserved WORDs): 48 bytes."""
    body = struct.pack("<BB20xH", 1 if smt else 0, 0, 1) + struct.pack("<QH6x", mask, group)
    return struct.pack("<II", cpu.RELATION_PROCESSOR_CORE, 8 + len(body)) + body


def other_record(relationship: int, size: int) -> bytes:
    return struct.pack("<II", relationship, size) + bytes(size - 8)


def test_windows_counts_core_records_not_logical_processors() -> None:
    # 8 cores with 2 threads each, across two processor groups, plus a cache and a package record
    buffer = b"".join(core_record(group=i // 4, mask=0b11 << (2 * (i % 4))) for i in range(8))
    buffer += other_record(2, 56) + other_record(3, 48)
    assert len(core_record()) == 48
    assert cpu.windows_cores(buffer) == 8
    assert physical_cores("win32", windows=lambda: buffer, logical=lambda: 16) == 8


@pytest.mark.parametrize(
    "buffer",
    [
        core_record()[:20],  # truncated record
        struct.pack("<II", 0, 0) + bytes(40),  # size 0 would loop forever
        struct.pack("<II", 0, 4096) + bytes(40),  # size beyond the buffer
    ],
)
def test_a_malformed_windows_buffer_falls_back_to_logical_processors(buffer: bytes) -> None:
    with pytest.raises(ValueError, match="record"):
        cpu.windows_cores(buffer)
    assert physical_cores("win32", windows=lambda: buffer, logical=lambda: 6) == 6


def test_a_failing_windows_call_falls_back_to_logical_processors() -> None:
    def fails() -> bytes:
        raise OSError("GetLogicalProcessorInformationEx failed (error 87)")

    assert physical_cores("win32", windows=fails, logical=lambda: 12) == 12


def test_macos_reads_hw_physicalcpu() -> None:
    assert physical_cores("darwin", sysctl=lambda: "10\n", logical=lambda: 12) == 10
    assert physical_cores("darwin", sysctl=lambda: "", logical=lambda: 12) == 12


def test_linux_counts_distinct_cores_of_each_package() -> None:
    text = "".join(
        f"processor\t: {n}\nphysical id\t: {n // 4}\ncore id\t\t: {(n % 4) // 2}\n\n"
        for n in range(8)
    )  # two packages, two cores each, two threads per core
    assert physical_cores("linux", cpuinfo=lambda: text, logical=lambda: 8) == 4
    assert physical_cores("linux", cpuinfo=lambda: "processor\t: 0\n", logical=lambda: 3) == 3
    assert physical_cores("linux", cpuinfo=lambda: "", logical=lambda: None) == 1
