"""Search latency (query embedding + retrieval) at 1k, 10k and 100k chunks.

    .venv/bin/python benchmarks/latency.py

Starts from the pack of the whole Rackspace corpus (about 14k chunks, see retrieval.py) and makes
packs of 1k and 10k chunks (its first rows) and of 100k chunks (the corpus repeated with small
noise on the vectors, as further documents). Each scaled pack gets the same indexes a real build
of that size gets (full-text always; a vector index from 50k rows). Every labelled question is run
through the product's search (hybrid, relevance floor, collapse) after a warm-up, and p50/p95 of
the whole call and of its parts go to benchmarks/results/latency.{json,md}. Target: p95 <= 50 ms
at 100k on a 2-core machine.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from common import WORK, load_questions, percentile, rackspace_pack, write_result

from desktop.core.knowledge.build import TABLE, index_table
from desktop.core.knowledge.embedder import Embedder
from desktop.core.knowledge.index import Pack
from desktop.core.knowledge.search import SearchOptions, search

SIZES = (1_000, 10_000, 100_000)


def scaled_pack(base: Path, rows: int) -> Path:
    import lancedb
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    dest = WORK / f"scale-{rows}"
    if (dest / "manifest.json").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    table = lancedb.connect(str(base / "lance")).open_table(TABLE).to_arrow()
    table = table.drop_columns(["id"])
    parts, copy, rng = [], 0, np.random.default_rng(7)
    while sum(p.num_rows for p in parts) < rows:
        part = table.slice(0, rows - sum(p.num_rows for p in parts))
        if copy:
            vectors = np.stack(part["vector"].to_numpy(zero_copy_only=False))
            vectors = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            part = part.set_column(
                part.schema.get_field_index("vector"),
                "vector",
                pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1]),
            )
            part = part.set_column(
                part.schema.get_field_index("source"),
                "source",
                pc.binary_join_element_wise(part["source"], f"#copy{copy}", ""),
            )
        parts.append(part)
        copy += 1
    scaled = pa.concat_tables(parts)
    scaled = scaled.add_column(0, "id", pa.array(range(scaled.num_rows), pa.int32()))
    tbl = lancedb.connect(str(dest / "lance")).create_table(TABLE, scaled)
    index_table(tbl, scaled.num_rows)
    manifest = json.loads((base / "manifest.json").read_text())
    manifest.update(id=f"scale-{rows}", chunks=scaled.num_rows)
    (dest / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(base / "documents.json", dest / "documents.json")
    return dest


def measure(pack: Pack, embedder: Embedder, questions: list[str]) -> dict[str, float]:
    options = SearchOptions()
    for question in questions[:10]:
        search([pack], embedder, question, options)
    total, embed = [], []
    for question in questions:
        started = time.perf_counter()
        embedder.embed([question])
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        search([pack], embedder, question, options)
        total.append(time.perf_counter() - started)
    retrieval = [t - e for t, e in zip(total, embed, strict=True)]
    ms = 1000.0
    return {
        "queries": len(questions),
        "p50_ms": percentile(total, 50) * ms,
        "p95_ms": percentile(total, 95) * ms,
        "embed_p50_ms": percentile(embed, 50) * ms,
        "embed_p95_ms": percentile(embed, 95) * ms,
        "retrieval_p50_ms": percentile(retrieval, 50) * ms,
        "retrieval_p95_ms": percentile(retrieval, 95) * ms,
    }


def main() -> None:
    embedder = Embedder()
    base = rackspace_pack(embedder)
    questions = [q["question"] for q in load_questions()]
    results = {}
    for rows in SIZES:
        pack = Pack(scaled_pack(base, rows), embedder)
        results[rows] = measure(pack, embedder, questions)
        print(rows, results[rows], flush=True)
    lines = [
        "Search latency, query embedding + hybrid retrieval (ms), "
        f"{len(questions)} queries per size",
        "",
        "| chunks | p50 | p95 | embed p50 | embed p95 | retrieval p50 | retrieval p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for rows, r in results.items():
        lines.append(
            f"| {rows:,} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['embed_p50_ms']:.1f} | {r['embed_p95_ms']:.1f} | "
            f"{r['retrieval_p50_ms']:.1f} | {r['retrieval_p95_ms']:.1f} |"
        )
    met = results[100_000]["p95_ms"] <= 50
    lines += [
        "",
        f"Target p95 <= 50 ms at 100k: {'met' if met else 'NOT met'} "
        f"({results[100_000]['p95_ms']:.1f} ms).",
    ]
    write_result(
        "latency",
        {"sizes": {str(k): v for k, v in results.items()}, "target_met": met},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
