"""Generated call audio for the speech tests and benchmarks/live_listen.py: espeak-ng voices,
resampled by sox to 16 kHz, laid out as a two-channel call (agent left, customer right)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 16_000
Pcm = npt.NDArray[np.int16]


def have_tools() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def say(text: str, voice: str = "en-us", speed: int = 160, rate: int = RATE) -> Pcm:
    """*text* spoken by espeak-ng, as 16-bit mono PCM at *rate*."""
    speech = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    raw = subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(rate),
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
        ],
        input=speech,
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").copy()


def call(
    turns: list[tuple[str, str]],
    voices: dict[str, tuple[str, int]] | None = None,
    gap_s: float = 1.5,
    rate: int = RATE,
) -> tuple[Pcm, list[dict[str, float | str]]]:
    """A stereo call (n, 2) from (speaker, text) turns, one after the other with *gap_s* of
    silence, and where each turn's speech starts and ends (seconds)."""
    voices = voices or {"agent": ("en-gb", 165), "customer": ("en-us", 150)}
    parts: list[Pcm] = []
    where: list[dict[str, float | str]] = []
    at = int(gap_s * rate)
    parts.append(np.zeros((at, 2), np.int16))
    for speaker, text in turns:
        voice, speed = voices[speaker]
        mono = say(text, voice, speed, rate)
        block = np.zeros((len(mono), 2), np.int16)
        block[:, 0 if speaker == "agent" else 1] = mono
        where.append(
            {"speaker": speaker, "text": text, "start": at / rate, "end": (at + len(mono)) / rate}
        )
        parts += [block, np.zeros((int(gap_s * rate), 2), np.int16)]
        at += len(mono) + int(gap_s * rate)
    return np.concatenate(parts), where


def write_wav(path: Path, pcm: Pcm, rate: int = RATE) -> Path:
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
    return path


def noise_music(seconds: float, rate: int = RATE, seed: int = 7) -> Pcm:
    """Loud, speech-free sound: a chord that changes every half second, over hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    notes = rng.choice([220.0, 261.6, 329.6, 392.0, 440.0, 523.3], size=int(seconds * 2) + 1)
    f = notes[(t * 2).astype(int)]
    wave_ = 0.25 * np.sin(2 * np.pi * f * t) + 0.15 * np.sin(2 * np.pi * 1.5 * f * t)
    wave_ += 0.05 * rng.standard_normal(len(t))
    return (np.clip(wave_, -1, 1) * 32767).astype(np.int16)
