"""Call audio in (desktop/core/speech/audio.py) and turn finding (vad.py), without the model:
file and stream sources, bad input with clear messages, bounded memory on a 2-hour stream."""

from __future__ import annotations

import io
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import speechkit

from desktop.core.errors import AudioError
from desktop.core.speech import audio
from desktop.core.speech.audio import FileSource, PushStream, StreamSource
from desktop.core.speech.vad import MAX_TURN_S, Segmenter

needs_tools = pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox")


def _tone(seconds: float, rate: int = 16_000, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def test_stereo_file_is_agent_left_customer_right_at_16khz(tmp_path: Path) -> None:
    left, right = _tone(1.0, 44_100), np.zeros(44_100, np.int16)
    path = speechkit.write_wav(tmp_path / "call.wav", np.stack([left, right], 1), 44_100)
    source = FileSource(path)
    frames = list(source.frames())
    assert source.speakers == ("agent", "customer")
    agent = np.concatenate([f.samples for f in frames if f.speaker == "agent"])
    customer = np.concatenate([f.samples for f in frames if f.speaker == "customer"])
    assert abs(len(agent) - 16_000) <= 160  # resampled to 16 kHz
    assert np.abs(agent).max() > 0.2 and np.abs(customer).max() < 1e-3
    assert [f.start for f in frames[:4]] == [0.0, 0.0, 0.1, 0.1]


def test_a_pair_of_mono_files_is_agent_then_customer(tmp_path: Path) -> None:
    a = speechkit.write_wav(tmp_path / "a.wav", _tone(0.5))
    c = speechkit.write_wav(tmp_path / "c.wav", np.zeros(8000, np.int16))
    frames = list(FileSource(a, c).frames())
    assert {f.speaker for f in frames} == {"agent", "customer"}
    assert all(np.abs(f.samples).max() < 1e-3 for f in frames if f.speaker == "customer")
    starts = [f.start for f in frames]
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    "data",
    [b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 20, b"", b"not audio at all " * 100],
)
def test_a_corrupt_file_says_so(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(data)
    with pytest.raises(AudioError, match=r"broken\.wav") as err:
        list(FileSource(path).frames())
    assert "sox" in err.value.fix


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no audio file"):
        FileSource(tmp_path / "nope.wav")


def test_an_unsupported_sample_rate_says_so(tmp_path: Path) -> None:
    path = speechkit.write_wav(tmp_path / "low.wav", _tone(0.5, 4000), 4000)
    with pytest.raises(AudioError, match="4000 Hz") as err:
        FileSource(path)
    assert "16000" in err.value.fix
    with pytest.raises(AudioError, match="4000 Hz"):
        StreamSource(io.BytesIO(b""), rate=4000)


def test_stream_source_reads_raw_pcm_and_resamples(tmp_path: Path) -> None:
    pcm = np.stack([_tone(1.0, 8000), np.zeros(8000, np.int16)], 1)
    frames = list(StreamSource(io.BytesIO(pcm.tobytes()), rate=8000).frames())
    agent = np.concatenate([f.samples for f in frames if f.speaker == "agent"])
    assert abs(len(agent) - 16_000) <= 320 and np.abs(agent).max() > 0.2


def test_push_stream_feeds_a_stream_source_from_another_thread() -> None:
    pipe = PushStream(channels=1)
    source = StreamSource(pipe, channels=1)

    def capture() -> None:  # what a Qt Multimedia QAudioSource callback would do
        for _ in range(10):
            pipe.write(_tone(0.1).tobytes())
        pipe.close()

    threading.Thread(target=capture).start()
    frames = list(source.frames())
    assert len(frames) == 10 and frames[-1].end == pytest.approx(1.0)


def test_push_stream_drops_old_audio_when_the_reader_is_behind() -> None:
    pipe = PushStream(channels=1, max_s=1.0)
    for _ in range(30):
        pipe.write(_tone(0.1).tobytes())
    assert pipe.dropped >= 19 * 3200
    pipe.close()
    assert len(pipe.read(10**9)) <= 32_000 + 3200


def test_turns_end_on_quiet_and_are_cut_when_too_long() -> None:
    seg = Segmenter("customer")
    loud = _tone(0.1).astype(np.float32) / 32768
    quiet = np.zeros(1600, np.float32)
    turns = []
    at = 0.0
    for samples in [quiet] * 5 + [loud] * 10 + [quiet] * 10:
        turn = seg.push(audio.Frame("customer", at, samples))
        at += 0.1
        turns += [turn] if turn else []
    assert len(turns) == 1 and not turns[0].cut
    assert turns[0].start == pytest.approx(0.3) and turns[0].end == pytest.approx(1.5)
    longest = 0.0
    for _ in range(int(3 * MAX_TURN_S * 10)):
        turn = seg.push(audio.Frame("customer", at, loud))
        longest = max(longest, seg.buffered_s)
        turns += [turn] if turn else []
    assert [t.cut for t in turns[1:]] == [True, True, True]  # 75 s: cut at 25, 50, 75
    assert longest <= MAX_TURN_S + 0.01


def test_a_two_hour_stream_runs_in_bounded_memory() -> None:
    """Two hours of a quiet line (hiss), streamed: memory stays flat, no turn is found."""
    hours = 2
    block = (np.random.default_rng(1).standard_normal(16_000 * 2) * 30).astype("<i2")

    class Line(io.RawIOBase):
        left = hours * 3600 * 16_000 * 2 * 2  # bytes still to come
        data = block.tobytes()

        def read(self, size: int = -1) -> bytes:
            size = min(size, self.left, len(self.data))
            self.left -= size
            return self.data[:size]

    segs = {s: Segmenter(s) for s in audio.STEREO}
    tracemalloc.start()
    last = 0.0
    for frame in StreamSource(Line(), channels=2).frames():
        assert segs[frame.speaker].push(frame) is None
        last = frame.end
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert last == pytest.approx(hours * 3600, abs=0.2)
    assert peak < 20 * 2**20  # two hours of stereo PCM would be 460 MB
