"""The embedding network as onnxruntime optimises it, saved once in the cache folder.

Building a session from the exported graph makes onnxruntime optimise it (fuse attention, layer
norms and GELUs, fold constants) at every start: half the CPU of loading the embedder. The
optimised graph and its weights are saved in one folder per (pinned graph, weights' SHA-256,
onnxruntime version), written beside its final place and renamed into it, with a stamp naming
each file's size, modification time and inode. A saved folder whose files are not the stamped
ones (changed, replaced, half-written) is not used: it is made again. Nothing here imports
onnxruntime: the embedder passes it in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

PROVIDERS = ["CPUExecutionProvider"]
MODEL = "model.onnx"
DATA = "model.data"  # the optimised weights, named by the model file
STAMP = "stamp.json"
# EXTENDED: every fusion of a transformer, none that ties the saved graph to this CPU's layout.
LEVEL = "ORT_ENABLE_EXTENDED"


def folder(root: Path, graph_sha256: str, weights_sha256: str, ort: Any) -> Path:
    """Where the optimised network for this graph, these weights and this onnxruntime lives."""
    key = f"{graph_sha256}|{weights_sha256}|{ort.__version__}|{LEVEL}"
    return root / hashlib.sha256(key.encode()).hexdigest()[:24]


def _stamp(cache: Path) -> dict[str, list[int]]:
    found = {}
    for name in (MODEL, DATA):
        info = (cache / name).stat()
        found[name] = [info.st_size, info.st_mtime_ns, info.st_ino]
    return found


def open_saved(ort: Any, errors: tuple[type[Exception], ...], cache: Path, options: Any) -> Any:
    """The saved optimised session, or None when there is none usable (then remove it)."""
    try:
        stamp = json.loads((cache / STAMP).read_text(encoding="utf-8"))
        if stamp != _stamp(cache):
            raise ValueError("not the files saved")
    except (OSError, ValueError):
        if cache.exists():
            shutil.rmtree(cache, ignore_errors=True)
        return None
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # it is
    try:
        return ort.InferenceSession(str(cache / MODEL), options, providers=PROVIDERS)
    except errors:
        shutil.rmtree(cache, ignore_errors=True)
        return None


def save(
    ort: Any, errors: tuple[type[Exception], ...], cache: Path, graph: bytes, options: Any
) -> Any:
    """A session optimising *graph* (weights in *options*), its result saved in *cache*; a
    cache that cannot be written is skipped (the session is the same)."""
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVEL)
    partial = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        partial.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ort.InferenceSession(graph, options, providers=PROVIDERS)
    options.optimized_model_filepath = str(partial / MODEL)
    external = "session.optimized_model_external_initializers_"
    options.add_session_config_entry(external + "file_name", DATA)
    options.add_session_config_entry(external + "min_size_in_bytes", "1024")
    try:
        session = ort.InferenceSession(graph, options, providers=PROVIDERS)
    except errors:  # the optimised graph could not be written (a full disk): not saved
        shutil.rmtree(partial, ignore_errors=True)
        options.optimized_model_filepath = ""
        return ort.InferenceSession(graph, options, providers=PROVIDERS)
    try:
        (partial / STAMP).write_text(json.dumps(_stamp(partial)), encoding="utf-8")
        partial.rename(cache)  # whole, or not at all (another process may have been first)
    except OSError:
        pass
    shutil.rmtree(partial, ignore_errors=True)
    return session
