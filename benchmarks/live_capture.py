"""What live capture costs the window: the capture's readyRead slot (desktop/gui/parts/capture.py
Capture.read -> core Mixer.feed) runs on the UI thread for every chunk a device delivers. This
feeds a minute of two devices' audio, in the chunk sizes capture devices deliver (10 ms and
40 ms), through that slot from QBuffers, and reports the time per call (the stall it can cause)
and the share of one core it takes.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/live_capture.py
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
from common import write_result

SECONDS = 60
FORMATS = {
    "48 kHz float stereo + 44.1 kHz 16-bit stereo": ((48_000, 2, "float"), (44_100, 2, "int16")),
    "16 kHz 16-bit mono x2 (no resampling)": ((16_000, 1, "int16"), (16_000, 1, "int16")),
}


class _Device:
    def __init__(self, name: str) -> None:
        self.name = name

    def description(self) -> str:
        return self.name


def _bytes(rate: int, channels: int, sample: str, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 300 * t)
    frames = np.repeat(wave, channels)
    if sample == "float":
        return frames.astype("<f4").tobytes()
    return (frames * 32767).astype("<i2").tobytes()


def run(
    agent: tuple[int, int, str], customer: tuple[int, int, str], chunk_s: float
) -> dict[str, Any]:
    from PySide6.QtCore import QBuffer, QIODevice

    from desktop.core.speech.capture import DeviceFormat, Mixer
    from desktop.gui.parts.capture import Capture

    forms = {"agent": agent, "customer": customer}
    mixer = Mixer(DeviceFormat(*agent), DeviceFormat(*customer))
    capture = Capture(mixer, {s: _Device(s) for s in forms})
    data = {s: _bytes(*f, SECONDS) for s, f in forms.items()}
    step = {s: int(f[0] * chunk_s) * f[1] * (4 if f[2] == "float" else 2) for s, f in forms.items()}
    times: list[float] = []
    cpu0 = time.process_time()
    for at in range(int(SECONDS / chunk_s)):
        for speaker in forms:
            buffer = QBuffer()
            buffer.setData(data[speaker][at * step[speaker] : (at + 1) * step[speaker]])
            buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            began = time.perf_counter()
            capture.read(speaker, buffer)
            times.append((time.perf_counter() - began) * 1000)
        waiting = mixer.stream._buffered  # the listening thread's side: take what is there
        if waiting:
            mixer.stream.read(waiting)
    cpu = time.process_time() - cpu0
    capture.stop()
    return {
        "chunk_ms": round(chunk_s * 1000),
        "calls": len(times),
        "median_ms": round(statistics.median(times), 3),
        "p99_ms": round(sorted(times)[int(len(times) * 0.99)], 3),
        "max_ms": round(max(times), 3),
        "cpu_share_of_one_core": round(cpu / SECONDS, 4),
    }


def main() -> None:
    import os

    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    rows = []
    for name, (agent, customer) in FORMATS.items():
        for chunk_s in (0.01, 0.04):
            rows.append({"devices": name, **run(agent, customer, chunk_s)})
    load = os.getloadavg()[0]
    table = "\n".join(
        [
            f"# Live capture on the UI thread ({SECONDS} s of two devices; load average "
            f"{load:.1f})",
            "",
            "| devices | chunk | median ms | p99 ms | max ms | share of one core |",
            "| --- | --- | --- | --- | --- | --- |",
            *(
                f"| {r['devices']} | {r['chunk_ms']} ms | {r['median_ms']} | {r['p99_ms']} | "
                f"{r['max_ms']} | {r['cpu_share_of_one_core']:.1%} |"
                for r in rows
            ),
        ]
    )
    write_result("live_capture", {"seconds": SECONDS, "load": load, "rows": rows}, table)


if __name__ == "__main__":
    main()
