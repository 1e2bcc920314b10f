"""Pack build throughput against the raw embedding throughput of the same model, same texts.

    .venv/bin/python benchmarks/build_throughput.py [N_ARTICLES]

Takes the first N articles (default 400) of the Rackspace corpus and, each in a fresh child
process so peak memory is measured separately:
  1. builds a pack from scratch (empty vector cache): extraction, chunking, embedding, LanceDB
     write and indexes;
  2. embeds exactly the same passage texts with one bare ``SentenceTransformer.encode`` call.
Writes chunks/s for both, their ratio (target >= 0.9) and each phase's peak RSS to
benchmarks/results/build_throughput.{json,md}. Also times a repeated build of the unchanged pack.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import CORPUS, write_result


def _subset(n: int, dest: Path) -> None:
    from desktop.core.knowledge.build import iter_source_files

    for path in iter_source_files(CORPUS)[:n]:
        target = dest / path.relative_to(CORPUS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _build(src: str, dest: str, out: mp.Queue) -> None:
    from desktop.core.knowledge.build import build_pack
    from desktop.core.knowledge.embedder import Embedder

    embedder = Embedder()
    embedder.embed(["warm up"])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = build_pack(Path(src), Path(dest), embedder, pack_id="bench")
    again = time.perf_counter()
    repeat = build_pack(Path(src), Path(dest), embedder, pack_id="bench")
    out.put(
        {
            "report": report.to_json(),
            "repeat_s": time.perf_counter() - again,
            "repeat_unchanged": repeat.unchanged,
            "rss_after_load_mb": base / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _raw(src: str, out: mp.Queue) -> None:
    from desktop.core.knowledge.build import iter_source_files
    from desktop.core.knowledge.chunking import chunk_document
    from desktop.core.knowledge.documents import DocumentError, load_document
    from desktop.core.knowledge.embedder import Embedder

    embedder = Embedder()
    embedder.embed(["warm up"])
    texts = []
    for path in iter_source_files(Path(src)):
        try:
            doc = load_document(path, Path(src))
        except DocumentError:
            continue
        chunks = chunk_document(doc, min(200, embedder.max_tokens - 32), embedder.count_tokens)
        texts.extend(c.embedding_text() for c in chunks)
    model = embedder._load()
    started = time.perf_counter()
    model.encode(
        texts,
        batch_size=64,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    out.put(
        {
            "chunks": len(texts),
            "seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _child(target, *args):  # type: ignore[no-untyped-def]
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        _subset(n, src)
        built = _child(_build, str(src), str(Path(tmp) / "pack"))
        raw = _child(_raw, str(src))
    report = built["report"]
    build_rate = report["chunks"] / report["seconds"]
    embed_only = report["chunks"] / report["phases"]["embed_s"]
    raw_rate = raw["chunks"] / raw["seconds"]
    ratio = build_rate / raw_rate
    lines = [
        f"Pack build of {n} Rackspace articles ({report['documents']} documents, "
        f"{report['chunks']} chunks) vs raw embedding of the same {raw['chunks']} texts",
        "",
        "| | chunks/s | seconds | peak RSS (MB) |",
        "|---|---|---|---|",
        f"| full build (read, chunk, embed, write, index) | {build_rate:.1f} | "
        f"{report['seconds']:.1f} | {built['peak_rss_mb']:.0f} |",
        f"| build's embedding phase alone | {embed_only:.1f} | "
        f"{report['phases']['embed_s']:.1f} | |",
        f"| raw SentenceTransformer.encode | {raw_rate:.1f} | {raw['seconds']:.1f} | "
        f"{raw['peak_rss_mb']:.0f} |",
        "",
        f"Build / raw throughput: **{ratio:.2f}x** (target >= 0.90). "
        f"Phases: {json.dumps(report['phases'])}.",
        f"Repeated build of the unchanged source: {built['repeat_s']:.2f} s "
        f"(unchanged={built['repeat_unchanged']}).",
    ]
    write_result(
        "build_throughput",
        {
            "articles": n,
            "build": built,
            "raw": raw,
            "build_chunks_per_s": build_rate,
            "raw_chunks_per_s": raw_rate,
            "ratio": ratio,
        },
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
