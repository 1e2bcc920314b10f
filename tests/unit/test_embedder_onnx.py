"""The onnxruntime embedder gives sentence-transformers' vectors, and refuses a damaged model.

sentence-transformers (with torch) stays in the test venv only as the reference implementation:
every pack built before the switch was embedded by it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop.core.knowledge.embedder import (
    GRAPH_FILE,
    GRAPH_SHA256,
    OFFLINE_ENVIRONMENT,
    Embedder,
    EmbeddingModelMissing,
    default_model_dir,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def varied_texts() -> list[str]:
    """Demo-article paragraphs plus the edge cases: long, empty-ish, non-ASCII, odd tokens."""
    paragraphs: list[str] = []
    for path in sorted(DEMO.rglob("*.md"))[:20]:
        blocks = [b.strip() for b in path.read_text(encoding="utf-8").split("\n\n")]
        paragraphs.extend(b for b in blocks if len(b) > 40)
    article = (DEMO / "billing" / "disputing-a-charge.md").read_text(encoding="utf-8")
    edge = [
        "",
        " ",
        "\n\t\n",
        "?",
        "a",
        "Reset password",
        "HOW DO I RESET MY PASSWORD???",
        "Ünïcödé: café, naïve, façade, smörgåsbord, Straße",
        "日本語の質問: パスワードをリセットするにはどうすればいいですか",
        "Пароль не работает после обновления",
        "الفاتورة غير صحيحة",
        "emoji 😀🚀📦 in a ticket 👍",
        "Order #NW-2024-000123 charged £12.99 twice on 03/04/2025",
        "ERR_CONNECTION_RESET 0x80070005 — router ‘Hub 3’ “blinking”",
        "word " * 400,  # far over 256 tokens: truncation must match
        article,  # a whole article: truncated the same way
        " ".join(re.findall(r"\w+", article)[::-1]),
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "a\u00a0non-breaking\u200bzero-width\u00adsoft-hyphen text",
        "Tab\tseparated\tvalues\nand\r\nnewlines",
    ]
    texts = paragraphs[:100] + edge
    assert len(texts) >= 110
    return texts


@pytest.fixture(scope="module")
def reference() -> Any:
    """sentence-transformers' own model over the same packaged folder (the PyTorch path)."""
    os.environ.update(OFFLINE_ENVIRONMENT)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(default_model_dir()), device="cpu")


