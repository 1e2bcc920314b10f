"""Sensitive-case routing: the built-in detector on messages it was not written from.

    .venv/bin/python benchmarks/sensitive_routing.py [--show tune,dev-a] [--test]

Runs :class:`desktop.core.sensitive.SensitiveDetector` alone (it decides routing before retrieval
and before any model, so this is exactly the pipeline's routing decision) on:

* ``tune``: the tuning half of data/helpcentre_questions.jsonl, each case with its own corpus pack
  (DuckDuckGo help or Rackspace) installed, as in benchmarks/grounding.py;
* ``dev``: data/sensitive_dev.jsonl, an independent set written for this benchmark and never
  copied into resources/safety/topics.yaml (its rows are our held-out estimate). It runs twice:
  with no pack installed (only the built-in ordinary messages contrast) and with the DuckDuckGo
  pack. Its rows are split into folds: rows of fold ``a`` were read while tuning, fold ``b``
  only as a number, a second held-out check on the same writer's style; fold ``c`` was written
  by another hand before the classifier existed and never read while tuning (the honest
  estimate, reported on its own); fold ``d`` was written for the third pass before anything was
  changed, in varied customers' voices (short, typos, indirect, buried in an ordinary request)
  with idioms and look-alikes as its ordinary rows, and never tuned on. Folds ``e`` and ``f``
  (data/sensitive_fresh.jsonl) were written for the fourth pass by an author who never saw the
  detector: ``e`` (chat) was studied and trained on, ``f`` (calls and emails) is held out;
* ``hc2-tune``: the sensitive and ordinary rows of the tuning halves of
  data/helpcentre2_{duckduckgo,rackspace}.jsonl (same author as folds e and f);
* ``demo``: data/grounding_questions.jsonl (the demo pack with its own sensitive articles, and
  Rackspace), which must not get worse;
* held out (only with ``--test``): ``test`` and ``hc2-test``, the test halves of both
  help-centre sets, and fold ``f``, reported as aggregates only, measured once with the final
  settings. Their rows are never printed.

``--variants [NAME ...]`` trains each classifier variant of VARIANTS in-process (with
scripts/train-sensitive.py's functions) and measures it leave-one-fold-out over the dev folds
(``--folds``, default abcde: trained without fold X, measured on X with no pack, pooled), and,
trained on every fold, on tune, hc2-tune, demo and the listen conversations
(results/sensitive_routing.variants.{json,md}). ``--out NAME`` names the results file.

A sensitive case counts as routed when the detector names its topic. A false route is any
detection on an ordinary message (answerable or unanswerable). ms/message is the warm detection
time per message (embedding the sentences and the pack's nearest-passage search included).
``--confirm MODEL.gguf`` measures a local model's yes/no as the precision stage (rejected):
a high-recall first stage (floor 0.40, margin 0.03, classifier contrast 0, no trigger veto, units
of 3+ words) proposes a topic on tune + dev folds a/b/c (no pack) + demo, the model is asked "Is
this customer <topic description>?" and log P(yes) - log P(no) is compared, on every ordinary
candidate and a fixed sample of 37 correct ones (AUC over the two, and cost per call). Results:
results/sensitive_routing.confirm.{json,md}.
``--show`` prints the misses and false routes of the named sets (never of ``test``).
Results: benchmarks/results/sensitive_routing.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import numpy as np
from common import ROOT, corpus_pack, isolated_home, write_result

from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.sensitive import NEVER_VETOED, PRIORITY, SensitiveDetector
from desktop.core.settings import Settings

isolated_home()
DATA = ROOT / "benchmarks" / "data"
HELPCENTRE2 = ["helpcentre2_duckduckgo.jsonl", "helpcentre2_rackspace.jsonl"]
HELD_OUT = ("test", "hc2-test", "dev-none-f", "dev-duckduckgo-f")  # measured once, never shown
TOPICS = (
    "self_harm",
    "domestic_abuse",
    "bereavement",
    "fraud",
    "legal_threat",
    "minor",
    "vulnerable",
    "insider_misuse",
)


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def cases(split: str) -> list[dict[str, Any]]:
    """(message, knowledge, topic or None, label) rows of one evaluation set."""
    if split in ("tune", "test", "demo", "hc2-tune", "hc2-test"):
        names = {"demo": ["grounding_questions.jsonl"], "tune": ["helpcentre_questions.jsonl"]}
        names["test"] = names["tune"]
        names["hc2-tune"] = names["hc2-test"] = HELPCENTRE2
        return [
            {
                "message": r["question"],
                "knowledge": r["corpus"],
                "topic": r["sensitive_topic"] if r["expect"] == "route_to_human" else None,
                "id": r["id"],
            }
            for name in names[split]
            for r in _rows(name)
            if split == "demo" or r["split"] == split.removeprefix("hc2-")
        ]
    knowledge, fold = split.split("-")[1:]  # dev-<none|duckduckgo>-<a|b|c|d|e|f>
    return [
        {"message": r["message"], "knowledge": knowledge, "topic": r["topic"], "id": r["id"]}
        for r in _rows("sensitive_dev.jsonl") + _rows("sensitive_fresh.jsonl")
        if r["fold"] == fold
    ]


def detectors() -> dict[str, SensitiveDetector]:
    demo = AppContext.from_env()
    demo.ensure_demo_pack()
    found = {"demo": demo.sensitive_detector()}
    for name in ("duckduckgo", "rackspace", "none"):
        paths = Paths.from_env()
        pack_dirs = [] if name == "none" else [corpus_pack(name, demo.embedder, progress=False)]
        context = AppContext(paths, Settings(paths), pack_dirs=pack_dirs, embedder=demo.embedder)
        found[name] = context.sensitive_detector()
    for detector in found.values():
        detector.detect("warm up the embedder and the example vectors")
    return found


def evaluate(rows: list[dict[str, Any]], by_knowledge: dict[str, SensitiveDetector]) -> dict:
    routed: dict[str, list[bool]] = {}
    false: list[bool] = []
    misses, false_routes, seconds = [], [], 0.0
    for row in rows:
        started = time.perf_counter()
        found = by_knowledge[row["knowledge"]].detect(row["message"])
        seconds += time.perf_counter() - started
        name = found.topic.name if found else None
        if row["topic"]:
            routed.setdefault(row["topic"], []).append(name == row["topic"])
            if name != row["topic"]:
                misses.append((row["id"], row["topic"], name, row["message"]))
        else:
            false.append(found is not None)
            if found is not None:
                false_routes.append((row["id"], name, row["message"], found.reason))
    every = [ok for values in routed.values() for ok in values]
    return {
        "routed": _rate(every),
        "false_route": _rate(false),
        "per_topic": {topic: _rate(routed.get(topic, [])) for topic in TOPICS},
        "ms_per_message": round(1000 * seconds / max(1, len(rows)), 1),
        "misses": misses,
        "false_routes": false_routes,
    }


def _rate(values: list[bool]) -> dict[str, Any]:
    return {"rate": round(sum(values) / len(values), 3) if values else None, "n": len(values)}


def _cell(rate: dict[str, Any]) -> str:
    return "-" if rate["rate"] is None else f"{rate['rate']:.3f} ({rate['n']})"


def table(results: dict[str, dict]) -> str:
    lines = [
        "# Sensitive routing (detector only)",
        "",
        "routed = sensitive messages routed to their topic; false = ordinary messages routed;",
        "rate (n). Held out, measured once with the final settings: `test`, `hc2-test` (the test",
        "halves of both help-centre sets) and fold `f`.",
        "",
        "| set | routed | false route | " + " | ".join(TOPICS) + " | ms/message |",
        "|---" * (len(TOPICS) + 4) + "|",
    ]
    for name, result in results.items():
        topics = " | ".join(_cell(result["per_topic"][t]) for t in TOPICS)
        lines.append(
            f"| {name} | {_cell(result['routed'])} | {_cell(result['false_route'])} | "
            f"{topics} | {result['ms_per_message']} |"
        )
    return "\n".join(lines)


CONFIRM_SETS = ("tune", "dev-none-a", "dev-none-b", "dev-none-c", "demo")
DESCRIPTION = {
    "self_harm": "at risk of suicide or self-harm",
    "domestic_abuse": "describing domestic abuse, stalking, or fear of a partner or ex-partner",
    "bereavement": "telling us that someone close to them has died",
    "fraud": "reporting fraud happening now: a hacked account, a scam, or stolen card details",
    "legal_threat": "threatening legal action against the company",
    "minor": "a child, or reporting a danger to a child",
    "vulnerable": "in a vulnerable situation (serious illness, disability, hardship, or unable "
    "to understand)",
    "insider_misuse": "an employee trying to misuse access to customer data or company systems",
}


def _candidates(by_knowledge: dict[str, Any]) -> list[tuple[str, str, bool, bool]]:
    """(message, proposed topic, proposal correct, message ordinary) of the first stage."""
    for detector in by_knowledge.values():
        detector.floor, detector.margin, detector.classifier_margin = 0.40, 0.03, 0.0
        detector.trigger_veto, detector.min_words = None, 3
    found = []
    for name in CONFIRM_SETS:
        for row in cases(name):
            hit = by_knowledge[row["knowledge"]].detect(row["message"])
            if hit is not None:
                topic = hit.topic.name
                found.append((row["message"], topic, topic == row["topic"], not row["topic"]))
    return found


def _yes_margin(llm: Any, message: str, topic: str, yes: list[int], no: list[int]) -> float:
    prompt = (
        "<|im_start|>system\nYou are a careful assistant. Answer only yes or no.<|im_end|>\n"
        f'<|im_start|>user\nA customer wrote to a support agent: "{message}"\n'
        f"Is this customer {DESCRIPTION[topic]}? Answer yes or no.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    llm.reset()
    llm.eval(llm.tokenize(prompt.encode(), add_bos=False, special=True))
    logits = np.asarray(llm.scores[llm.n_tokens - 1])
    return float(np.logaddexp.reduce(logits[yes]) - np.logaddexp.reduce(logits[no]))


def confirm(model: str, by_knowledge: dict[str, Any]) -> None:
    """A local model's yes/no as the confirming stage: see the module docstring."""
    from llama_cpp import Llama

    found = _candidates(by_knowledge)
    right = [c for c in found if c[2]]
    ordinary = [c for c in found if c[3]]
    sample = ordinary + random.Random(0).sample(right, min(37, len(right)))
    llm = Llama(model_path=model, n_ctx=512, n_threads=2, verbose=False, logits_all=True)
    first = [llm.tokenize(w.encode(), add_bos=False)[0] for w in ("yes", "Yes", " yes", " Yes")]
    firstno = [llm.tokenize(w.encode(), add_bos=False)[0] for w in ("no", "No", " no", " No")]
    cpu, wall = time.process_time(), time.perf_counter()
    scored = [(_yes_margin(llm, m, t, first, firstno), ok, o) for m, t, ok, o in sample]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pos = [s for s, ok, _ in scored if ok]
    neg = [s for s, _, o in scored if o]
    data = {
        "model": model.rsplit("/", 1)[-1],
        "first_stage": {"candidates": len(found), "correct": len(right), "ordinary": len(ordinary)},
        "calls": len(scored),
        "ms_wall_per_call": round(1000 * wall / len(scored)),
        "ms_cpu_per_call": round(1000 * cpu / len(scored)),
        "auc": round(float(np.mean([p > n for p in pos for n in neg])), 3),
        "kept_at_0": {"correct": sum(p > 0 for p in pos), "ordinary": sum(n > 0 for n in neg)},
    }
    lines = ["# Sensitive routing: a local model's yes/no as the confirming stage", ""]
    lines += ["| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in data.items()]
    write_result("sensitive_routing.confirm", data, "\n".join(lines))


# --- classifier variants (--variants) ---------------------------------------------------------
# Each variant is trained in-process with scripts/train-sensitive.py's functions and measured by
# leave-one-fold-out on the dev folds (trained without fold X, measured on X, pooled), and, trained
# on every fold, on tune, demo and the listen conversations.


def _trainer() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_sensitive", ROOT / "scripts" / "train-sensitive.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _memoise(embedder: Any) -> None:
    """Variants embed the same texts again and again: remember each text's vector."""
    memo: dict[str, Any] = {}
    original = embedder.embed

    def embed(texts: list[str], batch_size: int = 64) -> Any:
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, original(missing, batch_size), strict=True))
        if not texts:
            return original(texts, batch_size)
        return np.stack([memo[t] for t in texts])

    embedder.embed = embed


