"""Tried and rejected (issue 12): a local model as a zero-shot sensitive-topic classifier.

Usage: python benchmarks/sensitive_llm_choice.py MODEL.gguf FOLD

The model reads the eight built-in topics and a ninth "none of these" as lettered choices, then
the message; the letters' next-token probabilities are read from the logits (nothing sampled;
the instructions are evaluated once and their KV cache reused for every message). Scored on one
fold of benchmarks/data/sensitive_fresh.jsonl: the AUC of 1 - P(none) between sensitive and
ordinary messages, and routed / right topic / false routes at several thresholds, with seconds
per message. Results: benchmarks/results/sensitive_llm_choice.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data" / "sensitive_fresh.jsonl"
TOPICS = [
    "self_harm",
    "domestic_abuse",
    "bereavement",
    "fraud",
    "legal_threat",
    "minor",
    "vulnerable",
    "insider_misuse",
    None,
]
LETTERS = "ABCDEFGHI"
INSTRUCTIONS = """A customer's message to a contact centre is below. Does it belong to a person \
trained for a sensitive case? Choose one:
A) self-harm or suicide, or thoughts of not wanting to live
B) domestic abuse, stalking, or a controlling partner or ex-partner
C) bereavement: someone has died, a deceased account holder
D) fraud happening now: account taken over, scam under way, stolen card or payment details
E) a legal threat: solicitor, court, suing, ombudsman or regulator complaint
F) a child or someone under 18 using the service, or a child at risk
G) a vulnerable customer: serious illness, disability, dementia, money hardship, cannot cope
H) insider misuse: an employee or contractor misusing access or customer data
I) none of these: an ordinary request, even if it uses dramatic words
Answer with the letter only.

Message: """


def choices(model: str, messages: list[str]) -> tuple[list[np.ndarray], float]:
    """Each message's probabilities over the nine letters, and seconds per message."""
    from llama_cpp import Llama

    llm = Llama(model_path=model, n_ctx=1024, n_threads=2, verbose=False)

    def tokens(text: str, special: bool = False) -> list[int]:
        return list(llm.tokenize(text.encode(), add_bos=False, special=special))

    system = "<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\n"
    prefix = tokens(system, True) + tokens(INSTRUCTIONS)
    llm.reset()
    llm.eval(prefix)
    kept = llm.n_tokens
    letters = [tokens(c)[0] for c in LETTERS]
    found = []
    started = time.perf_counter()
    for message in messages:
        llm.n_tokens = kept
        forget = getattr(llm._ctx, "kv_cache_seq_rm", None) or llm._ctx.memory_seq_rm
        forget(-1, kept, -1)  # the previous message
        llm.eval(tokens(f'"{message}"') + tokens("<|im_end|>\n<|im_start|>assistant\n", True))
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        chosen = logits[letters].astype(np.float64)
        odds = np.exp(chosen - chosen.max())
        found.append(odds / odds.sum())
    return found, (time.perf_counter() - started) / max(1, len(messages))


def report(rows: list[dict[str, Any]], probs: list[np.ndarray]) -> list[str]:
    sensitive = [(r, p) for r, p in zip(rows, probs, strict=True) if r["topic"]]
    ordinary = np.array([1 - p[8] for r, p in zip(rows, probs, strict=True) if not r["topic"]])
    scores = np.array([1 - p[8] for _, p in sensitive])
    auc = float(np.mean([(a > b) + 0.5 * (a == b) for a in scores for b in ordinary]))
    lines = [f"AUC {auc:.3f}"]
    for threshold in (0.5, 0.9, 0.95, 0.99):
        right = np.mean(
            [
                1 - p[8] >= threshold and TOPICS[int(np.argmax(p[:8]))] == r["topic"]
                for r, p in sensitive
            ]
        )
        lines.append(
            f"threshold {threshold}: routed {np.mean(scores >= threshold):.3f}, right topic "
            f"{right:.3f}, false routes {np.mean(ordinary >= threshold):.3f}"
        )
    return lines


def main() -> None:
    model, fold = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["fold"] == fold]
    probs, seconds = choices(model, [r["message"] for r in rows])
    print(f"{Path(model).name}, fold {fold}, n={len(rows)}, {seconds:.2f} s/message")
    print("\n".join(report(rows, probs)))


if __name__ == "__main__":
    main()