@pytest.mark.slow
def test_vectors_equal_sentence_transformers(embedder: Embedder, reference: Any) -> None:
    texts = varied_texts()
    ours = embedder.embed(texts, batch_size=16)
    theirs = reference.encode(texts, batch_size=16, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.99999, [texts[i][:40] for i in np.argsort(cosine)[:3]]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # Long texts are cut to 256 tokens with [CLS] and [SEP]: 400 words embed as 254 do.
    assert embedder.count_tokens(texts[-6]) == 400
    cut, whole = embedder.embed(["word " * 254, "word " * 400])
    assert float(cut @ whole) > 0.999999
    assert float(cut @ embedder.embed(["word " * 253])[0]) < 0.999999


@pytest.mark.slow
def test_token_counts_and_sizes_equal_sentence_transformers(
    embedder: Embedder, reference: Any
) -> None:
    texts = varied_texts()
    tokenizer = reference.tokenizer
    expected = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert [embedder.count_tokens(t) for t in texts] == expected
    assert max(expected) > 256  # counting never truncates
    assert embedder.max_tokens == reference.max_seq_length == 256
    assert embedder.dimension == reference.get_embedding_dimension()
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_batches_and_order_do_not_change_a_vector(embedder: Embedder) -> None:
    texts = varied_texts()[:40]
    together = embedder.embed(texts, batch_size=7)
    alone = np.vstack([embedder.embed([t]) for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-5)


@pytest.mark.slow
def test_the_token_counter_is_read_only_when_tokens_are_counted(tmp_path: Path) -> None:
    """Searching needs the truncating tokenizer only; the counting one (for building packs)
    is read on the first count, and counts without truncating."""
    fresh = Embedder(model_dir=_model_copy(tmp_path))
    fresh.embed(["warm up"])
    loaded = fresh._model
    assert loaded is not None and loaded.counter is None
    long_text = "word " * 400
    assert fresh.count_tokens(long_text) == 400
    assert loaded.counter is not None
    assert fresh.embed([long_text]).shape == (1, 384)  # embedding still truncates


TEXTS = ["How do I return a damaged item?", "word " * 300, "Reset a password on Windows Server"]


def _perturbed_copy(tmp_path: Path) -> Path:
    """A copy of the model whose weights differ (every weight of the first tensor scaled)."""
    import json
    import struct

    model = _model_copy(tmp_path)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    header.pop("__metadata__", None)
    name = next(n for n in sorted(header) if header[n]["dtype"] == "F32")
    begin, end = (8 + size + o for o in header[name]["data_offsets"])
    values = np.frombuffer(bytes(data[begin:end]), dtype=np.float32) * 1.5
    data[begin:end] = values.tobytes()
    weights.unlink()  # a link to the packaged file: replaced by the changed copy
    weights.write_bytes(bytes(data))
    return model


@pytest.mark.slow
def test_the_optimised_network_is_saved_once_and_gives_the_same_vectors(tmp_path: Path) -> None:
    cache = tmp_path / "onnx"
    plain = Embedder().embed(TEXTS)
    first = Embedder(optimized_cache=cache)
    assert np.allclose(first.embed(TEXTS), plain, atol=1e-6)
    (saved,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert {p.name for p in saved.iterdir()} == {"model.onnx", "model.data", "stamp.json"}
    again = Embedder(optimized_cache=cache)
    assert np.allclose(again.embed(TEXTS), plain, atol=1e-6)
    assert again._model is not None and again._model.weights == ()  # the saved one, as it is


@pytest.mark.slow
def test_a_saved_network_is_not_used_for_other_weights(tmp_path: Path) -> None:
    cache = tmp_path / "onnx"
    Embedder(optimized_cache=cache).embed(TEXTS)  # saved for the packaged weights
    other = _perturbed_copy(tmp_path)
    expected = Embedder(model_dir=other).embed(TEXTS)  # no cache: built from these weights
    assert not np.allclose(expected, Embedder().embed(TEXTS), atol=1e-3)
    found = Embedder(model_dir=other, optimized_cache=cache).embed(TEXTS)
    assert np.allclose(found, expected, atol=1e-6)
    assert len(list(cache.iterdir())) == 2  # one per weights


@pytest.mark.slow
def test_a_changed_saved_network_is_made_again(tmp_path: Path) -> None:
    cache = tmp_path / "onnx"
    plain = Embedder().embed(TEXTS)
    Embedder(optimized_cache=cache).embed(TEXTS)
    (saved,) = list(cache.iterdir())
    data = saved / "model.data"
    data.write_bytes(b"\0" * data.stat().st_size)  # same size, new content and time
    rebuilt = Embedder(optimized_cache=cache)
    assert np.allclose(rebuilt.embed(TEXTS), plain, atol=1e-6)
    assert rebuilt._model is not None and rebuilt._model.weights != ()  # not the changed one
    assert json.loads((saved / "stamp.json").read_text(encoding="utf-8"))  # saved anew


def _model_copy(tmp_path: Path) -> Path:
    """The packaged model folder, linked file by file so that one file can be replaced."""
    source = default_model_dir()
    assert source is not None
    copy = tmp_path / "model"
    copy.mkdir()
    for item in source.iterdir():
        (copy / item.name).symlink_to(item)
    return copy


@pytest.mark.slow
def test_tampered_graph_is_refused_with_a_fix(tmp_path: Path) -> None:
    data = bytearray(GRAPH_FILE.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "graph.onnx"
    tampered.write_bytes(bytes(data))
    with pytest.raises(EmbeddingModelMissing, match="damaged") as caught:
        Embedder(graph_file=tampered).embed(["hello"])
    assert "Reinstall Deskmate" in caught.value.fix


@pytest.mark.slow  # goes through Embedder._load, which fast tests may not reach
def test_missing_graph_or_model_is_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelMissing, match="cannot be read") as caught:
        Embedder(graph_file=tmp_path / "absent.onnx").embed(["hello"])
    assert "Reinstall Deskmate" in caught.value.fix
    with pytest.raises(EmbeddingModelMissing, match="not installed"):
        Embedder(model_dir=tmp_path).count_tokens("hello")


@pytest.mark.slow
def test_truncated_weights_are_refused_with_a_fix(tmp_path: Path) -> None:
    model = _model_copy(tmp_path)
    weights = model / "model.safetensors"
    head = weights.read_bytes()[: 1 << 20]
    weights.unlink()
    weights.write_bytes(head)
    with pytest.raises(EmbeddingModelMissing, match="cannot be loaded"):
        Embedder(model_dir=model).embed(["hello"])


def test_the_shipped_graph_is_what_the_export_script_builds() -> None:
    """The pinned graph is reproducible from the packaged weights, byte for byte."""
    model_dir = default_model_dir()
    assert model_dir is not None
    script = runpy.run_path(str(ROOT / "scripts" / "export-embedder.py"), run_name="export")
    built = script["build"](model_dir)
    assert built == GRAPH_FILE.read_bytes()
    assert hashlib.sha256(built).hexdigest() == GRAPH_SHA256


class _Reference:
    """sentence-transformers behind the Embedder interface: how packs were built before."""

    def __init__(self, model: Any, like: Embedder) -> None:
        self.model, self.model_id, self.max_tokens = model, like.model_id, like.max_tokens
        self.weights_hash, self.count_tokens = like.weights_hash, like.count_tokens

    def embed(self, texts: list[str], batch_size: int = 64) -> Any:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)


@pytest.mark.slow
def test_a_pack_built_with_pytorch_is_searched_the_same(
    tmp_path: Path, embedder: Embedder, reference: Any
) -> None:
    from desktop.core.knowledge.index import Pack, build_pack

    src = tmp_path / "src"
    shutil.copytree(DEMO / "billing", src)
    build_pack(src, tmp_path / "pack", _Reference(reference, embedder), pack_id="old")  # type: ignore[arg-type]
    pack = Pack(tmp_path / "pack", embedder)  # the compatibility check lets it through
    query = "I was charged twice, how do I dispute it?"
    ours = pack.vector_search(embedder.embed([query])[0], limit=5)
    theirs = pack.vector_search(reference.encode([query], normalize_embeddings=True)[0], limit=5)
    assert [r["text"] for r in ours] == [r["text"] for r in theirs]
    assert np.allclose([r["_distance"] for r in ours], [r["_distance"] for r in theirs], atol=1e-5)
