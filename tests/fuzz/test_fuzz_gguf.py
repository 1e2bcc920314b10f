"""Fuzzing the GGUF header reader (``inspect_gguf``) with mutated real headers and made-up ones.

The reader sees any file the user points ``model.path`` at. Whatever the bytes, it returns the
header's facts or raises :class:`ModelError` with a fix; it never allocates what a header merely
claims (2^60 tensors, a 2^40-byte string) and never loops over a count the file cannot hold.
"""

from __future__ import annotations

import math
import struct
from functools import cache
from pathlib import Path

import numpy as np
from fuzzkit import has_fix, memory_box, mutated, only_documented
from gguf import GGUFWriter
from hypothesis import given
from hypothesis import strategies as st

from desktop.core.errors import ModelError
from desktop.core.generation.gguf_info import GGUFInfo, inspect_gguf

HUGE = st.sampled_from([2**32 - 1, 2**40, 2**60, 2**63, 2**64 - 1])
COUNT = st.one_of(st.integers(0, 8), HUGE)


@cache
def real_header(folder: Path) -> bytes:
    """A complete tiny GGUF model, written by the gguf package."""
    path = folder / "base.gguf"
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Fuzz base")
    writer.add_context_length(512)
    writer.add_custom_alignment(64)
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_token_list(["<s>", "</s>", "hello"])
    writer.add_array("llama.fuzz.nested", [1, 2, 3])
    writer.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def string(text: bytes, claimed: int | None = None) -> bytes:
    return struct.pack("<Q", len(text) if claimed is None else claimed) + text


VALUES = st.one_of(
    st.tuples(st.just(4), st.integers(0, 2**32 - 1).map(lambda v: struct.pack("<I", v))),
    st.tuples(st.just(10), st.integers(0, 2**64 - 1).map(lambda v: struct.pack("<Q", v))),
    st.tuples(st.just(6), st.floats(width=32).map(lambda v: struct.pack("<f", v))),
    st.tuples(st.just(12), st.floats().map(lambda v: struct.pack("<d", v))),
    st.tuples(st.just(8), st.binary(max_size=40).map(string)),
    st.tuples(st.just(8), st.tuples(st.binary(max_size=8), HUGE).map(lambda t: string(*t))),
    st.tuples(  # arrays: of scalars, of strings, of arrays, with honest or absurd counts
        st.just(9),
        st.builds(
            lambda kind, count, body: struct.pack("<IQ", kind, count) + body,
            st.sampled_from([0, 4, 8, 9, 10, 13, 2**31]),
            COUNT,
            st.binary(max_size=64),
        ),
    ),
    st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=16)),  # any type code
)
KEYS = st.sampled_from(
    [
        b"general.architecture",
        b"general.name",
        b"general.alignment",
        b"llama.context_length",
        b"tokenizer.chat_template",
        b"x",
    ]
)


@st.composite
def made_up_header(draw: st.DrawFn) -> bytes:
    """A header built field by field, so counts, lengths and types can lie."""
    kvs = [(b"general.architecture", (8, string(b"llama")))]
    kvs += draw(st.lists(st.tuples(KEYS, VALUES), max_size=6))
    body = b"".join(string(key) + struct.pack("<I", kind) + value for key, (kind, value) in kvs)
    tensors = b""
    for _ in range(draw(st.integers(0, 3))):
        dims = draw(st.lists(st.integers(0, 2**64 - 1), max_size=6))
        n_dims = draw(st.one_of(st.just(len(dims)), HUGE.map(lambda n: n % 2**32)))
        tensors += string(b"t") + struct.pack("<I", n_dims)
        tensors += b"".join(struct.pack("<Q", d) for d in dims)
        tensors += struct.pack("<IQ", draw(st.integers(0, 40)), draw(st.integers(0, 2**64 - 1)))
    n_tensors = draw(st.one_of(st.just(tensors.count(b"\x01\x00\x00\x00\x00\x00\x00\x00t")), COUNT))
    n_kv = draw(st.one_of(st.just(len(kvs)), COUNT))
    version = draw(st.sampled_from([3, 2, 1, 4, 2**32 - 1]))
    header = b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + body + tensors
    return header + draw(st.binary(max_size=64))


