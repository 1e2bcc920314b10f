"""Where a speaker's turn starts and ends: a cheap energy detector on every frame.

The energy detector runs on every 0.1 s frame of every channel for the whole call (a 2-hour call
is 144,000 frames: it has to cost next to nothing). It only decides where turns start and end; a
turn that is loud but not speech (music on hold, a fan) is caught later, once per turn, by
Silero VAD in :mod:`.whisper` before any transcription.

A turn ends after :data:`HANGOVER_S` of quiet, or is cut at :data:`MAX_TURN_S` (Whisper reads 30 s
at a time), so a speaker's buffer never holds more than that: memory stays bounded however long
the call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from desktop.core.speech.audio import RATE, Frame, Samples

HANGOVER_S = 0.6  # quiet that ends a turn (espeak-ng pauses ~0.4 s between sentences)
MAX_TURN_S = 25.0
PRE_ROLL_S = 0.2  # kept from before the first loud frame: soft word onsets
MIN_TURN_S = 0.3  # a click or a cough is not a turn
FLOOR_DBFS = -45.0  # never voiced below this
SUB_S = 0.02


def rms_db(samples: Samples) -> float:
    """The loudest 20 ms of *samples*, in dB below full scale."""
    n = int(RATE * SUB_S)
    usable = len(samples) - len(samples) % n
    if usable == 0:
        return -120.0
    blocks = samples[:usable].reshape(-1, n)
    loudest = float(np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1)).max())
    return 20 * float(np.log10(max(loudest, 1e-6)))


@dataclass
class EnergyVad:
    """Voiced when a frame is well above the channel's noise floor and above FLOOR_DBFS."""

    margin_db: float = 12.0
    floor_db: float = -60.0  # the quiet level, followed slowly

    def voiced(self, samples: Samples) -> bool:
        level = rms_db(samples)
        loud = level > max(FLOOR_DBFS, self.floor_db + self.margin_db)
        if not loud:
            self.floor_db += 0.1 * (level - self.floor_db)  # follow the quiet
        return loud


@dataclass
class Turn:
    """One finished stretch of a speaker's audio, ready to transcribe."""

    speaker: str
    start: float
    end: float  # where the last loud frame ended, in call time
    samples: Samples
    cut: bool = False  # ended by MAX_TURN_S, not by quiet


@dataclass
class Segmenter:
    """One speaker's turns, frame by frame. ``push`` returns a finished :class:`Turn` or None;
    ``growing`` is the turn so far (for partial text)."""

    speaker: str
    vad: EnergyVad = field(default_factory=EnergyVad)
    hangover_s: float = HANGOVER_S
    max_turn_s: float = MAX_TURN_S
    _chunks: list[Samples] = field(default_factory=list)
    _before: deque[Samples] = field(default_factory=lambda: deque(maxlen=2))
    _start: float = 0.0
    _voiced_end: float = 0.0
    _quiet: float = 0.0
    _voiced_s: float = 0.0
    loud: bool = False  # the last frame pushed was loud

    @property
    def in_turn(self) -> bool:
        return bool(self._chunks)

    @property
    def buffered_s(self) -> float:
        return sum(len(c) for c in self._chunks) / RATE

    def growing(self) -> Samples:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def push(self, frame: Frame) -> Turn | None:
        loud = self.loud = self.vad.voiced(frame.samples)
        if not self._chunks:
            if not loud:
                self._before.append(frame.samples)
                return None
            self._chunks = list(self._before)
            self._start = frame.start - sum(len(c) for c in self._before) / RATE
            self._before.clear()
            self._quiet = self._voiced_s = 0.0
        self._chunks.append(frame.samples)
        duration = len(frame.samples) / RATE
        if loud:
            self._voiced_end, self._quiet = frame.end, 0.0
            self._voiced_s += duration
        else:
            self._quiet += duration
        if self._quiet >= self.hangover_s:
            return self.finish()
        if self.buffered_s >= self.max_turn_s:
            return self.finish(cut=True)
        return None

    def finish(self, cut: bool = False) -> Turn | None:
        """End the turn now (quiet, too long, or the end of the call)."""
        if not self._chunks:
            return None
        samples = self.growing()
        voiced = self._voiced_s
        self._chunks = []
        if voiced < MIN_TURN_S:
            return None
        return Turn(self.speaker, self._start, self._voiced_end, samples, cut)
