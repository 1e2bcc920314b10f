"""Live capture devices into one call stream (desktop/core/speech/capture.py), without Qt: each
device's own format to 16 kHz, agent left and customer right, a quiet device filled with
silence, formats Deskmate cannot read refused with a message."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from desktop.core.errors import AudioError
from desktop.core.speech.capture import DeviceFormat, Mixer


def _tone(seconds: float, rate: int, freq: float = 300.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _read_all(mixer: Mixer) -> dict[str, np.ndarray]:
    mixer.close()
    frames = list(mixer.source().frames())
    return {
        s: np.concatenate([f.samples for f in frames if f.speaker == s] or [np.zeros(0)])
        for s in mixer.speakers
    }


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_two_devices_in_their_own_formats_become_agent_and_customer_at_16khz() -> None:
    # The microphone: 48 kHz float stereo; the playback monitor: 44.1 kHz 16-bit mono.
    mixer = Mixer(DeviceFormat(48_000, 2, "float"), DeviceFormat(44_100, 1, "int16"))
    mic = np.repeat(_tone(1.0, 48_000), 2).astype("<f4").tobytes()
    loop = (np.zeros(44_100) * 32767).astype("<i2").tobytes()
    # Chunks that split sample frames: the partial frame is carried to the next chunk.
    for a, b in zip(_chunks(mic, 4001), _chunks(loop, 1001), strict=False):
        mixer.feed("agent", a)
        mixer.feed("customer", b)
    for rest in _chunks(mic, 4001)[len(_chunks(loop, 1001)) :]:
        mixer.feed("agent", rest)
    got = _read_all(mixer)
    assert mixer.speakers == ("agent", "customer")
    assert abs(len(got["agent"]) - 16_000) < 800  # about one second at 16 kHz
    assert 0.2 < np.abs(got["agent"]).max() < 0.35  # the tone's level, not doubled by 2 ch
    assert np.abs(got["customer"]).max() < 1e-3


def test_a_quiet_playback_device_does_not_hold_up_the_microphone() -> None:
    mixer = Mixer(DeviceFormat(16_000, 1, "int16"), DeviceFormat(16_000, 1, "int16"))
    mixer.feed("agent", (_tone(2.0, 16_000) * 32767).astype("<i2").tobytes())
    got = _read_all(mixer)
    assert len(got["agent"]) >= 1.5 * 16_000  # all but the allowed skew is out already
    assert len(got["customer"]) == len(got["agent"])
    assert np.abs(got["customer"]).max() == 0.0


def test_the_microphone_alone_is_the_agent() -> None:
    mixer = Mixer(DeviceFormat(8_000, 1, "uint8"))
    samples = (_tone(0.5, 8_000) * 127 + 128).astype(np.uint8)
    mixer.feed("agent", samples.tobytes())
    got = _read_all(mixer)
    assert mixer.speakers == ("agent",)
    assert abs(len(got["agent"]) - 8_000) < 800 and np.abs(got["agent"]).max() > 0.2


def test_the_reader_gets_audio_while_the_call_goes_on() -> None:
    mixer = Mixer(DeviceFormat(16_000, 1, "int32"))
    first: list[float] = []

    def read() -> None:
        for frame in mixer.source().frames():
            first.append(frame.start)
            return

    reader = threading.Thread(target=read)
    reader.start()
    mixer.feed("agent", (_tone(0.2, 16_000) * 2**31).astype("<i4").tobytes())
    reader.join(5)
    assert first == [0.0]
    mixer.close()


@pytest.mark.parametrize(
    ("form", "says"),
    [
        (DeviceFormat(16_000, 1, ""), "cannot read"),
        (DeviceFormat(16_000, 0, "int16"), "0 channels"),
        (DeviceFormat(4_000, 1, "int16"), "4000 Hz"),
    ],
)
def test_a_format_deskmate_cannot_read_is_a_message(form: DeviceFormat, says: str) -> None:
    with pytest.raises(AudioError, match=says) as err:
        form.check("USB headset")
    assert "USB headset" in err.value.message and err.value.fix
