"""Microphone and call playback capture (desktop/gui/parts/capture.py) and the "Call ended"
action. Offscreen there are no audio devices: the no-device message is checked with the real
QMediaDevices; the capture is fed through the same slot its QAudioSource's readyRead calls,
from QBuffers holding a generated call in the formats devices deliver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import speechkit
from guikit import DAMAGED, LONG, start
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSource, QMediaDevices

from desktop.core.errors import AudioError
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.core.speech.audio import FileSource
from desktop.core.speech.capture import DeviceFormat, Mixer
from desktop.gui.parts import call_audio, capture, devices
from desktop.gui.settings_dialog import SettingsDialog

# What Qt Multimedia says where there is no sound server and no video acceleration (offscreen).
QT_NOISE = ("propagateSizeHints", "symbols$", "library$", "PulseAudio", "No audio device")
pytestmark = pytest.mark.qt_log_ignore(*QT_NOISE)

CALL = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "My phone arrived with a cracked screen, can I send it back?"),
]


class FakeDevice:
    """What the capture needs of a QAudioDevice: its name and id."""

    def __init__(self, name: str) -> None:
        self.name = name

    def description(self) -> str:
        return self.name

    def id(self) -> QByteArray:
        return QByteArray(self.name.encode())


def test_no_microphone_on_this_pc_is_a_message(qapp: Any) -> None:
    assert QMediaDevices.audioInputs() == []  # offscreen: no devices
    with pytest.raises(AudioError, match="No microphone found") as err:
        capture.choose(capture.inputs())
    assert "headset" in err.value.fix and "Typing or pasting" in err.value.fix


def test_devices_are_chosen_by_name_with_the_playback_monitor_for_the_customer() -> None:
    mic, monitor = FakeDevice("USB headset"), FakeDevice("Monitor of Built-in Audio")
    assert capture.choose([monitor, mic]) == (mic, monitor)
    assert capture.choose([monitor, mic], loopback="none") == (mic, None)
    assert capture.choose([mic]) == (mic, None)  # no monitor: the microphone only
    remapped = FakeDevice("Call-loopback")  # Linux: what devices.LINUX_LOOPBACK creates
    assert capture.choose([remapped, mic]) == (mic, remapped)
    with pytest.raises(AudioError, match='"Jabra" set for Deskmate is not connected'):
        capture.choose([mic, monitor], mic="Jabra")
    with pytest.raises(AudioError, match="No microphone"):
        capture.choose([monitor])  # a playback monitor is not a microphone
    with pytest.raises(AudioError, match="not available") as err:
        capture.choose([mic], loopback="Stereo Mix")
    assert "none" in err.value.fix


def test_the_settings_pick_devices_from_a_list(qtbot: Any, deskmate_home: Path) -> None:
    combo = devices.device_picker(capture.LOOPBACK_KEY, "Gone", ["Headset", "Monitor of Speakers"])
    items = [combo.itemData(i) for i in range(combo.count())]
    assert items == ["", "none", "Monitor of Speakers", "Headset", "Gone"]
    assert combo.currentText() == "Gone (not connected)"
    paths = Paths.from_env()
    paths.policy.write_text(
        json.dumps({"settings": {capture.MIC_KEY: "Agent headset"}}), encoding="utf-8"
    )
    settings = Settings.load(paths)
    settings.set("listen.audio", True)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    mic, loop = dialog.editors[capture.MIC_KEY], dialog.editors[capture.LOOPBACK_KEY]
    assert not mic.isEnabled()  # IT pinned the microphone
    assert mic.currentData() == "Agent headset"
    assert loop.isEnabled() and loop.currentData() == ""
    loop.setCurrentIndex(loop.findData("none"))
    dialog.save()
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved == {"listen.audio": True, capture.LOOPBACK_KEY: "none"}


def test_a_device_that_cannot_be_read_or_opened_is_a_message(qapp: Any) -> None:
    nothing = QAudioDevice()  # what QMediaDevices gives when there is no device: no formats
    with pytest.raises(AudioError, match="cannot read") as err:
        capture.device_format(nothing)
    assert "Settings" in err.value.fix
    cap = capture.Capture(Mixer(DeviceFormat(16_000, 1, "int16")), {"agent": nothing})
    form = QAudioFormat()
    form.setSampleRate(16_000)
    form.setChannelCount(1)
    form.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    with pytest.raises(AudioError, match="could not be opened"):
        cap.start("agent", nothing, form)
    assert cap.stopped  # the stream the listener would read is closed too


def test_a_device_failing_mid_call_ends_the_capture_with_a_message(qapp: Any) -> None:
    device = FakeDevice("Headset")
    cap = capture.Capture(Mixer(DeviceFormat(16_000, 1, "int16")), {"agent": device})
    failing = QAudioSource(QAudioDevice(), QAudioFormat())
    failing.start()  # no device: the source is in its error state, as after an unplug
    cap.sources["agent"] = failing
    errors: list[Any] = []
    cap.failed.connect(errors.append)
    cap._on_state("agent", failing.state())
    (error,) = errors
    assert '"Headset" stopped delivering sound' in error.message and "kept" in error.message
    assert cap.stopped and cap.mixer.stream.read(10) == b""  # the listener's stream has ended
    cap._on_state("agent", failing.state())
    assert len(errors) == 1  # said once


def _buffer(data: bytes) -> QBuffer:
    buffer = QBuffer()
    buffer.setData(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    return buffer


def test_what_a_device_delivers_reaches_the_listening_stream(qapp: Any) -> None:
    mixer = Mixer(DeviceFormat(48_000, 1, "float"), DeviceFormat(16_000, 1, "int16"))
    fake = {"agent": FakeDevice("Headset"), "customer": FakeDevice("Monitor of Speakers")}
    cap = capture.Capture(mixer, fake)
    tone = (0.3 * np.sin(np.arange(48_000) / 48_000 * 2 * np.pi * 300)).astype("<f4")
    cap.read("agent", _buffer(tone.tobytes()))
    cap.read("customer", _buffer(bytes(32_000)))
    cap.stop()
    frames = list(cap.source().frames())
    agent = np.concatenate([f.samples for f in frames if f.speaker == "agent"])
    assert abs(len(agent) - 16_000) < 800 and np.abs(agent).max() > 0.2


def test_the_microphone_alone_says_the_customer_is_not_heard_and_what_to_do() -> None:
    from desktop.gui.parts.call_audio import CallAudio

    alone = Mixer(DeviceFormat(16_000, 1, "int16")).source()
    text = CallAudio._listening_text(alone)
    assert "microphone only" in text and "module-remap-source" in text and "Stereo Mix" in text
    both = Mixer(DeviceFormat(16_000, 1, "int16"), DeviceFormat(16_000, 1, "int16")).source()
    assert "microphone only" not in CallAudio._listening_text(both)


def _capture_playing(pcm: np.ndarray) -> capture.Capture:
    """A capture whose devices (a 48 kHz float microphone, a 16-bit monitor) have delivered the
    call in *pcm* (stereo, 16 kHz), read through the readyRead slot in device-sized chunks."""
    agent = np.repeat(pcm[:, 0].astype(np.float32) / 32768, 3).astype("<f4").tobytes()
    customer = pcm[:, 1].astype("<i2").tobytes()
    mixer = Mixer(DeviceFormat(48_000, 1, "float"), DeviceFormat(16_000, 1, "int16"))
    devices = {"agent": FakeDevice("Headset"), "customer": FakeDevice("Monitor of Speakers")}
    cap = capture.Capture(mixer, devices)
    step = 3 * 4 * 1600  # 0.1 s of the microphone; the monitor's 0.1 s is 3200 bytes
    for at in range(0, len(customer), 3200):
        cap.read("agent", _buffer(agent[3 * 2 * at : 3 * 2 * at + step]))
        cap.read("customer", _buffer(customer[at : at + 3200]))
    return cap


@pytest.mark.slow
@pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox")
def test_the_microphone_feeds_the_panel_and_a_device_unplugged_mid_call_keeps_the_text(
    qtbot: Any, make_window: Any, context: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    window = make_window(context)
    start(qtbot, window)
    part = window.parts["listen"]
    window.shell.context.settings.set("listen.audio", True)
    window.shell.settings_changed.emit()
    assert part.call_ended_button.isVisible()
    # The real devices: none here, so pressing the button says what to do.
    qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)
    assert "No microphone found" in window.listen.audio_status.text()
    assert not window.listen.audio_button.isChecked() and part.audio.listener is None

    pcm, _ = speechkit.call(CALL)
    cap = _capture_playing(pcm)
    shown: list[Any] = []
    part.suggestions_shown.connect(lambda hits: shown.append([h.source for h in hits]))

    def use_capture() -> Any:
        part.audio.capture = cap
        cap.failed.connect(part.audio._on_capture_failed)
        return cap.source()

    part.audio.audio_source = use_capture
    qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)
    assert window.listen.audio_button.isChecked()
    qtbot.waitUntil(lambda: "Customer: " in window.listen.conversation.toPlainText(), timeout=LONG)
    # Among the cards shown (4th of 5 for the transcript since the coverage term; 3rd before).
    qtbot.waitUntil(lambda: any(DAMAGED in hits for hits in shown), timeout=LONG)
    # The headset is unplugged: the system's inputs no longer hold it (none do, offscreen).
    with qtbot.waitSignal(part.audio.ended, timeout=LONG):
        cap.check_devices()
    status = window.listen.audio_status.text()
    assert '"Headset" was disconnected' in status and "Plug it back in" in status
    text = window.listen.conversation.toPlainText()
    assert text.startswith("Agent: ") and "cracked screen" in text  # the call so far is kept
    assert not window.listen.audio_button.isChecked() and part.audio.capture is None
    # A recording or a softphone's stream instead (the button's menu); a damaged one says so.
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(100))
    monkeypatch.setattr(call_audio, "pick_source", lambda _parent: FileSource(broken))
    part.audio.from_file.trigger()
    assert "broken.wav" in window.listen.audio_status.text()
    assert part.audio.audio_source == use_capture  # the devices again next time


@pytest.mark.slow
def test_call_ended_drafts_the_wrap_up_then_clears_the_call(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    context.settings.set("generation.enabled", False)  # an extractive note: no model to wait for
    window = make_window(context)
    start(qtbot, window)
    part = window.parts["listen"]
    window.shell.context.settings.set("listen.audio", True)
    window.shell.settings_changed.emit()
    conversation = (
        "Customer: my phone arrived with a cracked screen, can I send it back?\n"
        "Agent: yes, you can return a damaged item within 30 days."
    )
    window.listen.conversation.setPlainText(conversation)
    tasks: list[str] = []
    window.shell.draft_requested.connect(tasks.append)
    with qtbot.waitSignal(window.shell.answer_shown, timeout=LONG) as shown:
        qtbot.mouseClick(part.call_ended_button, Qt.MouseButton.LeftButton)
    assert tasks == ["wrapup"]  # the Wrap-up button's own request
    assert shown.args[0].task == "wrapup" and conversation in shown.args[0].question
    qtbot.waitUntil(lambda: window.listen.conversation.toPlainText() == "", timeout=5_000)
    assert window.shell.conversation == ""
