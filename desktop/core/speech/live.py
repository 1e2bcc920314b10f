"""The call as it happens: frames in, partial and final text per speaker out, as events.

:func:`listen` is a plain generator (run it on a worker thread; the window turns each event into
a signal). For every frame it asks that speaker's :class:`~.vad.Segmenter` whether a turn has
ended; while a turn grows it re-transcribes the turn so far about once a second
(:class:`Partial`), and when the turn ends it transcribes it once more (:class:`Final`). Audio is
dropped as soon as its turn is transcribed. The text of the call is kept in a
:class:`CallTranscript`, in memory, for this call only.

Each customer :class:`Final` is what the listen panel needs: :meth:`CallTranscript.conversation`
is labelled text (``Customer: ...`` / ``Agent: ...``), the same text an agent would paste, so
suggestions and the sensitive-case check run through :func:`desktop.core.listen.suggest`
unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from desktop.core.speech.audio import AGENT, AudioSource, Samples
from desktop.core.speech.vad import Segmenter, Turn

PARTIAL_EVERY_S = 1.0
PARTIAL_MAX_S = 12.0  # longer turns get no more partials (each would cost more than it shows)
BEHIND_S = 0.3  # no partials while the frames being read are older than this


class Transcribes(Protocol):
    def text(self, samples: Samples) -> str: ...


@dataclass(frozen=True)
class Partial:
    """The turn so far, re-read while the speaker is still talking."""

    speaker: str
    text: str


@dataclass(frozen=True)
class Final:
    """A finished turn. *heard_at* is when its last loud frame arrived and *done_at* when its text
    was ready (``time.monotonic()``): the latency the agent sees is ``done_at - heard_at``."""

    speaker: str
    text: str
    start: float
    end: float
    heard_at: float
    done_at: float
    cut: bool = False

    @property
    def latency_s(self) -> float:
        return self.done_at - self.heard_at


@dataclass(frozen=True)
class Skipped:
    """A loud stretch that was not speech (music, noise): nothing was transcribed."""

    speaker: str
    start: float
    end: float


Event = Partial | Final | Skipped


@dataclass
class CallTranscript:
    """The call's finished turns, as text only."""

    finals: list[Final] = field(default_factory=list)

    def add(self, final: Final) -> None:
        self.finals.append(final)

    def conversation(self) -> str:
        """Labelled text, as the listen panel reads pasted conversations."""
        return "\n".join(f"{_label(f.speaker)}: {f.text}" for f in self.finals)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": " ".join(f.text for f in self.finals),
            "turns": [
                {
                    "speaker": f.speaker,
                    "start": round(f.start, 2),
                    "end": round(f.end, 2),
                    "text": f.text,
                }
                for f in self.finals
            ],
        }


def _label(speaker: str) -> str:
    return "Agent" if speaker == AGENT else "Customer"


def listen(
    source: AudioSource,
    speech: Transcribes,
    stop: threading.Event | None = None,
    partials: bool = True,
) -> Iterator[Event]:
    """Events for the call in *source* until it ends or *stop* is set; the turns still open at
    the end are finished and transcribed."""
    segmenters = {s: Segmenter(s) for s in source.speakers}
    last_partial = {s: 0.0 for s in source.speakers}
    heard = {s: 0.0 for s in source.speakers}
    clock = _Clock()
    try:
        for frame in source.frames():
            if stop is not None and stop.is_set():
                break
            segmenter = segmenters[frame.speaker]
            turn = segmenter.push(frame)
            if segmenter.loud:
                heard[frame.speaker] = time.monotonic()
            if turn is not None:
                yield from _final(speech, turn, heard[frame.speaker])
                last_partial[frame.speaker] = 0.0
            elif partials and segmenter.in_turn and not clock.behind(frame.end):
                due = segmenter.buffered_s - last_partial[frame.speaker] >= clock.every
                if due and segmenter.buffered_s <= PARTIAL_MAX_S:
                    last_partial[frame.speaker] = segmenter.buffered_s
                    with clock.timing():
                        text = speech.text(segmenter.growing())
                    if text:
                        yield Partial(frame.speaker, text)
    finally:
        source.close()
    for speaker, segmenter in segmenters.items():
        turn = segmenter.finish()
        if turn is not None:
            yield from _final(speech, turn, heard[speaker] or time.monotonic())


def wake(source: Any) -> None:
    """Unblock a source waiting for live audio that may never come (a capture that stopped), so
    the listening thread sees the stop. A file is left alone: it is read to its next frame."""
    from desktop.core.speech.audio import PushStream

    while source is not None:
        stream = getattr(source, "stream", None)
        if isinstance(stream, PushStream):
            stream.close()
        source = getattr(source, "source", None)  # Paced wraps another source


class _Clock:
    """Partial text is a nicety: it is skipped while the transcriber is behind the call (a
    live source delivers frames late), and spaced out to at most about half the CPU time."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.every = PARTIAL_EVERY_S

    def behind(self, audio_s: float) -> bool:
        return time.monotonic() - self.began > audio_s + BEHIND_S

    @contextmanager
    def timing(self) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.every = max(PARTIAL_EVERY_S, 2 * (time.monotonic() - started))


def _final(speech: Transcribes, turn: Turn, heard_at: float) -> Iterator[Event]:
    text = speech.text(turn.samples)
    if not text:
        yield Skipped(turn.speaker, turn.start, turn.end)
        return
    yield Final(turn.speaker, text, turn.start, turn.end, heard_at, time.monotonic(), turn.cut)


class Listener:
    """:func:`listen` on a thread of its own, below the window's priority: *on_event* gets each
    event, then *on_end* gets None when the call ended, or the exception that ended it (an
    :class:`~desktop.core.errors.UserError` for bad audio). Both are called on that thread.
    *vocabulary*, when given, is called there first: the words Whisper is told to expect."""

    def __init__(
        self,
        source: AudioSource,
        speech: Any,
        on_event: Callable[[Event], None],
        on_end: Callable[[BaseException | None], None],
        low_priority: bool = True,
        vocabulary: Callable[[], str] | None = None,
    ) -> None:
        self.source = source
        self.vocabulary = vocabulary  # words to listen for, read on the listening thread
        self.speech = speech
        self.on_event = on_event
        self.on_end = on_end
        self.low_priority = low_priority
        self.stopping = threading.Event()
        self.transcript = CallTranscript()
        self.thread = threading.Thread(target=self._run, name="deskmate-listen", daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def stop(self, wait_s: float | None = None) -> bool:
        """Ask the thread to end after the frame it is on; True if it has ended (within
        *wait_s*, when given)."""
        self.stopping.set()
        wake(self.source)
        if wait_s is not None:
            self.thread.join(wait_s)
        return not self.thread.is_alive()

    def _run(self) -> None:
        from desktop.core import priority

        error: BaseException | None = None
        try:
            if self.low_priority:
                priority.lower_current_thread()
            if self.vocabulary is not None:
                self.speech.hotwords = self.vocabulary()
            self.speech.model()  # load here: its threads take this thread's priority
            for event in listen(self.source, self.speech, self.stopping):
                if isinstance(event, Final):
                    self.transcript.add(event)
                self.on_event(event)
        except Exception as exc:  # reported through on_end, never raised on this thread
            error = exc
        self.on_end(error)
