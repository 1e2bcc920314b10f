"""The call's audio from this PC's devices, through Qt Multimedia: the agent's microphone and,
where the system offers it as an input, the call's playback (the customer). Qt lists only real
inputs: on Windows a "Stereo Mix" or a virtual cable; on Linux Qt's PulseAudio backend hides the
"Monitor of …" sources, so IT adds a remapped one (:data:`~.devices.LINUX_LOOPBACK`), which Qt
lists like a microphone. Names with "monitor of", "loopback", "stereo mix"… count as playback.

Each device is a ``QAudioSource`` whose bytes go, on the UI thread, to
:class:`desktop.core.speech.capture.Mixer` (cheap: a format change), which writes the two
speakers' audio into the stream the listening thread reads. Which devices: the settings (or IT's
policy) ``listen.audio_devices.microphone`` and ``listen.audio_devices.loopback``; empty means
the system's default microphone and the first playback monitor found.

A missing device, one unplugged mid-call (``QMediaDevices.audioInputsChanged``, or the source's
error state) or a format Deskmate cannot read is an :class:`AudioError` with what to do;
:attr:`Capture.failed` carries it when it happens during the call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QIODevice, QObject, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSource, QMediaDevices, QtAudio

from desktop.core.errors import AudioError
from desktop.core.speech.audio import AGENT, CUSTOMER, RATE, StreamSource
from desktop.core.speech.capture import DeviceFormat, Mixer
from desktop.gui.parts.devices import (
    LOOPBACK_KEY,
    MIC_KEY,
    NO_LOOPBACK,
    SETTINGS_HINT,
    choose,
    is_loopback,
)

__all__ = ["LOOPBACK_KEY", "MIC_KEY", "NO_LOOPBACK", "Capture", "choose", "is_loopback"]

_SAMPLE = {
    QAudioFormat.SampleFormat.UInt8: "uint8",
    QAudioFormat.SampleFormat.Int16: "int16",
    QAudioFormat.SampleFormat.Int32: "int32",
    QAudioFormat.SampleFormat.Float: "float",
}


def inputs() -> list[QAudioDevice]:
    return list(QMediaDevices.audioInputs())


def input_names() -> list[str]:
    """The audio inputs this PC has now, by the names the settings use."""
    return [device.description() for device in inputs()]


def device_format(device: QAudioDevice) -> tuple[QAudioFormat, DeviceFormat]:
    """16 kHz mono 16-bit if the device gives it, else its own preferred format."""
    wanted = QAudioFormat()
    wanted.setSampleRate(RATE)
    wanted.setChannelCount(1)
    wanted.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    form = wanted if device.isFormatSupported(wanted) else device.preferredFormat()
    found = DeviceFormat(
        form.sampleRate(), form.channelCount(), _SAMPLE.get(form.sampleFormat(), "")
    )
    found.check(device.description() or "The audio device")
    return form, found


class Capture(QObject):
    """The devices' ``QAudioSource`` s feeding one :class:`Mixer`; :meth:`source` is what the
    listening thread reads."""

    failed = Signal(object)  # an AudioError: a device stopped or disappeared mid-call

    def __init__(self, mixer: Mixer, devices: dict[str, Any]) -> None:
        super().__init__()
        self.mixer = mixer
        self.devices = devices  # speaker -> QAudioDevice
        self.sources: dict[str, QAudioSource] = {}
        self.watch = QMediaDevices(self)
        self.watch.audioInputsChanged.connect(self.check_devices)
        self.stopped = False

    @classmethod
    def open(cls, mic: QAudioDevice, loopback: QAudioDevice | None) -> Capture:
        """Capture from *mic* (the agent) and *loopback* (the customer, if any), started."""
        mic_format, agent = device_format(mic)
        forms = {AGENT: (mic, mic_format)}
        customer = None
        if loopback is not None:
            loop_format, customer = device_format(loopback)
            forms[CUSTOMER] = (loopback, loop_format)
        capture = cls(Mixer(agent, customer), {s: d for s, (d, _) in forms.items()})
        for speaker, (device, form) in forms.items():
            capture.start(speaker, device, form)
        return capture

    def source(self) -> StreamSource:
        return self.mixer.source()

    def start(self, speaker: str, device: QAudioDevice, form: QAudioFormat) -> None:
        source = QAudioSource(device, form, self)
        io = source.start()
        if io is None or source.error() != QtAudio.Error.NoError:
            self.stop()
            raise AudioError(
                f'Could not open "{device.description()}" to listen ({_why(source.error())}).',
                f"Close other programs using it, or pick another device in {SETTINGS_HINT}.",
            )
        self.sources[speaker] = source
        io.readyRead.connect(partial(self.read, speaker, io))
        source.stateChanged.connect(partial(self._on_state, speaker))

    def read(self, speaker: str, io: QIODevice) -> None:
        """What the device has captured since the last call (its ``readyRead``)."""
        data = io.readAll().data()
        if data and not self.stopped:
            self.mixer.feed(speaker, bytes(data))

    def check_devices(self) -> None:
        """The system's inputs changed: a device in use that is gone ends the capture."""
        present = {bytes(device.id().data()) for device in inputs()}
        for device in self.devices.values():
            if bytes(device.id().data()) not in present:
                self._fail(
                    AudioError(
                        f'"{device.description()}" was disconnected, so listening stopped. '
                        "The conversation so far is kept.",
                        "Plug it back in and press Listen to call audio again, or pick another "
                        f"device in {SETTINGS_HINT}.",
                    )
                )
                return

    def _on_state(self, speaker: str, _state: object) -> None:
        source = self.sources.get(speaker)
        if source is not None and source.error() != QtAudio.Error.NoError:
            name = self.devices[speaker].description()
            self._fail(
                AudioError(
                    f'"{name}" stopped delivering sound ({_why(source.error())}). '
                    "The conversation so far is kept.",
                    "Check the device, then press Listen to call audio again.",
                )
            )

    def _fail(self, error: AudioError) -> None:
        if self.stopped:
            return
        self.stop()
        self.failed.emit(error)

    def stop(self) -> None:
        """Stop the devices; the listening thread finishes what it has and ends."""
        self.stopped = True
        for source in self.sources.values():
            source.stop()
        self.mixer.close()


def _why(error: QtAudio.Error) -> str:
    return {
        QtAudio.Error.OpenError: "the device could not be opened",
        QtAudio.Error.IOError: "the device stopped working",
        QtAudio.Error.UnderrunError: "audio arrived too slowly",
        QtAudio.Error.FatalError: "the audio system failed",
    }.get(error, "no error")
