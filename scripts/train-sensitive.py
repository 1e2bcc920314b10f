#!/usr/bin/env python3
"""Train the built-in sensitive-topic classifier: resources/safety/classifier.json.

    .venv/bin/python scripts/train-sensitive.py [--check]

A multinomial logistic regression (numpy only) over the all-MiniLM-L6-v2 vector the detector
already computes for each sentence: nine classes, "ordinary" and the eight built-in topics. It is
trained from

* the example messages of each topic and the ``ordinary`` messages in resources/safety/topics.yaml;
* fold ``a`` of benchmarks/data/sensitive_dev.jsonl (folds ``b`` and ``c`` stay held out).

Ordinary texts carry half the total weight and the eight topics share the other half equally, so
a topic with fewer examples is not drowned. Training is full-batch gradient descent from zeros
with fixed settings, so the same texts and embedding weights give the same file. The file records
the SHA-256 of its training inputs (texts and labels) and desktop/core/sensitive.py pins the
file's own SHA-256 (CLASSIFIER_SHA256), so a changed file, or changed examples that were not
trained into it, are caught by the tests. After editing topics.yaml, run this script and paste
the printed hash into CLASSIFIER_SHA256.

Chosen by 5-fold cross-validation over the training texts (benchmarks/sensitive_routing.py has
the routing numbers): L2 1e-5, 600 steps of size 4, threshold 0.5 on a topic's probability.

``--check`` writes nothing and exits 1 if the file in the tree differs from a fresh training.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop.core.knowledge.embedder import Embedder  # noqa: E402

OUT = ROOT / "resources" / "safety" / "classifier.json"
TOPICS = ROOT / "resources" / "safety" / "topics.yaml"
DATA = ROOT / "benchmarks" / "data"
DEV = DATA / "sensitive_dev.jsonl"
FRESH = DATA / "sensitive_fresh.jsonl"
ORDINARY = "ordinary"
TRAIN_FOLDS = ("a",)  # folds of the dev files trained on; the others stay held out
TRAIN_TUNE = False  # also the tuning halves of the help-centre question sets
HELPCENTRE = (
    "helpcentre_questions.jsonl",
    "helpcentre2_duckduckgo.jsonl",
    "helpcentre2_rackspace.jsonl",
)
L2 = 1e-5
STEPS = 600
STEP_SIZE = 4.0
THRESHOLD = 0.5
DECIMALS = 5


def training_texts(
    folds: tuple[str, ...] = TRAIN_FOLDS, tune: bool = TRAIN_TUNE
) -> tuple[list[str], list[str], list[str]]:
    """(texts, labels, classes): topics.yaml's examples and ordinary messages, the dev files'
    rows of *folds* and, if *tune*, the tuning halves of the help-centre question sets."""
    data = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))
    classes = [ORDINARY, *data["topics"]]
    texts: list[str] = []
    labels: list[str] = []
    for name, spec in data["topics"].items():
        texts += [str(e) for e in spec.get("examples") or ()]
        labels += [name] * len(spec.get("examples") or ())
    texts += [str(o) for o in data.get("ordinary") or ()]
    labels += [ORDINARY] * len(data.get("ordinary") or ())
    for row in dev_rows():
        if row["fold"] in folds:
            texts.append(row["message"])
            labels.append(row["topic"] or ORDINARY)
    for name in HELPCENTRE if tune else ():
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        for row in (json.loads(line) for line in lines if line.strip()):
            if row["split"] == "tune":
                texts.append(row["question"])
                labels.append(row["sensitive_topic"] or ORDINARY)
    return texts, labels, classes


def dev_rows() -> list[dict[str, Any]]:
    """The rows of the dev files (sensitive_dev.jsonl, and sensitive_fresh.jsonl if present)."""
    rows = []
    for path in (DEV, FRESH):
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def inputs_hash(texts: list[str], labels: list[str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def train(
    vectors: Any,
    targets: Any,
    classes: int,
    l2: float = L2,
    steps: int = STEPS,
    ordinary_share: float = 0.5,
) -> tuple[Any, Any]:
    """Softmax regression by full-batch gradient descent (float64, deterministic). Ordinary
    texts carry *ordinary_share* of the weight, the topics share the rest equally."""
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


def build() -> str:
    texts, labels, classes = training_texts()
    embedder = Embedder()
    vectors = embedder.embed(texts)
    targets = np.array([classes.index(label) for label in labels])
    weights, bias = train(vectors, targets, len(classes))
    data = {
        "version": 1,
        "embedder": embedder.model_id,
        "classes": classes,
        "threshold": THRESHOLD,
        "trained_on": {"texts": len(texts), "sha256": inputs_hash(texts, labels)},
        "bias": [round(float(b), DECIMALS) for b in bias],
        "weights": [[round(float(w), DECIMALS) for w in column] for column in weights.T],
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def main() -> int:
    text = build()
    digest = hashlib.sha256(text.encode()).hexdigest()
    if "--check" in sys.argv[1:]:
        same = OUT.read_text(encoding="utf-8") == text
        print("classifier.json is up to date" if same else "classifier.json differs: retrain")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes), sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