def _classifier(trainer: Any, embedder: Any, folds: tuple[str, ...], v: dict[str, Any]) -> Any:
    from desktop.core.sensitive import Classifier

    folds = v.get("fixed_folds", folds)
    texts, labels, classes = trainer.training_texts(folds, v.get("data", {}).get("tune", False))
    targets = np.array([classes.index(label) for label in labels])
    train = v.get("train", {})
    weights, bias = trainer.train(embedder.embed(texts), targets, len(classes), **train)
    return Classifier(
        tuple(classes), weights.astype(np.float32), bias.astype(np.float32), v.get("threshold", 0.5)
    )


def _use(by_knowledge: dict[str, SensitiveDetector], classifier: Any, v: dict[str, Any]) -> None:
    import desktop.core.sensitive as sensitive

    sensitive.PRIORITY = v.get("priority", PRIORITY)
    sensitive.NEVER_VETOED = v.get("never_vetoed", NEVER_VETOED)
    for detector in by_knowledge.values():
        detector.classifier = classifier
        detector.classifier_margin = v.get("classifier_margin", 0.05)
        detector.trigger_veto = v.get("trigger_veto", 0.85)
        detector.min_words = v.get("min_words", 5)


def _listen(detector: SensitiveDetector) -> dict[str, Any]:
    from desktop.core import listen

    rows = _rows("listen_conversations.jsonl")
    routed = {}
    for row in rows:
        steps = [listen.route(detector, s) for s in listen.customer_prefixes(row["conversation"])]
        routed[row["id"]] = next((d.topic.name for d in steps if d is not None), None)
    ordinary = [routed[r["id"]] is not None for r in rows if r["kind"] == "ordinary"]
    sensitive = [routed[r["id"]] == r["topic"] for r in rows if r["kind"] == "sensitive"]
    return {"false_route": _rate(ordinary), "routed": _rate(sensitive)}


