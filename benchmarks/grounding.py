"""Grounding quality: answers, refusals, routing, citations and sentence verification.

    .venv/bin/python benchmarks/grounding.py [--set demo|helpcentre|helpcentre2|all] [--skip-model]
                                             [--model GGUF] [--split tune|test] [--expect answered]
                                             [--every N] [--limit N]
                                             [--dump FILE]

Three labelled sets, each run through Deskmate's real ask pipeline, with the default model and in
extractive mode:

* ``demo`` (data/grounding_questions.jsonl): the demo pack and the Rackspace corpus;
* ``helpcentre`` (data/helpcentre_questions.jsonl): knowledge nobody here wrote, with the demo
  pack absent: the DuckDuckGo help centre and the Rackspace corpus, each alone in its context.
  Its cases are split into ``tune`` (what thresholds were chosen on) and ``test`` (held out),
  reported separately.
* ``helpcentre2`` (data/helpcentre2_duckduckgo.jsonl and data/helpcentre2_rackspace.jsonl): a
  second set over the same two corpora by independent authors who never saw Deskmate's rules,
  split ``tune``/``test`` the same way.

Per mode: answer rate, refusal accuracy on unanswerable cases, route-to-human accuracy and the
false-route rate on ordinary cases, citation precision (a cited source is one of the expected
articles; over all citations, and per draft: each draft's share averaged, so that a long draft
does not count more), key fact in the draft (the case's first fact, or the answering sentence
of an article the label audit added, appears in the draft, Markdown aside; over all answerable
cases),
off-topic sentence share (shown sentences citing an article that is not an expected one), the
supported share of shown sentences, fact recall (every fact), and seconds per answer. Then the
sentence verifier on data/planted_claims.jsonl: the share of planted unsupported sentences it flags
and the share of genuinely supported sentences it wrongly flags.
Results: benchmarks/results/grounding[-<set>][-<model file stem>].{json,md}. ``--dump FILE`` writes
every case's answer as JSON lines, for checking drafts by hand.
Model drafts with less than ``answer.min_supported`` of their sentences supported are replaced by
extractive ones, as in the product; ``model_draft_kept`` and ``model_own_supported`` show how often
and how well the model itself did.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from common import ROOT, corpus_pack, isolated_home, write_result

from desktop.core.assist import Answer, Assistant, Done
from desktop.core.context import AppContext
from desktop.core.generation import verify
from desktop.core.knowledge.embedder import Embedder
from desktop.core.paths import Paths
from desktop.core.settings import Settings

isolated_home()
DATA = ROOT / "benchmarks" / "data"
METRICS = (
    "answer_rate",
    "refusal_accuracy",
    "route_accuracy",
    "false_route_rate",
    "citation_precision",
    "draft_citation_precision",
    "key_fact",
    "off_topic_share",
    "supported_share",
    "fact_recall",
    "model_draft_kept",
    "model_own_supported",
)
SETS = {
    "demo": (("grounding_questions.jsonl",), ("demo", "rackspace")),
    "helpcentre": (("helpcentre_questions.jsonl",), ("duckduckgo", "rackspace")),
    "helpcentre2": (
        ("helpcentre2_duckduckgo.jsonl", "helpcentre2_rackspace.jsonl"),
        ("duckduckgo", "rackspace"),
    ),
}


def contexts(
    corpora: tuple[str, ...], generation: bool, model: Path | None = None
) -> dict[str, AppContext]:
    """One context per corpus; "demo" is the app's own demo pack, the others a corpus pack alone."""
    demo = AppContext.from_env(model_path=model)
    found: dict[str, AppContext] = {}
    for corpus in corpora:
        if corpus == "demo":
            demo.ensure_demo_pack()
            found[corpus] = demo
            continue
        paths = Paths.from_env()
        found[corpus] = AppContext(
            paths,
            Settings(paths),
            pack_dirs=[corpus_pack(corpus, demo.embedder, progress=False)],
            model_path=model,
            embedder=demo.embedder,
        )
    for context in found.values():
        context.settings.set("generation.enabled", generation)
        context.settings.set("generation.replies", generation)  # a model row measures its replies
    return found


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
            if case["facts"]:
                draft = _plain(answer.draft)
                answers = [case["facts"][0], *AUDITED.get(case.get("id", ""), [])]
                found = answer.status == "answered" and any(_plain(a) in draft for a in answers)
                counts["key_fact"].append(float(found))
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
        right: list[float] = []
        for sentence in answer.sentences:
            counts["supported_share"].append(float(sentence.verdict == "supported"))
            cited = [
                answer.sources[n - 1].source
                for n in sentence.citations
                if 1 <= n <= len(answer.sources)
            ]
            if relevant:
                right += [float(source in relevant) for source in cited]
                counts["off_topic_share"].append(
                    float(bool(cited) and not any(source in relevant for source in cited))
                )
        counts["citation_precision"] += right
        if right:  # each draft counts once, however long it is
            counts["draft_citation_precision"].append(sum(right) / len(right))
        draft = _plain(answer.draft)
        for fact in case["facts"]:
            counts["fact_recall"].append(float(_plain(fact) in draft))
    return {k: (round(sum(v) / len(v), 3) if v else None, len(v)) for k, v in counts.items()}


def _plain(text: str) -> str:
    """*text* lowercased, without Markdown emphasis, code marks or link targets, spaces collapsed:
    a fact is found whether the draft keeps the article's Markdown or not."""
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"\*\*|__|`", "", text)
    return " ".join(text.lower().replace("’", "'").split())


