"""The listen panel's "Listen to call audio": the call transcribed on this PC, each finished turn
added to the conversation as ``Customer: ...`` / ``Agent: ...``, so the panel's own check (need,
articles, sensitive case) runs on it exactly as on pasted text.

The work is :class:`desktop.core.speech.live.Listener` (its own low-priority thread); this only
turns its callbacks into signals on the UI thread. Where the audio comes from is
``audio_source``: by default the microphone and the call's playback (:mod:`.capture`, Qt
Multimedia, devices from the settings); :func:`pick_source` (the button's menu) is a recording
or a softphone's stream (a WAV file, or a named pipe of raw 16 kHz stereo PCM). A device that
fails mid-call stops listening with a message; the conversation so far stays in the panel.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from desktop.core import render
from desktop.core.errors import UserError
from desktop.core.speech.audio import AudioSource, FileSource, StreamSource
from desktop.core.speech.live import Final, Listener, Partial, Skipped
from desktop.gui.workers import report_if_bug

if TYPE_CHECKING:
    from desktop.gui.parts.capture import Capture

SETTING = "listen.audio"


def pick_source(parent: Any) -> AudioSource | None:
    """Ask the agent for a call recording or a softphone's audio pipe."""
    name, _ = QFileDialog.getOpenFileName(
        parent, "Call audio", "", "Audio (*.wav *.flac *.mp3 *.ogg);;Any file (*)"
    )
    if not name:
        return None
    path = Path(name)
    if stat.S_ISFIFO(path.stat().st_mode):
        return StreamSource(_Pipe(path), channels=2)
    return FileSource(path)


class _Pipe:
    """A named pipe opened on the listening thread at its first read: opening one waits for the
    writer (the softphone), which must not hold up the window."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def read(self, size: int) -> bytes:
        if self.handle is None:
            self.handle = self.path.open("rb")
        data: bytes = self.handle.read(size)
        return data

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class CallAudio(QObject):
    """Start and stop listening; deliver turns and problems to the listen part."""

    event = Signal(object)  # type: ignore[assignment]  # shadows QObject.event on purpose
    ended = Signal(object)  # None, or the exception that ended listening
    final = Signal(object)  # a Final, once it is in the conversation

    def __init__(self, part: Any, add_turn: Callable[[Final], None]) -> None:
        super().__init__()
        self.part = part
        self.pane = part.pane
        self.add_turn = add_turn
        self.audio_source: Callable[[], AudioSource | None] = self.devices
        self.listener: Listener | None = None
        self.vocabulary = True  # Whisper listens for the packs' words (benchmarks turn it off)
        self.capture: Capture | None = None
        self.problem: str = ""  # why listening stopped, when a device failed
        self.event.connect(self._on_event)
        self.ended.connect(self._on_ended)
        self.pane.audio_button.toggled.connect(self._on_toggled)
        # A recording, or a softphone that exposes its audio as a stream: the button's menu.
        self.from_file = QAction("Listen to a recording or a softphone's stream…", self)
        self.from_file.triggered.connect(self.start_from_file)
        self.pane.audio_button.addAction(self.from_file)
        self.pane.audio_button.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def start_from_file(self) -> None:
        """Listen to a file or named pipe the agent picks instead of the devices, this once."""
        if self.listener is not None:
            return
        devices, self.audio_source = self.audio_source, lambda: pick_source(self.pane)
        try:
            self.start()
        finally:
            self.audio_source = devices

    def apply_policy(self) -> None:
        allowed = bool(self.part.shell.context.settings.get(SETTING))
        self.pane.audio_button.setVisible(allowed)
        self.part.call_ended_button.setVisible(allowed)
        if not allowed:
            self.stop()

    def devices(self) -> AudioSource:
        """The microphone and the call's playback chosen in the settings, capturing."""
        from desktop.gui.parts import capture  # Qt Multimedia loads when listening starts

        settings = self.part.shell.context.settings
        mic, loopback = capture.choose(
            capture.inputs(),
            str(settings.get(capture.MIC_KEY)),
            str(settings.get(capture.LOOPBACK_KEY)),
        )
        self.capture = capture.Capture.open(mic, loopback)
        self.capture.failed.connect(self._on_capture_failed)
        return self.capture.source()

    def _on_capture_failed(self, error: object) -> None:
        """A device went away or broke: listening ends (open turns are finished first)."""
        text = render.problem_text(error) if isinstance(error, Exception) else str(error)
        self.problem = f"Listening stopped: {text}"
        self._show(self.problem)
        self.stop()

    def _on_toggled(self, on: bool) -> None:
        if on and self.listener is None:
            self.start()
        elif not on:
            self.stop()

    def start(self) -> None:
        """Open the source and start transcribing; a problem is shown and nothing starts."""
        from desktop.core.speech.whisper import Speech

        self.problem = ""
        try:
            source = self.audio_source()
            speech = Speech.default() if source is not None else None
        except UserError as exc:
            self._show(render.problem_text(exc))
            self._release()
            source = None
        if source is None or speech is None:
            self._set_button(False)
            return
        self.listener = Listener(
            source, speech, self.event.emit, self.ended.emit, vocabulary=self._vocabulary()
        ).start()
        self._set_button(True)
        self._show(self._listening_text(source))

    def _vocabulary(self) -> Callable[[], str] | None:
        """The packs' words to listen for, computed on the listening thread (once per set of
        packs: see desktop.core.speech.vocabulary)."""
        from desktop.core.speech import vocabulary

        packs = list(self.part.shell.packs.values())
        return (lambda: vocabulary.hotwords(packs)) if self.vocabulary and packs else None

    @staticmethod
    def _listening_text(source: AudioSource) -> str:
        from desktop.gui.parts.devices import LINUX_LOOPBACK, SETTINGS_HINT

        if tuple(source.speakers) == ("agent",):
            return (
                "Listening to your microphone only: this PC offers no input for the call's "
                "playback, so the customer is not heard. Ask IT for one (Windows: Stereo Mix or "
                f"a virtual cable; Linux: `{LINUX_LOOPBACK}`), then pick it in {SETTINGS_HINT}."
            )
        return "Listening… the customer's words appear in the conversation."

    def _release(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None

    def stop(self, wait_s: float | None = None) -> None:
        """Stop listening (the turn being transcribed is finished first, within *wait_s*)."""
        self._release()
        if self.listener is not None:
            self.listener.stop(wait_s)
        self._set_button(False)

    def _on_event(self, event: object) -> None:
        if isinstance(event, Partial):
            who = "Agent" if event.speaker == "agent" else "Customer"
            self._show(f"{who} (speaking): {event.text}")
        elif isinstance(event, Final):
            self.add_turn(event)
            self.final.emit(event)
        elif isinstance(event, Skipped):
            self._show("Heard sound that is not speech (music or noise): nothing transcribed.")

    def _on_ended(self, error: object) -> None:
        if self.listener is not None:
            self.listener.transcript.finals.clear()  # the call's text lives in the panel only
        self.listener = None
        self._release()
        self._set_button(False)
        if isinstance(error, Exception):
            if not isinstance(error, UserError):
                report_if_bug(error)
            self._show(f"Listening stopped: {render.problem_text(error)}")
        else:
            self._show(self.problem or "Listening ended.")

    def _show(self, text: str) -> None:
        self.pane.audio_status.setText(text)
        self.pane.audio_status.show()

    def _set_button(self, on: bool) -> None:
        button = self.pane.audio_button
        button.blockSignals(True)
        button.setChecked(on)
        button.blockSignals(False)