def _pooled(results: list[dict[str, Any]], key: str) -> dict[str, Any]:
    hits = sum(round(r[key]["rate"] * r[key]["n"]) for r in results if r[key]["n"])
    n = sum(r[key]["n"] for r in results)
    return {"rate": round(hits / n, 3) if n else None, "n": n}


def measure_variant(
    v: dict[str, Any], by_knowledge: dict[str, SensitiveDetector], trainer: Any, folds: str
) -> dict[str, Any]:
    embedder = by_knowledge["none"].embedder
    out: dict[str, Any] = {}
    for fold in folds:
        others = tuple(f for f in folds if f != fold)
        _use(by_knowledge, _classifier(trainer, embedder, others, v), v)
        out[f"lofo-{fold}"] = evaluate(cases(f"dev-none-{fold}"), by_knowledge)
    lofo = [out[f"lofo-{fold}"] for fold in folds]
    out["lofo"] = {"routed": _pooled(lofo, "routed"), "false_route": _pooled(lofo, "false_route")}
    _use(by_knowledge, _classifier(trainer, embedder, tuple(folds), v), v)
    for name in ("tune", "hc2-tune", "demo"):
        out[name] = evaluate(cases(name), by_knowledge)
    out["listen"] = _listen(by_knowledge["demo"])
    return out


