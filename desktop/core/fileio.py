"""Small file helpers: atomic writes, bounded JSON reads, and names kept inside a folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write *data* to *path* so that readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


MAX_JSON_DEPTH = 32  # settings and policy files are a few levels deep; more is a broken file


def parse_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> object:
    """``json.loads`` that refuses nesting deeper than *max_depth* with a ValueError.

    A deeply nested document otherwise raises RecursionError (in the parser, or later in whoever
    walks or writes the value), which no caller expects from a bad file.
    """
    too_deep = ValueError(f"it is nested more than {max_depth} levels deep")
    try:
        data: object = json.loads(text)
    except RecursionError:
        raise too_deep from None
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise too_deep
        pending.extend((child, depth + 1) for child in children)
    return data


def confined(path: Path, folder: Path) -> Path | None:
    """*path* with symlinks resolved, if it lies inside *folder* (also resolved); else None.

    For file names taken from a pack's metadata: an absolute name, ``..`` or a symlink must not
    lead the window to a file outside the pack's own folder.
    """
    try:
        target = path.resolve()
        inside = target.is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return target if inside else None
