"""Read a GGUF model file's header without loading the model.

llama.cpp reports a bad model file with little more than "failed to load"; reading the header
ourselves lets Deskmate say exactly what is wrong (missing, not a GGUF file, truncated download,
unsupported architecture) and what to do, in milliseconds, before llama.cpp sees the file.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from desktop.core.errors import ModelError

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
MAX_DIMS = 4  # GGML_MAX_DIMS: a tensor claiming more is a damaged header, not a model
# Architectures llama.cpp (as built for Deskmate) loads and that have a chat template we test.
SUPPORTED_ARCHITECTURES = frozenset(
    {
        "llama",
        "qwen2",
        "qwen3",
        "phi3",
        "gemma",
        "gemma2",
        "gemma3",
        "mistral",
        "granite",
        "olmo",
        "olmo2",
        "stablelm",
        "starcoder2",
        "smollm3",
        "exaone",
        "deepseek2",
        "command-r",
    }
)


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a GGUF file says about the model inside."""

    path: Path
    architecture: str
    name: str
    context_length: int
    chat_template: str | None
    size: int


class _Truncated(Exception):
    pass


def _read(handle: BinaryIO, size: int) -> bytes:
    # read(n) allocates n bytes before it reads: a length the file cannot hold is refused first,
    # so a 100-byte file claiming a 60 MB string costs nothing.
    if size > 4096 and size > os.fstat(handle.fileno()).st_size - handle.tell():
        raise _Truncated
    data = handle.read(size)
    if len(data) != size:
        raise _Truncated
    return data


def _unpack(handle: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(handle, struct.calcsize(fmt)))[0]


def _string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<Q")
    if length > 1 << 26:
        raise ValueError("implausible string length")
    return _read(handle, length).decode("utf-8", errors="replace")


def _skip_strings(handle: BinaryIO, count: int) -> None:
    length = struct.Struct("<Q")
    for done in range(count):
        (size,) = length.unpack(_read(handle, 8))
        if size > 1 << 26:
            raise ValueError("implausible string length")
        handle.seek(size, 1)
        if done % 4096 == 4095:
            time.sleep(0)  # let the window's thread run: this loop holds the interpreter lock


def _value(handle: BinaryIO, kind: int, keep: bool) -> Any:
    if kind in _SCALARS:
        return _unpack(handle, _SCALARS[kind])
    if kind == _STRING:
        return _string(handle)
    if kind == _ARRAY:
        item_kind = _unpack(handle, "<I")
        count = _unpack(handle, "<Q")
        if item_kind in _SCALARS and not keep:
            handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
            return None
        if item_kind == _STRING and not keep:
            _skip_strings(handle, count)  # the vocabulary: ~50k strings nobody reads here
            return None
        items = [_value(handle, item_kind, keep) for _ in range(count)]
        return items if keep else None
    raise ValueError(f"unknown value type {kind}")


def _tensor_bytes(dims: list[int], ggml_type: int) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    count = 1
    for dim in dims:
        count *= dim
    return count // block * type_size


def _parse(handle: BinaryIO, size: int) -> tuple[dict[str, Any], int]:
    magic = handle.read(4)
    if not b"GGUF".startswith(magic):  # a 3-byte text file is not a GGUF, however short
        raise ValueError("not GGUF")
    if len(magic) < 4:
        raise _Truncated
    version = _unpack(handle, "<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported")
    n_tensors, n_kv = _unpack(handle, "<Q"), _unpack(handle, "<Q")
    wanted = (
        "general.architecture",
        "general.name",
        "general.alignment",
        "tokenizer.chat_template",
    )
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = _string(handle)
        kind = _unpack(handle, "<I")
        value = _value(handle, kind, keep=False)
        if key in wanted or key.endswith(".context_length"):
            meta[key] = value
    data_end = 0
    for _ in range(n_tensors):
        _string(handle)
        n_dims = _unpack(handle, "<I")
        if n_dims > MAX_DIMS:  # multiplying thousands of 64-bit sizes took minutes
            raise ValueError(f"a tensor with {n_dims:,} dimensions; GGUF allows {MAX_DIMS}")
        dims = [_unpack(handle, "<Q") for _ in range(n_dims)]
        ggml_type, offset = _unpack(handle, "<I"), _unpack(handle, "<Q")
        data_end = max(data_end, offset + _tensor_bytes(dims, ggml_type))
    for key in [k for k in meta if k.endswith(".context_length")]:
        _whole(meta, key, 0)
    alignment = _whole(meta, "general.alignment", 32)
    data_start = -(-handle.tell() // alignment) * alignment
    return meta, data_start + data_end


def _whole(meta: dict[str, Any], key: str, default: int) -> int:
    """The positive whole number stored under *key* (*default* if absent), else ValueError."""
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} is {str(value)[:40]!r}, not a positive whole number")
    return value


def inspect_gguf(path: Path) -> GGUFInfo:
    """Check that *path* is a complete GGUF model file and return its header facts."""
    fix = (
        "Point the model setting (model.path) at a complete .gguf file, or clear it to use "
        "the bundled default model."
    )
    if not path.exists():
        raise ModelError(f"The model file {path} does not exist.", fix)
    if not path.is_file():
        raise ModelError(f"The model path {path} is not a file.", fix)
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            meta, needed = _parse(handle, size)
    except _Truncated:
        needed = -1
    except (ValueError, KeyError, struct.error, UnicodeDecodeError, OSError) as exc:
        raise ModelError(f"The model file {path} is not a GGUF model ({exc}).", fix) from exc
    if needed < 0 or needed > size:
        raise ModelError(
            f"The model file {path} is truncated ({size:,} bytes; incomplete download or copy).",
            "Copy or download the model again. " + fix,
        )
    arch = str(meta.get("general.architecture", ""))
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelError(
            f"The model file {path} holds a {arch or 'unknown'!s} model, which Deskmate does not "
            "support.",
            "Use a supported chat model (for example Llama, Qwen2, Phi-3 or Gemma).",
        )
    return GGUFInfo(
        path=path,
        architecture=arch,
        name=str(meta.get("general.name") or path.stem),
        context_length=int(meta.get(f"{arch}.context_length") or 2048),
        chat_template=template
        if isinstance(template := meta.get("tokenizer.chat_template"), str)
        else None,
        size=size,
    )
