"""Which audio inputs Deskmate listens to: the settings' names, the choice among this PC's
devices, and the settings' picker. Qt Multimedia is not imported here (it loads, and talks to the
sound server, only when listening starts or the picker lists devices: desktop/gui/parts/capture.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from PySide6.QtWidgets import QComboBox

from desktop.core.errors import AudioError

MIC_KEY = "listen.audio_devices.microphone"
LOOPBACK_KEY = "listen.audio_devices.loopback"
NO_LOOPBACK = "none"  # the loopback setting's value for "the microphone only"
LOOPBACK_WORDS = ("monitor of", "stereo mix", "loopback", "what u hear", "cable output")
SETTINGS_HINT = "Settings › For you › Microphone / Call playback"
# Qt's PulseAudio backend skips monitor sources; a remapped monitor is an ordinary input to it.
LINUX_LOOPBACK = (
    "pactl load-module module-remap-source master=$(pactl get-default-sink).monitor "
    "source_name=call_loopback source_properties=device.description=Call-loopback"
)


class Device(Protocol):
    def description(self) -> str: ...


D = TypeVar("D", bound=Device)


def is_loopback(name: str) -> bool:
    return any(word in name.lower() for word in LOOPBACK_WORDS)


def choose(devices: Sequence[D], mic: str = "", loopback: str = "") -> tuple[D, D | None]:
    """The microphone and the call's playback among *devices*, by the names set (empty: the first
    microphone and the first playback monitor; *loopback* ``none``: no playback)."""
    by_name = {device.description(): device for device in devices}
    microphones = [d for d in devices if not is_loopback(d.description())]
    if mic and mic not in by_name:
        raise AudioError(
            f'The microphone "{mic}" set for Deskmate is not connected.',
            f"Plug it in, or pick another in {SETTINGS_HINT} (or ask IT if they set it).",
        )
    if not mic and not microphones:
        raise AudioError(
            "No microphone found on this PC.",
            "Plug in your headset (or switch its microphone on in the system's sound settings), "
            "then press Listen to call audio again. Typing or pasting the conversation still "
            "works.",
        )
    chosen = by_name[mic] if mic else microphones[0]
    if loopback == NO_LOOPBACK:
        return chosen, None
    if loopback and loopback not in by_name:
        raise AudioError(
            f'The call playback device "{loopback}" set for Deskmate is not available.',
            f"Pick another in {SETTINGS_HINT}, or choose none to listen to the microphone only.",
        )
    found = by_name.get(loopback) or next(
        (d for d in devices if is_loopback(d.description())), None
    )
    return chosen, found


def device_picker(key: str, value: str, names: Sequence[str]) -> QComboBox:
    """The settings' choice of microphone or call playback: this PC's inputs by name, the
    automatic choice, and a device set earlier that is not connected now."""
    loopback = key == LOOPBACK_KEY
    combo = QComboBox()
    combo.addItem("Automatic (a playback monitor)" if loopback else "System default", "")
    if loopback:
        combo.addItem("None (the microphone only)", NO_LOOPBACK)
    # The likelier kind first: monitors for the playback, microphones for the microphone.
    for name in sorted(names, key=lambda n: is_loopback(n) != loopback):
        combo.addItem(name, name)
    if value and combo.findData(value) < 0:
        combo.addItem(f"{value} (not connected)", value)
    combo.setCurrentIndex(max(0, combo.findData(value)))
    return combo
