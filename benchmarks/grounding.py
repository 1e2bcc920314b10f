"""Grounding quality: answers, refusals, routing, citations and sentence verification.

    .venv/bin/python benchmarks/grounding.py [--skip-model] [--model GGUF]

Over the labelled cases in data/grounding_questions.jsonl (demo content and the Rackspace corpus:
answerable, unanswerable and sensitive), runs Deskmate's real ask pipeline with the default model
(SmolLM2-135M) and in extractive mode, and reports answer rate, refusal accuracy on unanswerable
cases, route-to-human accuracy (and false routes), citation precision (a cited source is one of
the expected ones), the share of draft sentences judged supported and the share of expected facts
that appear. Then checks the sentence verifier on data/planted_claims.jsonl: the share of planted
unsupported sentences it flags and the share of genuinely supported sentences it wrongly flags.
Results: benchmarks/results/grounding.{json,md}; with --model, grounding-<model file stem>.*.
Model drafts with less than ``answer.min_supported`` of their sentences supported are replaced by
extractive ones, as in the product; ``model_draft_kept`` and ``model_own_supported`` show how often
and how well the model itself did.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, WORK, rackspace_pack, write_result

os.environ.setdefault("DESKMATE_HOME", tempfile.mkdtemp(prefix="deskmate-bench-"))
os.environ["DESKMATE_POLICY"] = str(Path(os.environ["DESKMATE_HOME"]) / "no-policy.json")

from desktop.core.assist import Answer, Assistant, Done
from desktop.core.context import AppContext
from desktop.core.generation import verify
from desktop.core.knowledge.embedder import Embedder
from desktop.core.paths import Paths
from desktop.core.settings import Settings

DATA = ROOT / "benchmarks" / "data"
METRICS = (
    "answer_rate",
    "refusal_accuracy",
    "route_accuracy",
    "false_route_rate",
    "citation_precision",
    "supported_share",
    "fact_recall",
    "model_draft_kept",
    "model_own_supported",
)


def contexts(generation: bool, model: Path | None = None) -> dict[str, AppContext]:
    demo = AppContext.from_env(model_path=model)
    demo.ensure_demo_pack()
    paths = Paths.from_env()
    rackspace = AppContext(
        paths,
        Settings(paths),
        pack_dirs=[WORK / "rackspace-pack"],
        model_path=model,
        embedder=demo.embedder,
    )
    for context in (demo, rackspace):
        context.settings.set("generation.enabled", generation)
    return {"demo": demo, "rackspace": rackspace}


def ask(context: AppContext, question: str) -> Answer:
    for event in Assistant(context).ask(question):
        if isinstance(event, Done):
            return event.answer
    raise AssertionError("no Done event")


def score(cases: list[dict[str, Any]], answers: list[Answer]) -> dict[str, Any]:
    counts: dict[str, list[float]] = {name: [] for name in METRICS}
    for case, answer in zip(cases, answers, strict=True):
        expect = case["expect"]
        routed = answer.status == "route_to_human"
        if expect == "answered":
            counts["answer_rate"].append(float(answer.status == "answered"))
        if expect == "no_source":
            counts["refusal_accuracy"].append(float(answer.status == "no_source"))
        if expect == "route_to_human":
            counts["route_accuracy"].append(
                float(routed and answer.route.get("topic") == case["sensitive_topic"])
            )
        else:
            counts["false_route_rate"].append(float(routed))
        if answer.status != "answered":
            continue
        if answer.mode == "model" or answer.replaced:
            # Drafts the model wrote: kept (at least answer.min_supported of them supported) or
            # replaced by an extractive draft; and the supported share of its own sentences.
            counts["model_draft_kept"].append(float(answer.mode == "model"))
            own = answer.replaced.get("sentences") or [s.to_json() for s in answer.sentences]
            counts["model_own_supported"] += [float(s["verdict"] == "supported") for s in own]
        relevant = set(case["relevant"])
        for sentence in answer.sentences:
            counts["supported_share"].append(float(sentence.verdict == "supported"))
            for n in sentence.citations:
                if 1 <= n <= len(answer.sources) and relevant:
                    counts["citation_precision"].append(
                        float(answer.sources[n - 1].source in relevant)
                    )
        for fact in case["facts"]:
            counts["fact_recall"].append(float(fact.lower() in answer.draft.lower()))
    return {k: (round(sum(v) / len(v), 3) if v else None, len(v)) for k, v in counts.items()}


def run_cases(
    cases: list[dict[str, Any]], generation: bool, model: Path | None = None
) -> tuple[dict[str, Any], float]:
    by_corpus = contexts(generation, model)
    started = time.perf_counter()
    answers = [ask(by_corpus[c["corpus"]], c["question"]) for c in cases]
    return score(cases, answers), time.perf_counter() - started


def planted() -> dict[str, Any]:
    rows = [json.loads(line) for line in (DATA / "planted_claims.jsonl").read_text().splitlines()]
    flagged: dict[str, list[float]] = {}
    meaning = verify.EmbeddingMeaning(Embedder().embed)  # as Assistant.ask verifies
    for row in rows:
        verdict = verify.judge(f"{row['sentence']} [1]", [row["passage"]], meaning).verdict
        key = "supported" if row["label"] == "supported" else f"unsupported:{row['kind']}"
        flagged.setdefault(key, []).append(float(verdict != "supported"))
    unsupported = [v for k, vs in flagged.items() if k != "supported" for v in vs]
    return {
        "unsupported_flagged": round(sum(unsupported) / len(unsupported), 3),
        "supported_wrongly_flagged": round(
            sum(flagged["supported"]) / len(flagged["supported"]), 3
        ),
        "by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(flagged.items())},
        "counts": {k: len(v) for k, v in flagged.items()},
    }


def main() -> None:
    rackspace_pack(contexts(False)["demo"].embedder, progress=False)
    cases = [
        json.loads(line)
        for line in (DATA / "grounding_questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    model = Path(sys.argv[sys.argv.index("--model") + 1]) if "--model" in sys.argv else None
    modes = {"extractive": run_cases(cases, generation=False)}
    if "--skip-model" not in sys.argv:
        label = model.stem if model else "SmolLM2-135M"
        modes[label] = run_cases(cases, generation=True, model=model)
    checks = planted()
    names = list(METRICS)
    lines = [
        f"Grounding on {len(cases)} labelled cases "
        f"({sum(c['expect'] == 'answered' for c in cases)} answerable, "
        f"{sum(c['expect'] == 'no_source' for c in cases)} unanswerable, "
        f"{sum(c['expect'] == 'route_to_human' for c in cases)} sensitive)",
        "",
        "| mode | " + " | ".join(names) + " | seconds |",
        "|---" * (len(names) + 2) + "|",
    ]
    for mode, (result, seconds) in modes.items():
        cells = [
            f"{result[n][0]:.3f} (n={result[n][1]})" if result[n][0] is not None else "-"
            for n in names
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    lines += [
        "",
        "Sentence verifier on planted claims (data/planted_claims.jsonl): "
        f"{checks['unsupported_flagged']:.0%} of planted unsupported sentences flagged, "
        f"{checks['supported_wrongly_flagged']:.0%} of supported sentences wrongly flagged.",
        "",
        "| kind | flagged | n |",
        "|---|---|---|",
    ]
    for kind, share in checks["by_kind"].items():
        lines.append(f"| {kind} | {share:.3f} | {checks['counts'][kind]} |")
    write_result(
        "grounding" if model is None else f"grounding-{model.stem}",
        {"cases": len(cases), "modes": {m: r for m, (r, _) in modes.items()}, "planted": checks},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
