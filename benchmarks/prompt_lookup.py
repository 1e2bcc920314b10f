"""Prompt-lookup decoding: decode speed with and without it, same output, and the cached prefix.

    ../.venv/bin/python prompt_lookup.py [--model PATH ...] [--limit N] [--threads N]

Questions: the demo rows of grounding_questions.jsonl (expect answered) and the answerable
split=="tune" rows of helpcentre_questions.jsonl, each with the passages the product would give
the model (Assistant.search, the CLOSE_TO_BEST cut, Assistant._fit_context, prompts.reply_messages).
Per model and question, in one run: one plain request from an empty cache ("cold": TTFT covers the
whole prompt), then plain and lookup (order alternating per question), each from the same cache
state: the fixed prefix (system + worked example) evaluated, as the previous question leaves it
("cached": TTFT covers passages and question only). Temperature 0 (greedy), the app's stop words
and max tokens. Decode tok/s = reply tokens / (end - first piece); ratio = lookup / plain per
question, median reported. Same output: texts equal, and the reply tokens in the model's cache
(plain's are a prefix of lookup's). Acceptance = accepted / drafted tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import ROOT, isolated_home, write_result

isolated_home()

from grounding import contexts  # noqa: E402

from desktop.core.assist import CLOSE_TO_BEST, Assistant  # noqa: E402
from desktop.core.generation import lookup, prompts  # noqa: E402
from desktop.core.generation.engine import (  # noqa: E402
    LlamaEngine,
    default_model_path,
    physical_cores,
)

DATA = ROOT / "benchmarks" / "data"
Messages = list[dict[str, str]]


def questions(limit: int) -> list[dict[str, Any]]:
    demo = [json.loads(line) for line in (DATA / "grounding_questions.jsonl").open()]
    help_rows = [json.loads(line) for line in (DATA / "helpcentre_questions.jsonl").open()]
    demo = [r for r in demo if r["corpus"] == "demo" and r["expect"] == "answered"]
    tune = [r for r in help_rows if r["split"] == "tune" and r["expect"] == "answered"]
    return demo[:limit] + tune[:limit]


def build_messages(rows: list[dict[str, Any]], engine: LlamaEngine) -> list[Messages]:
    """The product's reply prompt for each row (answerable rows: no coverage check)."""
    found = contexts(tuple(sorted({r["corpus"] for r in rows})), generation=False)
    result = []
    for row in rows:
        assistant = Assistant(found[row["corpus"]])
        hits = assistant.search(row["question"])
        floor = float(assistant.context.settings.get("answer.min_score"))
        best = max((h.rank_score for h in hits), default=0.0)
        hits = [h for h in hits if h.rank_score >= max(floor, best - CLOSE_TO_BEST)] or hits[:1]
        sources = assistant._fit_context(engine, row["question"], hits)
        result.append(prompts.reply_messages(row["question"], sources))
    return result


def fixed_prefix(engine: LlamaEngine, messages: list[Messages]) -> list[int]:
    first, second = engine.prompt_tokens(messages[0]), engine.prompt_tokens(messages[1])
    return first[: engine._llama.longest_token_prefix(first, second)]


