"""Reading GGUF headers: the real SmolLM2 file, damaged copies and tiny files written here."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFWriter
from gguf.quants import quantize

from desktop.core.errors import ModelError
from desktop.core.generation.gguf_info import SUPPORTED_ARCHITECTURES, inspect_gguf


def write_tiny_gguf(
    path: Path,
    arch: str = "llama",
    *,
    context_length: int | None = 512,
    name: str | None = "Tiny test model",
) -> Path:
    """A real, complete GGUF file with a few small random tensors (writes in milliseconds)."""
    rng = np.random.default_rng(0)
    writer = GGUFWriter(str(path), arch)
    if name:
        writer.add_name(name)
    if context_length:
        writer.add_context_length(context_length)
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_token_list(["<s>", "</s>", "hello", "world"])
    writer.add_tensor("token_embd.weight", rng.standard_normal((4, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", rng.standard_normal(8, dtype=np.float32))
    # A block-quantized tensor last, sized so that no padding follows it: the header's size
    # arithmetic must know Q8_0 blocks (32 values in 34 bytes) to find the file's true end.
    weights = rng.standard_normal((16, 32), dtype=np.float32)
    writer.add_tensor(
        "output.weight",
        quantize(weights, GGMLQuantizationType.Q8_0),
        raw_dtype=GGMLQuantizationType.Q8_0,
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def truncated_copy(source: Path, dest: Path, size: int) -> Path:
    with source.open("rb") as handle:
        dest.write_bytes(handle.read(size))
    return dest


# The real model


@pytest.mark.slow
def test_real_smollm2_header_parses(smollm2_path: Path) -> None:
    info = inspect_gguf(smollm2_path)

    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert "135M" in info.name
    assert info.size == smollm2_path.stat().st_size
    assert info.path == smollm2_path


# SmolLM2's header (metadata and tensor table) is about 1.8 MB: cut in the first key-value
# pairs, in the middle of the vocabulary, and in the middle of the weights.
@pytest.mark.slow
@pytest.mark.parametrize("size", [1_000, 1_000_000, 50_000_000])
def test_truncated_copies_of_the_real_model_are_reported_as_truncated(
    smollm2_path: Path,
    tmp_path: Path,
    size: int,
) -> None:
    copy = truncated_copy(smollm2_path, tmp_path / "partial.gguf", size)

    with pytest.raises(ModelError, match="truncated") as caught:
        inspect_gguf(copy)

    assert f"{size:,} bytes" in caught.value.message
    assert "download the model again" in caught.value.fix


@pytest.mark.slow
def test_real_model_missing_its_last_byte_is_truncated(smollm2_path: Path, tmp_path: Path) -> None:
    size = smollm2_path.stat().st_size
    copy = truncated_copy(smollm2_path, tmp_path / "almost.gguf", size - 1)

    with pytest.raises(ModelError, match="truncated"):
        inspect_gguf(copy)


# Files that are not models


@pytest.mark.parametrize(
    "content",
    [b"This is a text file, not a model.\n" * 20, b"hi\n", b"GGUX" + b"\x00" * 100],
)
def test_file_that_is_not_gguf_is_named_so(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.gguf"
    path.write_bytes(content)

    with pytest.raises(ModelError, match="not a GGUF") as caught:
        inspect_gguf(path)

    assert str(path) in caught.value.message
    assert "model.path" in caught.value.fix


def test_empty_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")

    with pytest.raises(ModelError, match="truncated"):
        inspect_gguf(path)


def test_unknown_gguf_version_is_refused(tmp_path: Path) -> None:
    data = bytearray(write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes())
    data[4:8] = struct.pack("<I", 99)
    path = tmp_path / "future.gguf"
    path.write_bytes(bytes(data))

    with pytest.raises(ModelError, match="GGUF version 99 is not supported"):
        inspect_gguf(path)


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "model.gguf"

    with pytest.raises(ModelError, match="does not exist") as caught:
        inspect_gguf(path)

    assert str(path) in caught.value.message


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()

    with pytest.raises(ModelError, match="is not a file"):
        inspect_gguf(folder)


# Tiny GGUF files written by the gguf package


def test_tiny_llama_gguf_parses(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf")

    info = inspect_gguf(path)

    assert (info.architecture, info.name, info.context_length) == ("llama", "Tiny test model", 512)
    assert info.chat_template == "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert info.size == path.stat().st_size


def test_tiny_gguf_without_name_or_context_gets_defaults(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "bare-model.gguf", context_length=None, name=None)

    info = inspect_gguf(path)

    assert (info.name, info.context_length) == ("bare-model", 2048)


def test_tiny_gguf_missing_its_last_byte_is_truncated(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    copy = truncated_copy(path, tmp_path / "cut.gguf", path.stat().st_size - 1)

    with pytest.raises(ModelError, match="truncated"):
        inspect_gguf(copy)


@pytest.mark.parametrize("arch", ["bert", "nomic-bert", "whisper"])
def test_architecture_deskmate_does_not_support_is_refused(tmp_path: Path, arch: str) -> None:
    assert arch not in SUPPORTED_ARCHITECTURES
    path = write_tiny_gguf(tmp_path / f"{arch}.gguf", arch)

    with pytest.raises(ModelError, match="does not support") as caught:
        inspect_gguf(path)

    assert f"holds a {arch} model" in caught.value.message
    assert caught.value.fix


@pytest.mark.parametrize("arch", ["qwen2", "phi3", "gemma2"])
def test_other_supported_architectures_parse(tmp_path: Path, arch: str) -> None:
    assert inspect_gguf(write_tiny_gguf(tmp_path / f"{arch}.gguf", arch)).architecture == arch
