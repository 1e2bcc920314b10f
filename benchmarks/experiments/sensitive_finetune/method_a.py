"""Method A: frozen all-MiniLM-L6-v2 vectors (normalised) + the shipped logistic regression.

nice -n 10 python method_a.py            # validation (train yaml+a-d, eval e) and LOFO over a-e
nice -n 10 python method_a.py --final    # train yaml+a-e, eval fold f ONCE
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from common import MODEL_DIR, OUT, THRESHOLD, choose_threshold, lr_prob, metrics, split, train_lr

torch.set_num_threads(2)
from sentence_transformers import SentenceTransformer  # noqa: E402

model = SentenceTransformer(str(MODEL_DIR), device="cpu")
_cache: dict[str, np.ndarray] = {}


def embed(texts):
    todo = [t for t in dict.fromkeys(texts) if t not in _cache]
    if todo:
        vecs = model.encode(todo, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        _cache.update(zip(todo, vecs))
    return np.stack([_cache[t] for t in texts])


def run(train_folds, eval_folds):
    tr_t, tr_l, ev, classes = split(train_folds, eval_folds)
    y = np.array([classes.index(l) for l in tr_l])
    w, b = train_lr(embed(tr_t), y, len(classes))
    prob = lr_prob(embed([r["message"] for r in ev]), w, b)
    gold = np.array([classes.index(r["label"]) for r in ev])
    return prob, gold, ev, classes, len(tr_t)


def main():
    res = {}
    if "--final" not in sys.argv:
        prob, gold, ev, classes, n = run(("a", "b", "c", "d"), ("e",))
        best_t, strict_t = choose_threshold(prob, gold)
        res["val_e"] = {
            "n_train": n,
            "n_eval": len(ev),
            "shipped_t0.5": metrics(prob, gold, THRESHOLD),
            "best_t": best_t,
            "best": metrics(prob, gold, best_t),
            "strict_t": strict_t,
            "strict": metrics(prob, gold, strict_t),
        }
        lofo = {}
        for held in "abcde":
            others = tuple(f for f in "abcde" if f != held)
            p, g, e, _, _ = run(others, (held,))
            lofo[held] = {
                "t0.5": metrics(p, g, 0.5),
                "best_t_from_e": metrics(p, g, best_t),
                "strict_t_from_e": metrics(p, g, strict_t),
            }
        res["lofo"] = lofo
        print(json.dumps(res, indent=1))
        (OUT / "a_val.json").write_text(json.dumps(res, indent=1))
    else:
        val = json.loads((OUT / "a_val.json").read_text())["val_e"]
        prob, gold, ev, classes, n = run(("a", "b", "c", "d", "e"), ("f",))
        res["final_f"] = {"n_train": n, "n_eval": len(ev)}
        for name, t in (
            ("shipped_t0.5", 0.5),
            ("best_t", val["best_t"]),
            ("strict_t", val["strict_t"]),
        ):
            res["final_f"][name] = {"t": t, "routed_false": metrics(prob, gold, t)}
        # per-message inference latency (batch of one, encode + LR)
        w, b = train_lr(embed(split(("a",), ())[0][:50]), np.zeros(50, int), len(classes), steps=1)
        msgs = [r["message"] for r in ev][:100]
        model.encode(msgs[:5], normalize_embeddings=True)
        t0 = time.perf_counter()
        for m in msgs:
            v = model.encode([m], normalize_embeddings=True, convert_to_numpy=True)
            lr_prob(v, w, b)
        res["latency_ms_per_msg"] = (time.perf_counter() - t0) / len(msgs) * 1000
        print(json.dumps(res, indent=1))
        np.save(OUT / "a_f_prob.npy", prob)
        (OUT / "a_final.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
