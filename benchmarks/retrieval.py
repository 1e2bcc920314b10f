"""Retrieval quality on the labelled Rackspace questions: keyword-only, vector-only and hybrid.

    .venv/bin/python benchmarks/retrieval.py

Then the weight of the query's word coverage in the hybrid ranking (search.COVERAGE_WEIGHT): the
right article first (recall@1) on the labelled Rackspace questions and on the answerable
questions of the ``tune`` half of data/helpcentre_questions.jsonl (the weight was chosen there;
the held-out ``test`` half is not read here).

Builds (once) a pack of the whole ../shared/corpora/rackspace-how-to corpus, runs every labelled
question in each ranking mode and writes Recall@1, Recall@5, MRR and nDCG@10 (document level) to
benchmarks/results/retrieval.{json,md}. The relevance floor is off here (min_score 0) so that the
modes are compared on ranking alone, and near-duplicate collapse is off so that every relevant
document can be counted.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from common import ROOT, corpus_pack, load_questions, rackspace_pack, write_result

from desktop.core.knowledge import search as search_module
from desktop.core.knowledge.embedder import Embedder
from desktop.core.knowledge.index import Pack
from desktop.core.knowledge.search import MODES, SearchOptions, search

COVERAGE_WEIGHTS = (0.0, 0.05, 0.1, 0.2)
DATA = ROOT / "benchmarks" / "data"
CORPORA = ("duckduckgo", "rackspace")


def metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((i for i, s in enumerate(ranked) if s in relevant), None)
    dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(ranked[:10]) if s in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return {
        "recall@1": len(set(ranked[:1]) & relevant) / len(relevant),
        "recall@5": len(set(ranked[:5]) & relevant) / len(relevant),
        "hit@5": float(first is not None and first < 5),
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "ndcg@10": dcg / ideal,
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {name: round(sum(r[name] for r in rows) / len(rows), 4) for name in rows[0]}


def main() -> None:
    embedder = Embedder()
    pack = Pack(rackspace_pack(embedder), embedder)
    questions = load_questions()
    results: dict[str, dict[str, float]] = {}
    held_out: dict[str, dict[str, float]] = {}
    for mode in MODES:
        options = SearchOptions(
            limit=10, min_score=0.0, per_document=1, mode=mode, collapse_above=1.01
        )
        per_question = []
        started = time.perf_counter()
        for question in questions:
            ranked = [h.source for h in search([pack], embedder, question["question"], options)]
            per_question.append(metrics(ranked, set(question["relevant"])))
        results[mode] = _mean(per_question)
        results[mode]["seconds"] = round(time.perf_counter() - started, 1)
        # The keyword weight was tuned on q002, q004, ... (even ids); q001, q003, ... are held out.
        held_out[mode] = _mean(per_question[0::2])
    names = ["recall@1", "recall@5", "hit@5", "mrr", "ndcg@10"]
    lines = [
        f"Retrieval on {len(questions)} labelled questions over "
        f"{pack.manifest['documents']} Rackspace articles ({pack.manifest['chunks']} chunks)",
        "",
        "| mode | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for mode in ("keyword", "vector", "hybrid"):
        lines.append(f"| {mode} | " + " | ".join(f"{results[mode][n]:.3f}" for n in names) + " |")
    best = {n: max(("keyword", "vector"), key=lambda m, n=n: results[m][n]) for n in names}
    wins = [n for n in names if results["hybrid"][n] > results[best[n]][n]]
    lines += ["", f"Hybrid beats both single signals on: {', '.join(wins) or 'nothing'}", ""]
    lines += [
        "Held-out half (q001, q003, ...: odd ids; the keyword weight was tuned on the even ids):",
        "",
        "| mode | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for mode in ("keyword", "vector", "hybrid"):
        lines.append(f"| {mode} | " + " | ".join(f"{held_out[mode][n]:.3f}" for n in names) + " |")
    coverage = coverage_weights(embedder, pack, questions)
    lines += [
        "",
        "Weight of the query's word coverage in the hybrid ranking (recall@1: the right article "
        "first; helpcentre: answerable questions of the tune half; shipped: "
        f"{search_module.COVERAGE_WEIGHT}):",
        "",
        "| coverage weight | Rackspace recall@1 | Rackspace mrr | helpcentre tune recall@1 |",
        "|---|---|---|---|",
    ]
    for weight, row in coverage.items():
        lines.append(
            f"| {weight} | {row['rackspace']['recall@1']:.3f} | {row['rackspace']['mrr']:.3f} "
            f"| {row['helpcentre_tune']['recall@1']:.3f} |"
        )
    data = {"questions": len(questions), "modes": results, "held_out_odd_ids": held_out}
    data["coverage_weight"] = {str(k): v for k, v in coverage.items()}
    write_result("retrieval", {**data, "hybrid_beats_both_on": wins}, "\n".join(lines))


def coverage_weights(
    embedder: Embedder, pack: Pack, questions: list[dict[str, Any]]
) -> dict[float, dict[str, dict[str, float]]]:
    """Hybrid ranking quality per coverage weight: Rackspace, and the helpcentre tune half."""
    tune = [
        case
        for case in (
            json.loads(line)
            for line in (DATA / "helpcentre_questions.jsonl").read_text().splitlines()
            if line.strip()
        )
        if case["split"] == "tune" and case["expect"] == "answered"
    ]
    packs = {name: Pack(corpus_pack(name, embedder, progress=False), embedder) for name in CORPORA}
    options = SearchOptions(limit=10, min_score=0.0, per_document=1, collapse_above=1.01)
    shipped = search_module.COVERAGE_WEIGHT
    found: dict[float, dict[str, dict[str, float]]] = {}
    try:
        for weight in COVERAGE_WEIGHTS:
            search_module.COVERAGE_WEIGHT = weight
            rows = {"rackspace": [], "helpcentre_tune": []}
            for name, cases, chosen in (
                ("rackspace", questions, lambda _c: pack),
                ("helpcentre_tune", tune, lambda c: packs[c["corpus"]]),
            ):
                for case in cases:
                    hits = search([chosen(case)], embedder, case["question"], options)
                    rows[name].append(metrics([h.source for h in hits], set(case["relevant"])))
            found[weight] = {name: _mean(r) for name, r in rows.items()}
    finally:
        search_module.COVERAGE_WEIGHT = shipped
    return found


if __name__ == "__main__":
    main()