def variants_table(measured: dict[str, dict[str, Any]], folds: str) -> str:
    sets = ["lofo", *(f"lofo-{f}" for f in folds), "tune", "hc2-tune", "demo", "listen"]
    lines = [
        "# Sensitive routing: classifier variants",
        "",
        "routed / false route. lofo-X: trained on every other dev fold, measured on fold X (no",
        "pack); lofo: pooled over the folds. tune, demo and listen: trained on every dev fold.",
        "",
        "| variant | " + " | ".join(sets) + " |",
        "|---" * (len(sets) + 1) + "|",
    ]
    for name, out in measured.items():
        cells = [
            f"{_cell(out[s]['routed'])} / {_cell(out[s]['false_route'])}".replace(" (", "(")
            for s in sets
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_OTHERS = tuple(p for p in PRIORITY if p != "insider_misuse")
INSIDER_FIRST = (*_OTHERS[:3], "insider_misuse", *_OTHERS[3:])  # before fraud
ALL = {"data": {"folds": tuple("abcde"), "tune": True}}  # fold X left out by the harness
FOLD_A = {"fixed_folds": ("a",)}  # today's training set (fold a is then not held out)
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped: topics.yaml + fold a": FOLD_A,
    "all folds + tune halves": ALL,
    "fold a, vulnerable never vetoed": FOLD_A | {"never_vetoed": ("self_harm", "vulnerable")},
}


