"""Call audio in: 16 kHz mono float frames, one speaker each, from a file or a raw PCM stream.

Every source has the same shape (:class:`AudioSource`): ``frames()`` yields :class:`Frame` s of
about 0.1 s, in time order, each carrying one speaker's samples. A two-channel recording is the
agent (left) and the customer (right); two mono files are the same pair; one mono file is one
speaker. A softphone that exposes its audio, or a microphone capture (a Qt Multimedia
``QAudioSource`` writing into a :class:`PushStream`), is a :class:`StreamSource` over raw 16-bit
PCM. Nothing here writes audio anywhere: frames live until the transcriber has used them.

Files are decoded with PyAV (libav, already needed by faster-whisper) a packet at a time, so an
hour-long file costs no more memory than a short one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from desktop.core.errors import AudioError

RATE = 16_000  # what Whisper and the voice-activity detector take
FRAME_S = 0.1
MIN_RATE = 8_000  # telephone audio; below this, speech is not recognisable
MAX_RATE = 192_000
AGENT = "agent"
CUSTOMER = "customer"
STEREO = (AGENT, CUSTOMER)
CONVERT = "Convert it to 16 kHz WAV, e.g. `sox IN.wav -r 16000 -b 16 OUT.wav`."

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Frame:
    """About 0.1 s of one speaker's audio: 16 kHz mono floats in [-1, 1], from *start* seconds."""

    speaker: str
    start: float
    samples: Samples

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / RATE


class Readable(Protocol):
    """A byte stream: a file opened "rb", a pipe, a socket's file, a :class:`PushStream`."""

    def read(self, size: int, /) -> bytes: ...


class AudioSource(Protocol):
    """Where call audio comes from: a file, a stream, or (in the window) a capture device."""

    speakers: tuple[str, ...]

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


def check_rate(rate: int, where: str) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(
            f"{where} is sampled at {rate} Hz, which Deskmate cannot use for speech "
            f"(it takes {MIN_RATE}-{MAX_RATE} Hz).",
            CONVERT,
        )


def _split(block: Samples, speakers: Sequence[str], start: float) -> Iterator[Frame]:
    """Frames of FRAME_S from a (channels, n) block, one per speaker and step."""
    step = int(RATE * FRAME_S)
    for at in range(0, block.shape[1], step):
        for channel, speaker in enumerate(speakers):
            part = np.ascontiguousarray(block[channel, at : at + step], dtype=np.float32)
            yield Frame(speaker, start + at / RATE, part)


class _Resampler:
    """Any rate and layout to 16 kHz planar float (libswresample), chunk by chunk."""

    def __init__(self, rate: int, channels: int) -> None:
        import av

        self.layout = "mono" if channels == 1 else "stereo"
        self.channels = channels
        self.rate = rate
        self.inner: Any = av.AudioResampler(format="fltp", layout=self.layout, rate=RATE)

    def push(self, frame: Any) -> Samples:
        out = [f.to_ndarray() for f in self.inner.resample(frame)]
        if not out:
            return np.zeros((self.channels, 0), dtype=np.float32)
        return np.concatenate(out, axis=1).astype(np.float32, copy=False)

    def push_s16(self, interleaved: npt.NDArray[np.int16]) -> Samples:
        import av

        frame = av.AudioFrame.from_ndarray(
            interleaved.reshape(1, -1), format="s16", layout=self.layout
        )
        frame.sample_rate = self.rate
        return self.push(frame)


class FileSource:
    """A recording: one file (stereo = agent, customer; mono = *mono_speaker*) or a pair of mono
    files (agent's, customer's)."""

    def __init__(self, *paths: Path, mono_speaker: str = CUSTOMER) -> None:
        if not 1 <= len(paths) <= 2:
            raise AudioError("Give one audio file, or two: the agent's and the customer's.")
        self.paths = [Path(p) for p in paths]
        self.mono_speaker = mono_speaker
        self._containers: list[Any] = []
        layouts = [self._open(p) for p in self.paths]
        if len(paths) == 2:
            if any(n != 1 for n in layouts):
                raise AudioError("A pair of audio files must both be mono (one voice each).")
            self.speakers: tuple[str, ...] = STEREO
        elif layouts[0] == 1:
            self.speakers = (mono_speaker,)
        elif layouts[0] == 2:
            self.speakers = STEREO
        else:
            raise AudioError(
                f"{self.paths[0].name} has {layouts[0]} channels; Deskmate takes mono or stereo "
                "(agent left, customer right).",
                "Mix it down to stereo with sox: `sox IN.wav -c 2 OUT.wav`.",
            )

    def _open(self, path: Path) -> int:
        import av

        if not path.is_file():
            raise AudioError(f"There is no audio file at {path}.", "Check the path.")
        try:
            container = av.open(str(path))
            stream = container.streams.audio[0]
        except (av.error.FFmpegError, IndexError, UnicodeDecodeError) as err:
            raise AudioError(
                f"{path.name} is not an audio file Deskmate can read ({_why(err)}).", CONVERT
            ) from err
        self._containers.append(container)
        check_rate(int(stream.rate or 0), path.name)
        return int(stream.channels)

    def frames(self) -> Iterator[Frame]:
        if len(self._containers) == 1:
            yield from self._decode(self._containers[0], self.paths[0], self.speakers)
            return
        # Two mono files: interleave their frames in time order.
        pairs = zip(self._containers, self.paths, STEREO, strict=True)
        streams = [self._decode(c, p, (s,)) for c, p, s in pairs]
        yield from _merge(streams)

    def _decode(self, container: Any, path: Path, speakers: Sequence[str]) -> Iterator[Frame]:
        import av

        stream = container.streams.audio[0]
        resampler = _Resampler(int(stream.rate), len(speakers))
        done = 0  # samples out, at 16 kHz
        carry = np.zeros((len(speakers), 0), dtype=np.float32)
        try:
            for frame in container.decode(stream):
                carry = np.concatenate([carry, resampler.push(frame)], axis=1)
                whole = carry.shape[1] - carry.shape[1] % int(RATE * FRAME_S)
                yield from _split(carry[:, :whole], speakers, done / RATE)
                done, carry = done + whole, carry[:, whole:]
            carry = np.concatenate([carry, resampler.push(None)], axis=1)
        except av.error.FFmpegError as err:
            raise AudioError(
                f"{path.name} is damaged: it stops making sense after {done / RATE:.1f} s "
                f"({_why(err)}).",
                CONVERT,
            ) from err
        yield from _split(carry, speakers, done / RATE)

    def close(self) -> None:
        for container in self._containers:
            container.close()


