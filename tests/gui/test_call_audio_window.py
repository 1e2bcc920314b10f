"""The listen panel listening to call audio, in the real window offscreen: a generated call
(file source standing in for the microphone) is transcribed, each customer turn joins the
conversation, suggestions follow and a sensitive turn raises the banner; bad audio is a message
and the panel keeps working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import speechkit
from guikit import DAMAGED, LONG, start
from PySide6.QtCore import Qt

from desktop.core.errors import AudioError
from desktop.core.speech.audio import FileSource

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qt_log_ignore("propagateSizeHints"),
    pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox"),
]

CALL = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "My phone arrived with a cracked screen, can I send it back?"),
    ("agent", "I am sorry to hear that."),
    ("customer", "I have lost my job and I don't see the point in going on any more."),
]


def _allow_audio(window: Any) -> Any:
    part = window.parts["listen"]
    assert not window.listen.audio_button.isVisible()  # off by default
    window.shell.context.settings.set("listen.audio", True)
    window.shell.settings_changed.emit()
    assert window.listen.audio_button.isVisible()
    return part


def _play(qtbot: Any, window: Any, path: Path) -> None:
    part = window.parts["listen"]
    part.audio.audio_source = lambda: FileSource(path)
    with qtbot.waitSignal(part.audio.ended, timeout=LONG):
        qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)


def test_call_audio_feeds_the_listen_panel(
    qtbot: Any, make_window: Any, context: Any, tmp_path: Path
) -> None:
    window = make_window(context)
    start(qtbot, window)
    part = _allow_audio(window)
    shown: list[Any] = []
    part.suggestions_shown.connect(lambda hits: shown.append([h.source for h in hits]))
    routes: list[Any] = []
    part.route_shown.connect(routes.append)

    pcm, _ = speechkit.call(CALL[:2])
    _play(qtbot, window, speechkit.write_wav(tmp_path / "call.wav", pcm))
    # The customer's turn is checked as pasted text is: the damaged-item article comes up.
    # Among the cards shown (4th of 5 for the transcript since the coverage term; 3rd before).
    qtbot.waitUntil(lambda: any(DAMAGED in hits for hits in shown), timeout=LONG)
    text = window.listen.conversation.toPlainText()
    assert text.startswith("Agent: ") and "\nCustomer: " in text and "cracked screen" in text
    assert not part.route_banner.isVisible()
    assert "ended" in window.listen.audio_status.text()
    assert not window.listen.audio_button.isChecked()

    # The call goes on (listening again): a sensitive customer turn raises the banner.
    pcm, _ = speechkit.call(CALL[2:])
    _play(qtbot, window, speechkit.write_wav(tmp_path / "more.wav", pcm))
    qtbot.waitUntil(lambda: any(r is not None for r in routes), timeout=LONG)
    text = window.listen.conversation.toPlainText()
    assert text.count("Customer: ") == 2 and text.count("Agent: ") == 2
    assert part.route_banner.isVisible() and "Route to a person" in part.route_banner.text()


def test_bad_audio_is_a_message_and_the_panel_keeps_working(
    qtbot: Any, make_window: Any, context: Any, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(100))
    window = make_window(context)
    start(qtbot, window)
    part = _allow_audio(window)
    part.audio.audio_source = lambda: FileSource(broken)
    qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)
    assert "broken.wav" in window.listen.audio_status.text()
    assert "sox" in window.listen.audio_status.text()
    assert not window.listen.audio_button.isChecked() and part.audio.listener is None

    def unplugged() -> Any:
        raise AudioError("The headset was unplugged.", "Plug it back in.")

    part.audio.audio_source = unplugged
    qtbot.mouseClick(window.listen.audio_button, Qt.MouseButton.LeftButton)
    assert "unplugged" in window.listen.audio_status.text()
    with qtbot.waitSignal(window.suggestions_shown, timeout=LONG) as found:
        window.listen.conversation.setPlainText(
            "Customer: my phone arrived with a cracked screen, can I send it back?"
        )
    assert DAMAGED in [h.source for h in found.args[0]]

    # The setting turned off (or locked off by IT) hides the choice again.
    window.shell.context.settings.set("listen.audio", False)
    window.shell.settings_changed.emit()
    assert not window.listen.audio_button.isVisible()
