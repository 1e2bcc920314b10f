"""The onnxruntime embedder against sentence-transformers (PyTorch), measured in one run.

    .venv/bin/python benchmarks/embedder.py [--rounds 3] [--int8]

Needs the test venv (sentence-transformers and torch are the reference) and the corpus packs in
benchmarks/.work (see benchmarks/README.md). It writes benchmarks/results/embedder.{json,md}:

* each implementation alone in a fresh interpreter, --rounds times, alternating: load (imports
  the embedder and embeds one text, imports included: what a starting `deskmate` pays; median),
  peak RSS after embedding 64 passages, then throughput on the same 512 DuckDuckGo-pack
  passages (batch 64) and 50 queries one at a time (what a search pays), best of the rounds;
* equality: minimum cosine between the two over those passages;
* --int8: an experiment, float and int8 onnxruntime side by side in this process;
* retrieval: recall@5 and hit@5 (document level) on the labelled help-centre questions of
  split "tune", each corpus searched with its pack, with either embedder embedding the query
  (hybrid, the default ranking, and vector only); and how often the top 5 are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, WORK, isolated_home, write_result
from retrieval import metrics

from desktop.core.knowledge.embedder import OFFLINE_ENVIRONMENT, Embedder
from desktop.core.knowledge.index import Pack
from desktop.core.knowledge.search import SearchOptions, search

QUESTIONS = ROOT / "benchmarks" / "data" / "helpcentre_questions.jsonl"
PASSAGES = 512

LOAD = {
    "onnx": """
from desktop.core.knowledge.embedder import Embedder
model = Embedder()
model.embed(["warm up"])
embed = model.embed
""",
    "pytorch": """
import os
from desktop.core.knowledge.embedder import OFFLINE_ENVIRONMENT, default_model_dir
os.environ.update(OFFLINE_ENVIRONMENT)
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(default_model_dir()), device="cpu")
model.encode(["warm up"])

def embed(texts, batch_size=32):
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
""",
}
TIMED = """
import json, resource, sys, time
started = time.perf_counter()
{load}
seconds = time.perf_counter() - started
texts, queries = json.load(open(sys.argv[1]))
embed(texts[:64], batch_size=64)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
embed(texts, batch_size=64)
batch = time.perf_counter() - started
started = time.perf_counter()
for query in queries:
    embed([query])
query = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "peak_rss_mb": rss, "torch": "torch" in sys.modules,
                  "batch": batch, "query": query}}))
"""


class Reference:
    """sentence-transformers behind the Embedder interface (search needs ``embed``)."""

    def __init__(self) -> None:
        os.environ.update(OFFLINE_ENVIRONMENT)
        from sentence_transformers import SentenceTransformer

        from desktop.core.knowledge.embedder import default_model_dir

        self.model = SentenceTransformer(str(default_model_dir()), device="cpu")

    def embed(self, texts: list[str], batch_size: int = 64) -> Any:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)


def int8(float_model: Embedder, work: Path) -> Embedder:
    """An experiment, not a product id: the same embedder with onnxruntime's dynamic int8
    quantisation of every MatMul weight (per channel); needs the `onnx` package."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from desktop.core.knowledge.embedder import GRAPH_FILE, safetensors_arrays

    assert float_model.model_dir is not None
    model = onnx.load_from_string(GRAPH_FILE.read_bytes())
    weights = safetensors_arrays(float_model.model_dir / "model.safetensors")
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            tensor.CopyFrom(numpy_helper.from_array(np.array(weights[tensor.name]), tensor.name))
    onnx.save(model, work / "float.onnx")
    quantize_dynamic(
        work / "float.onnx", work / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True
    )
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    quantized = Embedder()
    quantized.embed(["warm up"])
    loaded = quantized._load()
    loaded.session = ort.InferenceSession(str(work / "int8.onnx"), options)
    return quantized


