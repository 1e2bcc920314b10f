"""Streaming transcription with the real Whisper tiny.en on generated (espeak-ng) calls, and the
customer's finished turns through the listen panel's own code (desktop/core/listen.py)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import speechkit

from desktop.core import listen, priority
from desktop.core.errors import AudioError
from desktop.core.speech import live as speech_live
from desktop.core.speech.audio import FileSource, PushStream, StreamSource
from desktop.core.speech.live import Final, Listener, Partial, Skipped
from desktop.core.speech.live import listen as live
from desktop.core.speech.whisper import Speech

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox"),
]

CALL = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "My phone arrived with a cracked screen, can I send it back?"),
    ("agent", "Sorry to hear that, let me check your order."),
]
CRISIS = [
    ("agent", "Hello, how can I help today?"),
    ("customer", "I have lost my job and I don't see the point in going on any more."),
]


@pytest.fixture(scope="module")
def speech() -> Speech:
    return Speech.default()


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pcm, _ = speechkit.call(CALL)
    return speechkit.write_wav(tmp_path_factory.mktemp("calls") / "call.wav", pcm)


def _words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() else " " for c in text.lower()).split())


def test_a_call_gives_partials_then_final_turns_per_speaker(
    speech: Speech, call_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Partials are skipped while transcription is behind the call and spaced out to twice
    # the time one takes, which on a loaded machine can leave a short turn none: here it is
    # never behind and the spacing stays at its base, so the partials must come.
    monkeypatch.setattr(speech_live, "BEHIND_S", 1e9)
    monkeypatch.setattr(speech_live._Clock, "timing", lambda self: contextlib.nullcontext())
    events = list(live(FileSource(call_wav), speech))
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.speaker for f in finals] == ["agent", "customer", "agent"]
    customer = finals[1]
    assert {"phone", "cracked", "screen", "back"} <= _words(customer.text)
    assert not hasattr(customer, "samples")  # text only: the audio is gone
    # Partial text came while the customer's turn was being spoken, before its final.
    before = events[: events.index(customer)]
    assert any(isinstance(e, Partial) and e.speaker == "customer" for e in before)
    assert 5 < customer.start < customer.end < 13


def test_no_partials_while_behind_the_call(
    speech: Speech, call_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the call, partials (a nicety) are skipped so that the final text comes sooner."""
    monkeypatch.setattr(speech_live, "BEHIND_S", -1e9)  # always behind
    events = list(live(FileSource(call_wav), speech))
    assert not any(isinstance(e, Partial) for e in events)
    assert [e.speaker for e in events if isinstance(e, Final)] == ["agent", "customer", "agent"]


def test_silence_and_music_give_no_text(speech: Speech, tmp_path: Path) -> None:
    quiet = speechkit.write_wav(tmp_path / "quiet.wav", np.zeros(16_000 * 5, np.int16))
    assert list(live(FileSource(quiet), speech)) == []
    music = speechkit.write_wav(tmp_path / "music.wav", speechkit.noise_music(6.0))
    events = list(live(FileSource(music), speech))
    assert events and all(isinstance(e, Skipped) for e in events)


def test_listener_runs_below_the_windows_priority_and_reports_bad_audio(
    speech: Speech, call_wav: Path, tmp_path: Path
) -> None:
    seen: list[Any] = []
    nice: list[int] = []
    ended: list[BaseException | None] = []
    done = threading.Event()

    def on_event(event: Any) -> None:
        nice.append(priority.thread_nice())
        seen.append(event)

    def on_end(error: BaseException | None) -> None:
        ended.append(error)
        done.set()

    listener = Listener(FileSource(call_wav), speech, on_event, on_end).start()
    assert done.wait(120) and ended == [None]
    assert min(nice) >= priority.thread_nice() + 1
    assert "Customer: " in listener.transcript.conversation()
    assert len(listener.transcript.to_json()["turns"]) == 3

    # A stream that turns out not to be what it claimed ends with an AudioError, not a crash.
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(200))
    done.clear()
    ended.clear()
    with pytest.raises(AudioError):
        FileSource(broken)
    with call_wav.open("rb") as pipe:  # a softphone's stream: raw PCM (here, with a header)
        Listener(StreamSource(pipe, channels=2), speech, on_event, on_end).start()
        assert done.wait(120) and ended == [None]


def test_customer_turns_go_through_the_listen_panels_code(
    speech: Speech, context: Any, tmp_path: Path
) -> None:
    pcm, _ = speechkit.call(CALL + CRISIS[1:])
    path = speechkit.write_wav(tmp_path / "call.wav", pcm)
    listener = Listener(FileSource(path), speech, lambda e: None, lambda e: None)
    listener.start().thread.join(180)
    conversation = listener.transcript.conversation()
    found = listen.suggest(context, conversation.rsplit("\nCustomer:", 1)[0])
    assert "delivery-returns/return-damaged-or-faulty-item.md" in [h.source for h in found.hits]
    assert found.detection is None
    routed = listen.suggest(context, conversation)
    assert routed.detection is not None and routed.detection.topic.name == "self_harm"


def test_stop_ends_listening_even_when_no_audio_comes(speech: Speech) -> None:
    """A capture that delivers nothing (a headset unplugged) must not keep the thread waiting."""
    pipe = PushStream(channels=2)
    ended: list[BaseException | None] = []
    listener = Listener(StreamSource(pipe), speech, lambda e: None, ended.append).start()
    pipe.write(bytes(3200 * 2))  # 0.1 s of silence, then nothing
    assert listener.stop(wait_s=10) and ended == [None]