def variants(by_knowledge: dict[str, SensitiveDetector], names: list[str], folds: str) -> None:
    import desktop.core.sensitive as sensitive

    sensitive.CACHE_SIZE = 1 << 20  # every unit's nearest passage is remembered across variants
    _memoise(by_knowledge["none"].embedder)
    trainer = _trainer()
    measured = {}
    for name in names or list(VARIANTS):
        measured[name] = measure_variant(VARIANTS[name], by_knowledge, trainer, folds)
        print(variants_table({name: measured[name]}, folds).splitlines()[-1], flush=True)
    slim = {
        name: {s: {k: r[k] for k in ("routed", "false_route")} for s, r in out.items()}
        for name, out in measured.items()
    }
    write_result("sensitive_routing.variants", slim, variants_table(measured, folds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", default="", help="sets whose misses to print, e.g. tune,dev")
    parser.add_argument(
        "--test", action="store_true", help="also the held-out sets: test halves and fold f"
    )
    parser.add_argument("--floor", type=float, help="try another similarity floor (tuning)")
    parser.add_argument("--margin", type=float, help="try another margin (tuning)")
    parser.add_argument("--sets", default="", help="only these sets, e.g. tune,dev-none-a")
    parser.add_argument("--confirm", help="measure a local model's yes/no on first-stage routes")
    parser.add_argument("--variants", nargs="*", help="measure classifier variants (all: none)")
    parser.add_argument("--folds", default="abcde", help="dev folds for --variants")
    parser.add_argument("--out", default="sensitive_routing", help="results file name")
    args = parser.parse_args()
    by_knowledge = detectors()
    if args.variants is not None:
        variants(by_knowledge, args.variants, args.folds)
        return
    if args.confirm:
        confirm(args.confirm, by_knowledge)
        return
    for detector in by_knowledge.values():
        detector.floor = args.floor or detector.floor
        detector.margin = args.margin or detector.margin
    names = ["tune", "hc2-tune"]
    names += [f"dev-{k}-{fold}" for fold in "abcde" for k in ("none", "duckduckgo")] + ["demo"]
    names += list(HELD_OUT) if args.test else []
    names = [n for n in names if n in args.sets.split(",")] if args.sets else names
    results = {name: evaluate(cases(name), by_knowledge) for name in names}
    shown = [s for s in args.show.split(",") if s]
    for name, result in results.items():
        if name not in HELD_OUT and any(name.startswith(s) for s in shown):
            for miss in result["misses"]:
                print(f"MISS {name}", *miss, sep=" | ")
            for false in result["false_routes"]:
                print(f"FALSE {name}", *false, sep=" | ")
    data = {
        name: {k: v for k, v in r.items() if k not in ("misses", "false_routes")}
        | {"misses": len(r["misses"]), "false_routes": len(r["false_routes"])}
        for name, r in results.items()
    }
    write_result(args.out, {"results": data}, table(results))


if __name__ == "__main__":
    main()
