"""Live capture devices to one call stream: the agent's microphone and the call's playback (the
customer), each in whatever format its device gives, become the 16 kHz stereo PCM (agent left,
customer right) a :class:`~.audio.StreamSource` reads from a :class:`~.audio.PushStream`.

Qt-free: the window's capture (desktop/gui/parts/capture.py) hands each device's bytes to
:meth:`Mixer.feed` from the ``QAudioSource`` callback; tests hand it bytes directly. Devices
deliver at their own pace: when one is ahead of the other by more than :data:`MAX_SKEW_S`
(a playback monitor that stays quiet while nothing plays), the missing side is filled with
silence, so neither speaker waits for the other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop.core.errors import AudioError
from desktop.core.speech.audio import (
    AGENT,
    CUSTOMER,
    RATE,
    PushStream,
    Samples,
    StreamSource,
    check_rate,
)

MAX_SKEW_S = 0.5
# Sample formats a capture device may give (Qt's QAudioFormat.SampleFormat names, lower-cased).
FORMATS = {"uint8": ("u1", 128.0, 128.0), "int16": ("<i2", 0.0, 32768.0)}
FORMATS |= {"int32": ("<i4", 0.0, 2147483648.0), "float": ("<f4", 0.0, 1.0)}


@dataclass(frozen=True)
class DeviceFormat:
    """What a device delivers: *rate* Hz, *channels* interleaved, samples of *sample* (a key of
    :data:`FORMATS`)."""

    rate: int
    channels: int
    sample: str

    def check(self, device: str) -> None:
        if self.sample not in FORMATS or not 1 <= self.channels <= 32:
            raise AudioError(
                f"{device} records in a form Deskmate cannot read ({self.channels} channels of "
                f"{self.sample or 'unknown'} samples).",
                "Pick another device in Settings, or set this one to 16-bit, 16 or 48 kHz in "
                "your system's sound settings.",
            )
        check_rate(self.rate, device)


class Converter:
    """One device's raw bytes to 16 kHz mono float, chunk by chunk (a partial sample frame is
    kept for the next chunk)."""

    def __init__(self, form: DeviceFormat) -> None:
        self.form = form
        self.dtype, self.offset, self.scale = FORMATS[form.sample]
        self.width = np.dtype(self.dtype).itemsize * form.channels
        self._carry = b""
        self._resampler: Any = None
        if form.rate != RATE:
            import av

            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)

    def push(self, data: bytes) -> Samples:
        data = self._carry + data
        whole = len(data) - len(data) % self.width
        data, self._carry = data[:whole], data[whole:]
        raw = np.frombuffer(data, dtype=self.dtype).astype(np.float32)
        scaled = (raw - self.offset) / self.scale
        mono: Samples = scaled.reshape(-1, self.form.channels).mean(axis=1, dtype=np.float32)
        if self._resampler is None or not len(mono):
            return mono
        return self._resample(mono)

    def _resample(self, mono: Samples) -> Samples:
        import av

        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.form.rate
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not out:
            return np.zeros(0, np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


class Mixer:
    """The agent's and (when there is one) the customer's device into one :class:`PushStream`:
    stereo agent/customer, or the agent alone when the call's playback cannot be captured."""

    def __init__(self, agent: DeviceFormat, customer: DeviceFormat | None = None) -> None:
        self.speakers = (AGENT, CUSTOMER) if customer is not None else (AGENT,)
        self.stream = PushStream(RATE, len(self.speakers))
        self._converters = {AGENT: Converter(agent)}
        if customer is not None:
            self._converters[CUSTOMER] = Converter(customer)
        self._pending = {s: np.zeros(0, np.float32) for s in self.speakers}
        self._lock = threading.Lock()

    def source(self) -> StreamSource:
        return StreamSource(self.stream, RATE, len(self.speakers), self.speakers)

    def feed(self, speaker: str, data: bytes) -> None:
        """Bytes just captured from *speaker*'s device."""
        samples = self._converters[speaker].push(data)
        with self._lock:
            self._pending[speaker] = np.concatenate([self._pending[speaker], samples])
            self._flush()

    def _flush(self) -> None:
        sizes = [len(self._pending[s]) for s in self.speakers]
        ready = min(sizes)
        if max(sizes) - ready > MAX_SKEW_S * RATE:
            ready = max(sizes) - int(MAX_SKEW_S * RATE)  # the quiet side gets silence
        if ready <= 0:
            return
        columns = []
        for speaker in self.speakers:
            have = self._pending[speaker]
            part = have[:ready]
            columns.append(np.pad(part, (0, ready - len(part))))
            self._pending[speaker] = have[ready:]
        block = np.clip(np.stack(columns, axis=1), -1.0, 1.0)
        self.stream.write((block * 32767).astype("<i2").tobytes())

    def close(self) -> None:
        """No more audio: the reader finishes what it has and stops."""
        self.stream.close()