def check(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    result = memory_box(
        lambda: only_documented(lambda: inspect_gguf(path), ModelError, seconds=5),
        limit=4 * len(data) + 4_000_000,
    )
    if isinstance(result, Exception):
        assert has_fix(result), result
        return
    assert isinstance(result, GGUFInfo)
    assert isinstance(result.architecture, str) and isinstance(result.name, str)
    assert isinstance(result.context_length, int) and result.context_length > 0
    assert result.chat_template is None or isinstance(result.chat_template, str)


@given(st.data())
def test_mutated_real_header_is_read_or_refused(tmp_path: Path, data: st.DataObject) -> None:
    check(tmp_path / "model.gguf", data.draw(mutated(real_header(tmp_path.parent))))


@given(made_up_header())
def test_made_up_header_is_read_or_refused(tmp_path: Path, header: bytes) -> None:
    check(tmp_path / "model.gguf", header)


def test_real_header_is_read(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(real_header(tmp_path))
    info = inspect_gguf(path)
    assert (info.architecture, info.context_length) == ("llama", 512)
    assert not math.isnan(info.size)


# Failures the fuzzer found, as named regression tests (each raised a bare Python error or hung).


def header(*kvs: tuple[bytes, int, bytes], tensors: bytes = b"", n_tensors: int = 0) -> bytes:
    """A llama header with the key/values *kvs* (key, type code, value bytes), padded."""
    kvs = ((b"general.architecture", 8, string(b"llama")), *kvs)
    body = b"".join(string(key) + struct.pack("<I", kind) + value for key, kind, value in kvs)
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs)) + body + tensors + bytes(64)


def refused(tmp_path: Path, data: bytes) -> ModelError:
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    result = only_documented(lambda: inspect_gguf(path), ModelError, seconds=5)
    assert isinstance(result, ModelError), result
    assert has_fix(result)
    return result


def test_regression_gguf_fractional_alignment(tmp_path: Path) -> None:
    """general.alignment 0.5 (a float) became 0: ZeroDivisionError."""
    error = refused(tmp_path, header((b"general.alignment", 6, struct.pack("<f", 0.5))))
    assert "general.alignment" in error.message


def test_regression_gguf_infinite_alignment(tmp_path: Path) -> None:
    """general.alignment +inf: OverflowError from int()."""
    refused(tmp_path, header((b"general.alignment", 6, struct.pack("<f", math.inf))))


def test_regression_gguf_context_length_as_text(tmp_path: Path) -> None:
    """llama.context_length stored as the string "abc": ValueError outside the reader's try."""
    error = refused(tmp_path, header((b"llama.context_length", 8, string(b"abc"))))
    assert "llama.context_length" in error.message


def test_regression_gguf_context_length_infinite_or_negative(tmp_path: Path) -> None:
    """llama.context_length +inf (OverflowError), or -5 (returned as the model's context)."""
    refused(tmp_path, header((b"llama.context_length", 12, struct.pack("<d", math.inf))))
    refused(tmp_path, header((b"llama.context_length", 5, struct.pack("<i", -5))))


def test_regression_gguf_chat_template_not_text(tmp_path: Path) -> None:
    """tokenizer.chat_template stored as a number was returned as the template."""
    path = tmp_path / "model.gguf"
    path.write_bytes(header((b"tokenizer.chat_template", 4, struct.pack("<I", 5))))
    assert inspect_gguf(path).chat_template is None


def test_regression_gguf_tensor_with_thousands_of_dimensions(tmp_path: Path) -> None:
    """One tensor claiming 60,000 dimensions of 2^64-1: 38 s of big-integer products for a
    480 kB file. GGUF tensors have at most 4 dimensions."""
    dims = 60_000
    tensor = string(b"t") + struct.pack("<I", dims) + struct.pack("<Q", 2**64 - 1) * dims
    error = refused(tmp_path, header(tensors=tensor + struct.pack("<IQ", 0, 0), n_tensors=1))
    assert "dimensions" in error.message


def test_regression_gguf_claimed_string_length_is_not_allocated(tmp_path: Path) -> None:
    """A 100-byte file whose key claims 16 MB (under the 64 MB string limit): ``read(n)``
    allocated the 16 MB before finding the file ends (deep fuzz run, both properties)."""
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 24) + b"general"
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    error = memory_box(lambda: refused(tmp_path, data), limit=1_000_000)
    assert "truncated" in error.message