def run(
    engine: LlamaEngine, messages: Messages, lookup: bool, prefix: list[int] | None
) -> dict[str, Any]:
    llm = engine._llama
    llm.reset()
    if prefix:
        llm.eval(prefix)
    started, first, pieces = time.perf_counter(), 0.0, []
    for piece in engine.stream(
        messages, max_tokens=320, temperature=0.0, stop_words=prompts.STOP, prompt_lookup=lookup
    ):
        first = first or time.perf_counter()
        pieces.append(piece)
    end, stats = time.perf_counter(), engine.last_stats
    assert stats is not None
    prompt = stats.prompt_tokens
    cached = llm.input_ids[prompt : llm.n_tokens].tolist()
    tokens = stats.completion_tokens if lookup else len(cached) + 1
    return {
        "ttft_s": first - started,
        "decode_s": end - first,
        "tokens": tokens,
        "decode_tok_s": (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0,
        "drafted": stats.drafted,
        "accepted": stats.accepted,
        "text": "".join(pieces),
        "cached_tokens": cached,
        "prompt_tokens": prompt,
    }


def one_model(path: Path, rows: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    engine = LlamaEngine(path, threads=threads)
    engine.load()
    all_messages = build_messages(rows, engine)
    prefix = fixed_prefix(engine, all_messages)
    per_question = []
    for index, (row, messages) in enumerate(zip(rows, all_messages, strict=True)):
        cold = run(engine, messages, False, None)
        order = (False, True) if index % 2 == 0 else (True, False)
        done = {mode: run(engine, messages, mode, prefix) for mode in order}
        plain, look = done[False], done[True]
        same_text = plain["text"] == look["text"]
        if same_text:  # the same reply: count its tokens as lookup counted them, for both
            plain["tokens"] = look["tokens"]
            plain["decode_tok_s"] = (look["tokens"] - 1) / plain["decode_s"]
        same_tokens = look["cached_tokens"][: len(plain["cached_tokens"])] == plain["cached_tokens"]
        per_question.append(
            {
                "id": row.get("id", row["question"][:40]),
                "prompt_tokens": plain["prompt_tokens"],
                "ttft_cold_s": cold["ttft_s"],
                "ttft_cached_s": plain["ttft_s"],
                "ttft_cached_lookup_s": look["ttft_s"],
                "plain_tok_s": plain["decode_tok_s"],
                "lookup_tok_s": look["decode_tok_s"],
                "ratio": look["decode_tok_s"] / plain["decode_tok_s"]
                if plain["decode_tok_s"]
                else 0.0,
                "tokens": plain["tokens"],
                "lookup_tokens": look["tokens"],
                "drafted": look["drafted"],
                "accepted": look["accepted"],
                "same_text": same_text,
                "same_tokens": same_tokens,
                "first_difference": _first_difference(plain["text"], look["text"]),
                "plain_cold_equals_cached": cold["text"] == plain["text"],
            }
        )
        print(path.name, index, {k: v for k, v in per_question[-1].items() if k != "id"})
    engine._llama.close()
    return {"model": str(path), "prefix_tokens": len(prefix), **summary(per_question)}


def _first_difference(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return -1 if len(a) == len(b) else min(len(a), len(b))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    drafted, accepted = sum(r["drafted"] for r in rows), sum(r["accepted"] for r in rows)
    plain_s = sum((r["tokens"] - 1) / r["plain_tok_s"] for r in rows if r["plain_tok_s"])
    look_s = sum((r["lookup_tokens"] - 1) / r["lookup_tok_s"] for r in rows if r["lookup_tok_s"])
    return {
        "questions": len(rows),
        "median_ratio": median("ratio"),
        "aggregate_plain_tok_s": sum(r["tokens"] - 1 for r in rows) / plain_s,
        "aggregate_lookup_tok_s": sum(r["lookup_tokens"] - 1 for r in rows) / look_s,
        "median_plain_tok_s": median("plain_tok_s"),
        "median_lookup_tok_s": median("lookup_tok_s"),
        "acceptance": accepted / drafted if drafted else 0.0,
        "same_text": sum(r["same_text"] for r in rows),
        "same_tokens": sum(r["same_tokens"] for r in rows),
        "plain_cold_equals_cached": sum(r["plain_cold_equals_cached"] for r in rows),
        "median_ttft_cold_s": median("ttft_cold_s"),
        "median_ttft_cached_s": median("ttft_cached_s"),
        "median_ttft_cached_lookup_s": median("ttft_cached_lookup_s"),
        "median_prompt_tokens": median("prompt_tokens"),
        "rows": rows,
    }


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "# Prompt-lookup decoding (benchmarks/prompt_lookup.py)",
        "",
        f"Greedy, max 320 tokens, threads {args.threads}; draft {args.draft_length} tokens after "
        f"a {args.max_ngram}..{args.min_ngram}-token match; {results[0]['questions']} questions "
        "per model (demo answered rows + helpcentre tune answerable rows, product prompts).",
        "",
        "| model | plain tok/s | lookup tok/s | median ratio | acceptance | same text | "
        "TTFT cold | TTFT cached prefix | prefix tokens |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {Path(r['model']).name} | {r['aggregate_plain_tok_s']:.1f} | "
            f"{r['aggregate_lookup_tok_s']:.1f} | {r['median_ratio']:.2f} | "
            f"{r['acceptance']:.2f} | {r['same_text']}/{r['questions']} | "
            f"{r['median_ttft_cold_s']:.3f} s | {r['median_ttft_cached_s']:.3f} s | "
            f"{r['prefix_tokens']} |"
        )
    lines += [
        "",
        "tok/s: all reply tokens / all decode time (first piece to end). Same text: lookup's "
        "reply equals plain's from the same cache state. Plain cold vs cached same text: "
        + ", ".join(f"{r['plain_cold_equals_cached']}/{r['questions']}" for r in results)
        + " (how stable the plain path itself is across cache states).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--model", type=Path, action="append")
    parser.add_argument("--limit", type=int, default=12, help="questions per set")
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--draft-length", type=int, default=lookup.DRAFT_LENGTH)
    parser.add_argument("--min-ngram", type=int, default=lookup.MIN_NGRAM)
    parser.add_argument("--max-ngram", type=int, default=lookup.MAX_NGRAM)
    parser.add_argument("--name", default="prompt_lookup", help="results file name")
    args = parser.parse_args()
    lookup.DRAFT_LENGTH, lookup.MIN_NGRAM = args.draft_length, args.min_ngram
    lookup.MAX_NGRAM = args.max_ngram
    models = args.model or [default_model_path(), Path("/tmp/models/qwen15.gguf")]
    rows = questions(args.limit)
    results = [one_model(path, rows, args.threads) for path in models]
    write_result(
        args.name,
        {"models": results, "limit": args.limit, "draft": vars(args) | {"model": None}},
        table(results, args),
    )


if __name__ == "__main__":
    main()