def _audited() -> dict[str, list[str]]:
    """Case id -> the answering sentences of articles the label audit added
    (data/helpcentre_label_audit.tsv): a draft quoting one of them answers the case too."""
    found: dict[str, list[str]] = {}
    for line in (DATA / "helpcentre_label_audit.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            case, _path, sentence = line.split("\t", 2)
            found.setdefault(case, []).append(sentence)
    return found


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
AUDITED = _audited()


def run_cases(
    cases: list[dict[str, Any]],
    corpora: tuple[str, ...],
    generation: bool,
    model: Path | None = None,
) -> tuple[list[Answer], float]:
    by_corpus = contexts(corpora, generation, model)
    started = time.perf_counter()
    answers = [ask(by_corpus[c["corpus"]], c["question"]) for c in cases]
    return answers, (time.perf_counter() - started) / max(1, len(cases))


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


def table(title: str, rows: dict[str, tuple[dict[str, Any], float]]) -> list[str]:
    names = list(METRICS)
    lines = [
        title,
        "",
        "| mode | " + " | ".join(names) + " | s/answer |",
        "|---" * (len(names) + 2) + "|",
    ]
    for mode, (result, seconds) in rows.items():
        cells = [
            f"{result[n][0]:.3f} (n={result[n][1]})" if result[n][0] is not None else "-"
            for n in names
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + f" | {seconds:.2f} |")
    return [*lines, ""]


def describe(cases: list[dict[str, Any]]) -> str:
    return (
        f"{len(cases)} cases ({sum(c['expect'] == 'answered' for c in cases)} answerable, "
        f"{sum(c['expect'] == 'no_source' for c in cases)} unanswerable, "
        f"{sum(c['expect'] == 'route_to_human' for c in cases)} sensitive)"
    )


def load_set(name: str) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Every case of the set *name* (all its files, in order) and the corpora it needs."""
    filenames, corpora = SETS[name]
    cases = [
        json.loads(line)
        for filename in filenames
        for line in (DATA / filename).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return cases, corpora


def run_set(
    name: str, args: argparse.Namespace, dump: list[dict[str, Any]]
) -> tuple[list[str], dict[str, Any]]:
    cases, corpora = load_set(name)
    if args.split:
        cases = [c for c in cases if c.get("split", "all") == args.split]
    if args.expect:
        cases = [c for c in cases if c["expect"] == args.expect]
    cases = cases[:: args.every][: args.limit] if args.limit else cases[:: args.every]
    modes = {"extractive": run_cases(cases, corpora, generation=False)}
    if not args.skip_model:
        label = args.model.stem if args.model else "SmolLM2-135M"
        modes[label] = run_cases(cases, corpora, generation=True, model=args.model)
    splits = sorted({c.get("split", "all") for c in cases}, reverse=True)  # test before tune
    lines, results = [], {}
    for split in splits:
        chosen = [i for i, c in enumerate(cases) if c.get("split", "all") == split]
        subset = [cases[i] for i in chosen]
        rows = {
            mode: (score(subset, [answers[i] for i in chosen]), seconds)
            for mode, (answers, seconds) in modes.items()
        }
        label = f"`{name}` set" + ("" if split == "all" else f", **{split}** half")
        lines += table(f"{label}: {describe(subset)}", rows)
        results[split] = {mode: result for mode, (result, _) in rows.items()}
    for mode, (answers, _) in modes.items():
        for case, answer in zip(cases, answers, strict=True):
            dump.append({"set": name, "mode": mode, "case": case, "answer": answer.to_json()})
    return lines, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases of each set")
    parser.add_argument("--split", choices=["tune", "test"], help="only this half of a split set")
    parser.add_argument(
        "--expect",
        choices=["answered", "no_source", "route_to_human"],
        help="only cases expecting this outcome (models differ only on answered ones)",
    )
    parser.add_argument("--every", type=int, default=1, help="only every Nth case (a sample)")
    parser.add_argument("--dump", type=Path, help="write every answer here (JSON lines)")
    args = parser.parse_args()
    names = list(SETS) if args.set == "all" else [args.set]
    lines: list[str] = []
    results: dict[str, Any] = {}
    dump: list[dict[str, Any]] = []
    for name in names:
        set_lines, results[name] = run_set(name, args, dump)
        lines += set_lines
    checks = planted()
    lines += [
        "Sentence verifier on planted claims (data/planted_claims.jsonl): "
        f"{checks['unsupported_flagged']:.0%} of planted unsupported sentences flagged, "
        f"{checks['supported_wrongly_flagged']:.0%} of supported sentences wrongly flagged.",
        "",
        "| kind | flagged | n |",
        "|---|---|---|",
    ]
    for kind, share in checks["by_kind"].items():
        lines.append(f"| {kind} | {share:.3f} | {checks['counts'][kind]} |")
    if args.dump:
        args.dump.write_text("".join(json.dumps(row) + "\n" for row in dump))
    stem = "grounding" + ("" if args.set == "all" else f"-{args.set}")
    stem += f"-{args.split}" if args.split else ""
    stem += f"-{args.expect}" if args.expect else ""
    stem += f"-every{args.every}" if args.every > 1 else ""
    write_result(
        stem if args.model is None else f"{stem}-{args.model.stem}",
        {"sets": results, "planted": checks},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