def fresh_processes(inputs: Path, texts: int, queries: int, rounds: int) -> Any:
    """Each implementation alone in a fresh interpreter (no thread pools competing), rounds
    times, alternating: load time (median), peak RSS, then passages/s and one query (best)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    found: dict[str, list[dict[str, Any]]] = {"onnx": [], "pytorch": []}
    for _ in range(rounds):
        for name, load in LOAD.items():
            done = subprocess.run(
                [sys.executable, "-c", TIMED.format(load=load), str(inputs)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            )
            found[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = {
        name: {
            "load_seconds_median": round(statistics.median(r["seconds"] for r in runs), 3),
            "load_seconds_all": [round(r["seconds"], 3) for r in runs],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
            "imports_torch": runs[0]["torch"],
        }
        for name, runs in found.items()
    }
    speed = {
        name: {
            "passages_per_second": round(texts / min(r["batch"] for r in runs), 1),
            "query_ms": round(1000 * min(r["query"] for r in runs) / queries, 2),
        }
        for name, runs in found.items()
    }
    return load, speed


def throughput(models: dict[str, Any], texts: list[str], queries: list[str], rounds: int) -> Any:
    best: dict[str, dict[str, float]] = {n: {"batch": 1e9, "query": 1e9} for n in models}
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            model.embed(texts, batch_size=64)
            best[name]["batch"] = min(best[name]["batch"], time.perf_counter() - started)
            started = time.perf_counter()
            for query in queries:
                model.embed([query])
            best[name]["query"] = min(best[name]["query"], time.perf_counter() - started)
    return {
        name: {
            "passages_per_second": round(len(texts) / b["batch"], 1),
            "query_ms": round(1000 * b["query"] / len(queries), 2),
        }
        for name, b in best.items()
    }


def retrieval(models: dict[str, Any], onnx: Embedder) -> dict[str, Any]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    tune = [r for r in rows if r["split"] == "tune" and r["relevant"]]
    packs = {c: Pack(WORK / f"{c}-pack", onnx) for c in sorted({r["corpus"] for r in tune})}
    found: dict[str, Any] = {"questions": len(tune)}
    for mode in ("hybrid", "vector"):
        options = SearchOptions(limit=10, min_score=0.0, per_document=1, mode=mode)
        ranked: dict[str, list[list[str]]] = {name: [] for name in models}
        scores: dict[str, list[dict[str, float]]] = {name: [] for name in models}
        for row in tune:
            for name, model in models.items():
                hits = search([packs[row["corpus"]]], model, row["question"], options)
                ranked[name].append([h.source for h in hits][:5])
                scores[name].append(metrics([h.source for h in hits], set(row["relevant"])))
        found[mode] = {
            name: {
                key: round(statistics.mean(s[key] for s in scores[name]), 4)
                for key in ("recall@5", "hit@5", "mrr")
            }
            for name in models
        }
        for name in models:
            same = sum(a == b for a, b in zip(ranked[name], ranked["pytorch"], strict=True))
            found[mode][name]["top5_as_pytorch"] = f"{same}/{len(tune)}"
    return found


def table(data: dict[str, Any]) -> str:
    load, speed, ret = data["load"], data["throughput"], data["retrieval"]
    rounds = len(load["onnx"]["load_seconds_all"])
    lines = [
        "# Embedder: onnxruntime vs sentence-transformers (PyTorch), all-MiniLM-L6-v2",
        "",
        f"Same run, same texts ({data['passages']} DuckDuckGo-pack passages). Minimum cosine "
        f"between the two: {data['min_cosine']}. Each implementation ran alone in fresh "
        f"processes ({rounds} rounds, alternating); passages/s is the first pass over the "
        f"{data['passages']} passages in such a process, first-use costs included. Load average "
        "during the run: "
        f"{', '.join(f'{x:.1f}' for x in data['machine']['load_average'])} on "
        f"{data['machine']['cpus']} cores.",
        "",
        "| | onnxruntime | PyTorch | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    o, p = load["onnx"], load["pytorch"]
    lines.append(
        f"| load in a fresh process, s (median) | {o['load_seconds_median']} | "
        f"{p['load_seconds_median']} | {p['load_seconds_median'] / o['load_seconds_median']:.1f}x"
        " faster |"
    )
    lines.append(
        f"| peak RSS after 64 passages, MB | {o['peak_rss_mb']} | {p['peak_rss_mb']} | "
        f"{p['peak_rss_mb'] / o['peak_rss_mb']:.1f}x less |"
    )
    o, p = speed["onnx"], speed["pytorch"]
    lines.append(
        f"| passages/s (batch 64) | {o['passages_per_second']} | {p['passages_per_second']} | "
        f"{o['passages_per_second'] / p['passages_per_second']:.2f}x |"
    )
    lines.append(
        f"| one query, ms | {o['query_ms']} | {p['query_ms']} | "
        f"{p['query_ms'] / o['query_ms']:.2f}x faster |"
    )
    lines += [
        "",
        f"Retrieval on the help-centre questions, split tune ({ret['questions']} with a relevant "
        "article), document level, the query embedded by each:",
        "",
        "| ranking | embedder | recall@5 | hit@5 | MRR | top 5 as PyTorch's |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for mode in ("hybrid", "vector"):
        for name, r in ret[mode].items():
            lines.append(
                f"| {mode} | {name} | {r['recall@5']} | {r['hit@5']} | {r['mrr']} | "
                f"{r['top5_as_pytorch']} |"
            )
    if "int8" in data:
        q, f = data["int8"], data["int8_float_beside"]
        ratio = q["passages_per_second"] / f["passages_per_second"]
        lines += [
            "",
            f"int8 (experiment, dynamic per-channel quantisation of the MatMul weights), in one "
            f"process beside float onnxruntime: {q['passages_per_second']} passages/s vs "
            f"{f['passages_per_second']} ({ratio:.2f}x), one query {q['query_ms']} ms vs "
            f"{f['query_ms']}; minimum cosine to float "
            f"{q['min_cosine_to_float']}. Its retrieval above is int8 queries against packs "
            "embedded in float (a separate embedder id would need packs built with it).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--int8", action="store_true", help="also measure an int8 variant")
    args = parser.parse_args()
    isolated_home()
    onnx = Embedder()
    texts = Pack(WORK / "duckduckgo-pack", onnx).passage_texts()[:PASSAGES]
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    queries = [r["question"] for r in rows if r["split"] == "tune"][:50]
    inputs = Path(os.environ["DESKMATE_HOME"]) / "inputs.json"
    inputs.parent.mkdir(parents=True, exist_ok=True)
    inputs.write_text(json.dumps([texts, queries]))
    load, speed = fresh_processes(inputs, len(texts), len(queries), args.rounds)
    models: dict[str, Any] = {"onnx": onnx, "pytorch": Reference()}
    if args.int8:  # float and int8 onnxruntime side by side in this process
        models["int8"] = int8(onnx, inputs.parent)
        pair = throughput({"onnx": onnx, "int8": models["int8"]}, texts, queries, args.rounds)
        speed["int8"], speed["onnx_beside_int8"] = pair["int8"], pair["onnx"]
    a, b = onnx.embed(texts), models["pytorch"].embed(texts)
    data: dict[str, Any] = {
        "passages": len(texts),
        "min_cosine": round(float((a * b).sum(axis=1).min()), 7),
        "load": load,
        "throughput": {name: speed[name] for name in ("onnx", "pytorch")},
        "retrieval": retrieval(models, onnx),
        "command": "benchmarks/embedder.py " + " ".join(sys.argv[1:]),
    }
    if args.int8:
        c = models["int8"].embed(texts)
        cosine = round(float((a * c).sum(axis=1).min()), 7)
        data["int8"] = {**speed["int8"], "min_cosine_to_float": cosine}
        data["int8_float_beside"] = speed["onnx_beside_int8"]
    write_result("embedder", data, table(data))


if __name__ == "__main__":
    main()