def _merge(streams: list[Iterator[Frame]]) -> Iterator[Frame]:
    heads: list[Frame | None] = [next(s, None) for s in streams]
    while any(h is not None for h in heads):
        i = min((h.start, i) for i, h in enumerate(heads) if h is not None)[1]
        head = heads[i]
        assert head is not None
        yield head
        heads[i] = next(streams[i], None)


def _why(err: BaseException) -> str:
    return str(getattr(err, "strerror", None) or err).strip() or type(err).__name__


class StreamSource:
    """Raw little-endian 16-bit PCM from a file-like object or pipe, read as it arrives.

    *channels* 2 is interleaved agent, customer; 1 is *speakers[0]* alone. Any rate from
    8 to 192 kHz is resampled to 16 kHz. Reading stops at the end of the stream or on
    :meth:`close`.
    """

    def __init__(
        self,
        stream: Readable,
        rate: int = RATE,
        channels: int = 2,
        speakers: Sequence[str] | None = None,
    ) -> None:
        if channels not in (1, 2):
            raise AudioError(f"A stream of {channels} channels: Deskmate takes 1 or 2.")
        check_rate(rate, "The audio stream")
        self.stream = stream
        self.rate = rate
        self.channels = channels
        self.speakers = tuple(speakers or (STEREO if channels == 2 else (CUSTOMER,)))
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        step = int(self.rate * FRAME_S) * self.channels * 2
        resampler = _Resampler(self.rate, self.channels) if self.rate != RATE else None
        done, pending = 0, b""
        while not self._closed:
            data = self.stream.read(step - len(pending))
            if not data:
                break
            pending += data
            if len(pending) < step:
                continue
            block, pending = self._block(pending, resampler), b""
            yield from _split(block, self.speakers, done / RATE)
            done += block.shape[1]
        if pending[: len(pending) - len(pending) % (2 * self.channels)]:
            whole = pending[: len(pending) - len(pending) % (2 * self.channels)]
            yield from _split(self._block(whole, resampler), self.speakers, done / RATE)

    def _block(self, data: bytes, resampler: _Resampler | None) -> Samples:
        ints = np.frombuffer(data, dtype="<i2")
        if resampler is not None:
            return resampler.push_s16(ints.astype(np.int16))
        floats = ints.astype(np.float32) / 32768.0
        return floats.reshape(-1, self.channels).T

    def close(self) -> None:
        self._closed = True
        closer = getattr(self.stream, "close", None)
        if closer is not None:
            closer()


class PushStream:
    """A bounded in-memory pipe: a capture callback ``write()`` s PCM bytes, a
    :class:`StreamSource` reads them. When the reader falls behind by *max_s* seconds, the
    oldest audio is dropped (and counted) rather than memory growing."""

    def __init__(self, rate: int = RATE, channels: int = 2, max_s: float = 30.0) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._buffered = 0
        self._limit = int(max_s * rate * channels * 2)
        self._lock = threading.Lock()
        self._left = b""
        self.dropped = 0  # bytes dropped because the reader was behind
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        with self._lock:
            self._buffered += len(data)
            self._chunks.put(bytes(data))
            while self._buffered > self._limit:
                old = self._chunks.get_nowait()
                size = len(old or b"")
                self._buffered -= size
                self.dropped += size

    def read(self, size: int) -> bytes:
        while len(self._left) < size:
            chunk = self._chunks.get()
            if chunk is None:
                self._chunks.put(None)  # stay closed for the next read
                break
            with self._lock:
                self._buffered -= len(chunk)
            self._left += chunk
        out, self._left = self._left[:size], self._left[size:]
        return out

    def close(self) -> None:
        self._closed = True
        self._chunks.put(None)


class Paced:
    """A source played at the speed of a live call (*speed* 1.0), for benchmarks and demos: a
    frame is handed on no earlier than its time in the call."""

    def __init__(self, source: AudioSource, speed: float = 1.0) -> None:
        self.source = source
        self.speakers = source.speakers
        self.speed = speed

    def frames(self) -> Iterator[Frame]:
        began = time.monotonic()
        for frame in self.source.frames():
            wait = began + frame.end / self.speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield frame

    def close(self) -> None:
        self.source.close()
