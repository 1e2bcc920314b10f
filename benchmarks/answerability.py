"""Answerability: is a question answered only when a retrieved passage answers it?

    .venv/bin/python benchmarks/answerability.py [--model GGUF ...] [--skip-model]

Over the help-centre set (data/helpcentre_questions.jsonl: answerable questions and near-domain
unanswerable ones, split into ``tune`` and held-out ``test``) and the demo set
(data/grounding_questions.jsonl, demo pack and Rackspace), each candidate decides "answer" or
"no approved source" from the passages Deskmate's search returns:

* ``floor``: today's rule, the best passage's relevance below ``answer.min_score`` (0.45);
* ``coverage``: the floor, or the best passages carry too little of the question's IDF-weighted
  content words (``desktop.core.answerable.coverage``; over the best 1, 2 or 3 passages);
* ``unknown``: the floor, or the question names a rare word found in no passage of the pack;
* ``lexical``: the floor, coverage and unknown words together (what Deskmate ships);
* ``judge-<model>``: the floor, or a local model's yes/no judgement (the odds of "yes" over "no"
  as its first reply token, given the question and the best two passages) below a threshold;
* ``lexical+judge-<model>``: both.

Every threshold is chosen on the ``tune`` half: the most refusals of unanswerable questions while
at least 95% of answerable ones are answered (failing that, the best sum of the two). ``test``
is then reported once with those settings. Time per question is the search plus the decision.
Results: benchmarks/results/answerability.{json,md}. Model judgements are cached (by model and
prompt) in the system's temporary folder, so a rerun only times what it has not seen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import ROOT, isolated_home, write_result
from grounding import contexts

from desktop.core import answerable
from desktop.core.assist import Assistant
from desktop.core.context import AppContext
from desktop.core.generation import prompts
from desktop.core.generation.engine import LlamaEngine, default_model_path
from desktop.core.knowledge.index import Hit

isolated_home()
DATA = ROOT / "benchmarks" / "data"
CACHE = Path(tempfile.gettempdir()) / "deskmate-answerability"
FLOOR = 0.45
TARGET_ANSWERED = 0.95
COVERAGE_GRID = [round(0.05 * i, 2) for i in range(0, 9)]

JUDGE_SYSTEM = (
    "You decide whether help-centre passages contain the answer to a customer's question. "
    "Answer with one word: yes or no."
)
JUDGE_PASSAGES = 2
JUDGE_PASSAGE_CHARS = 700


def judge_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The yes/no prompt for a local model (tried and rejected): do the best passages answer
    the question?"""
    shown = "\n\n".join(
        f"[{n}] {hit.title}: {prompts.passage(hit)[:JUDGE_PASSAGE_CHARS]}"
        for n, hit in enumerate(hits[:JUDGE_PASSAGES], start=1)
    )
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": f"Passages:\n{shown}\n\nCustomer question: {question}\n\n"
            "Do the passages contain the specific information needed to answer this "
            "question? Answer yes or no.",
        },
    ]


JUDGE_GRID = [round(0.05 * i, 2) for i in range(0, 20)]
Rule = Callable[[dict[str, Any]], bool]  # True: refuse


def load_cases() -> list[dict[str, Any]]:
    cases = []
    sets = (("helpcentre_questions.jsonl", None), ("grounding_questions.jsonl", "demo"))
    for name, group in sets:
        for line in (DATA / name).read_text().splitlines():
            case = json.loads(line)
            if case["expect"] in ("answered", "no_source"):
                case["group"] = group or case["split"]
                cases.append(case)
    return cases


def features(cases: list[dict[str, Any]], found: dict[str, AppContext]) -> None:
    """Search as Deskmate does and compute the lexical signals, timing both."""
    stats = {name: merged_stats(context) for name, context in found.items()}
    common = answerable.common_words(answerable.vocabulary_file(found["demo"].embedder))
    for case in cases:
        context = found[case["corpus"]]
        started = time.perf_counter()
        hits = Assistant(context).search(case["question"])
        case["search_s"] = time.perf_counter() - started
        started = time.perf_counter()
        pack = stats[case["corpus"]]
        case["unknown"] = answerable.unknown_terms(case["question"], pack, common)
        for k in (1, 2, 3):
            case[f"coverage{k}"] = answerable.coverage(case["question"], hits, pack, k)
        case["lexical_s"] = (time.perf_counter() - started) / 3
        started = time.perf_counter()
        question = case["question"]
        case["asked"] = answerable.asked_for(question)
        possessive = frozenset({"my", "your", "our", "their", "his", "her"})
        for k in (2, 3):
            case[f"stated{k}"] = answerable.stated(hits, k)
            case[f"focus{k}"] = answerable.absent_focus(question, hits, k)
            case[f"focus{k}_owned"] = answerable.absent_focus(question, hits, k, possessive)
        case["typed_s"] = (time.perf_counter() - started) / 2
        case["best"] = max((hit.rank_score for hit in hits), default=0.0)
        case["hits"] = hits


def merged_stats(context: AppContext) -> answerable.TermStats:
    packs = context.packs()
    return answerable.TermStats.merged(
        [answerable.pack_stats(pack, context.paths.cache) for pack in packs]
    )


def judge(cases: list[dict[str, Any]], model: Path, groups: tuple[str, ...]) -> str:
    """Each case's model judgement (p_yes) and its time, cached by model and prompt; only for
    the cases of *groups* (a judge rejected on tune need not cost the test half's time)."""
    name = model.stem
    CACHE.mkdir(parents=True, exist_ok=True)
    file = CACHE / f"{name}.json"
    cache: dict[str, list[float]] = json.loads(file.read_text()) if file.exists() else {}
    engine = LlamaEngine(model, context_cap=2048)
    for case in cases:
        if case["group"] not in groups:
            continue
        if not case["hits"]:
            case[f"judge-{name}"], case[f"judge-{name}_s"] = 1.0, 0.0  # the floor decides
            continue
        messages = judge_messages(case["question"], case["hits"])
        key = hashlib.sha256(json.dumps(messages).encode()).hexdigest()
        if key not in cache:
            started = time.perf_counter()
            odds = engine.next_word_odds(messages, "yes", "no")
            cache[key] = [odds, time.perf_counter() - started]
            file.write_text(json.dumps(cache))
        case[f"judge-{name}"], case[f"judge-{name}_s"] = cache[key]
    return name


def rates(cases: list[dict[str, Any]], refuse: Rule) -> dict[str, Any]:
    answerable_ = [c for c in cases if c["expect"] == "answered"]
    unanswerable = [c for c in cases if c["expect"] == "no_source"]
    answered = sum(not refuse(c) for c in answerable_) / len(answerable_)
    refused = sum(refuse(c) for c in unanswerable) / len(unanswerable)
    return {
        "answered": round(answered, 3),
        "refused": round(refused, 3),
        "n_answerable": len(answerable_),
        "n_unanswerable": len(unanswerable),
    }


def choose(tune: list[dict[str, Any]], rules: dict[str, Rule]) -> str:
    """The setting with the most refusals while >= 95% answered (else the best sum), on tune."""

    def key(name: str) -> tuple[bool, float, float]:
        r = rates(tune, rules[name])
        meets = r["answered"] >= TARGET_ANSWERED
        return (meets, r["refused"] if meets else r["answered"] + r["refused"], r["answered"])

    return max(rules, key=key)  # ties: the first (lowest threshold) in grid order


def floor(case: dict[str, Any]) -> bool:
    return bool(case["best"] < FLOOR)


def families(judges: list[str]) -> dict[str, dict[str, Rule]]:
    """Each candidate approach: its settings (name -> refusal rule), in grid order."""
    found: dict[str, dict[str, Rule]] = {"floor": {"floor 0.45": floor}}
    found["unknown"] = {"unknown words": lambda c: floor(c) or bool(c["unknown"])}
    found["coverage"] = {
        f"coverage{k} >= {t}": _coverage_rule(k, t, False) for k in (1, 2, 3) for t in COVERAGE_GRID
    }
    found["lexical"] = {
        f"coverage{k} >= {t} + unknown": _coverage_rule(k, t, True)
        for k in (1, 2, 3)
        for t in COVERAGE_GRID
    }
    for name in judges:
        found[f"judge-{name}"] = {f"p_yes >= {t}": _judge_rule(name, t, None) for t in JUDGE_GRID}
    return found


VALUES = ("a price", "a percentage", "a number", "a date")
ADVICE = ("a recommendation",)
SHIPPED = "lexical + answer type + focus"


def typed_families(base: str, lexical: Rule) -> dict[str, dict[str, Rule]]:
    """Answer-type and focus checks on top of the chosen lexical rule, over the best 2 or 3."""
    kinds = {
        "lexical + value type": (VALUES, False),
        "lexical + value type, every kind asked": (VALUES, True),
        "lexical + advice": (ADVICE, False),
    }
    found: dict[str, dict[str, Rule]] = {}
    for family, (asked, every) in kinds.items():
        found[family] = {
            f"{base}, in best {k}": _typed_rule(lexical, k, asked, every, None) for k in (2, 3)
        }
    for family, suffix in (
        ("lexical + focus, possessives only", "_owned"),
        ("lexical + focus", ""),
    ):
        found[family] = {
            f"{base}, in best {k}": _focus_rule(lexical, f"focus{k}{suffix}") for k in (2, 3)
        }
    found[SHIPPED] = {
        f"{base}, in best {k}": _typed_rule(lexical, k, VALUES + ADVICE, False, f"focus{k}")
        for k in (2, 3)
    }
    return found


def _typed_rule(
    lexical: Rule, k: int, kinds: tuple[str, ...], every: bool, focus: str | None
) -> Rule:
    """Refuse when the question asks for a kind of value (of *kinds*) the passages do not state:
    none of the asked kinds (as shipped) or, with *every*, any one of them."""

    def refuse(case: dict[str, Any]) -> bool:
        asked = [kind for kind in case["asked"] if kind in kinds]
        missing = [kind for kind in asked if kind not in case[f"stated{k}"]]
        typed = bool(missing) and (every or len(missing) == len(asked))
        return lexical(case) or typed or (focus is not None and bool(case[focus]))

    return refuse


def _focus_rule(lexical: Rule, key: str) -> Rule:
    return lambda case: lexical(case) or bool(case[key])


def _coverage_rule(k: int, threshold: float, unknown: bool) -> Rule:
    def refuse(case: dict[str, Any]) -> bool:
        low = case[f"coverage{k}"] < threshold
        return floor(case) or low or (unknown and bool(case["unknown"]))

    return refuse


def _judge_rule(name: str, threshold: float, lexical: Rule | None) -> Rule:
    def refuse(case: dict[str, Any]) -> bool:
        extra = lexical is not None and lexical(case)
        return floor(case) or extra or case[f"judge-{name}"] < threshold

    return refuse


def seconds(case: dict[str, Any], family: str) -> float:
    spent = float(case["search_s"])
    if family not in ("floor",):
        spent += case["lexical_s"] if not family.startswith("judge") else 0.0
    if family.startswith("lexical + "):
        spent += case["typed_s"]
    if "judge-" in family:
        spent += case[family[family.index("judge-") :] + "_s"]
    return spent


def evaluate(cases: list[dict[str, Any]], judges: list[str]) -> dict[str, Any]:
    groups = {g: [c for c in cases if c["group"] == g] for g in ("tune", "test", "demo")}
    groups = {g: members for g, members in groups.items() if members}
    found = families(judges)
    results: dict[str, Any] = {}
    for family, rules in list(found.items()):
        setting = choose(groups["tune"], rules)
        results[family] = _report(family, setting, rules[setting], groups)
    lexical = found["lexical"][results["lexical"]["setting"]]
    for family, rules in typed_families(results["lexical"]["setting"], lexical).items():
        setting = choose(groups["tune"], rules)
        results[family] = _report(family, setting, rules[setting], groups)
    for name in judges:
        family = f"lexical+judge-{name}"
        rules = {
            f"{results['lexical']['setting']}, p_yes >= {t}": _judge_rule(name, t, lexical)
            for t in JUDGE_GRID
        }
        setting = choose(groups["tune"], rules)
        results[family] = _report(family, setting, rules[setting], groups)
    return results


def _report(
    family: str, setting: str, rule: Rule, groups: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {"setting": setting}
    for group, members in groups.items():
        if "judge-" in family and any(family[family.index("judge-") :] not in c for c in members):
            out[group] = None  # not judged (see --judge-on)
            continue
        out[group] = rates(members, rule)
        times = [seconds(c, family) for c in members]
        out[group]["seconds_per_question"] = round(sum(times) / len(times), 3)
        decision = sum(t - c["search_s"] for t, c in zip(times, members, strict=True))
        out[group]["decision_ms"] = round(1000 * decision / len(members), 2)
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        "# Answerability: answer only what a passage answers",
        "",
        "Thresholds chosen on `tune` (most unanswerable refused while >= 95% of answerable "
        "answered); `test` is held out, measured once. Time: search + decision, per question; "
        "the decision alone in ms.",
        "",
        "| approach | setting (chosen on tune) | tune answered | tune refused | "
        "test answered | test refused | demo answered | demo refused | s/question (test) | "
        "decision ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for family, r in results.items():
        cells = []
        for group in ("tune", "test", "demo"):
            got = r.get(group)
            cells += [f"{got['answered']:.3f}", f"{got['refused']:.3f}"] if got else ["-", "-"]
        timed = r.get("test") or r["tune"]
        when = "" if r.get("test") else " (tune)"
        lines.append(
            f"| {family} | {r['setting']} | {' | '.join(cells)} | "
            f"{timed['seconds_per_question']:.2f}{when} | {timed['decision_ms']:.1f} |"
        )
    return "\n".join(lines)


NOTES = """
## What ships, and what was tried and rejected

Shipped (`desktop/core/answerable.py`): the floor, plus *lexical* (settings
`answer.min_coverage` = 0.1 over the best 2 passages and `answer.refuse_unknown_names` = on),
plus the row `lexical + answer type + focus`:

* **Answer type** (`answer.match_answer_type` = on; `asked_for`, `stated`, `lacking`): a
  question that asks for a price ("how much is", "what does it cost", "is there a charge",
  "cheaper", "revenue"), a percentage, a number ("how many", "how long", "what's the maximum"),
  a date ("release date", "when will it come out") or a recommendation ("should I", "is it
  worth") is answered only when one of the best 3 passages states a value of that kind (a
  currency amount or "free"/"no-cost"/"included"; "%"; a digit or number word; a month, year,
  weekday or "N days"; "recommend"/"better"/"you should"). A question asking for two kinds is
  answered when either is stated.
* **Focus names** (`answer.refuse_absent_focus` = on; `absent_focus`): in a question written
  with capitals, a name the question is about must occur in the best 3 passages: a name after
  "my/your/our/their", "with", "for", "on", "via", "alongside"…, a possessive ("Apple's"), or the
  last word of a multi-word name ("Apple *Watch*", "Cloud *Functions*"). Places after "in/to"
  ("in the UK") and units after a number ("12 GB") do not count.

Both are regular expressions over the question and 3 passages: 1-2 ms a question.

The single-check rows use whichever of the best 2 or 3 passages tune chose (ties: 2); the
shipped row and `desktop/core/answerable.py` use 3 (with 2, focus names refused answerable demo
questions: the demo row of `lexical + focus`).

**Held-out result: the target is not met.** On `test` the shipped combination refuses 0.704 of
unanswerable questions (lexical alone: 0.444) but answers 0.896 of answerable ones (lexical:
0.958); each check alone costs about one answerable test question. The rules were written while
reading the tune rows, so tune (1.000 refused) overstates them. No setting was changed after the
test run.

Tried and rejected:

* **Every asked kind must be stated** (`value type, every kind asked`): refuses "How much is a
  replacement SIM and how long will it take?" when the passages give the time but not the
  price; the demo set answered fewer questions.
* **Focus names after possessives only**: misses "with Netflix", "on Rackspace Cloud
  Functions" (fewer refusals on tune and demo).
* **Names anywhere in the question** (any capitalised word absent from the best passages):
  refuses answerable questions that mention a place or a plan as context ("a VPN location in
  Switzerland", "travelling to the USA", "a Mediterranean cruise").
* **A higher relevance floor**: near-domain questions score as high as answerable ones
  (0.61 for a NordVPN price comparison); 0.50 instead of 0.45 refused 4% more unanswerable
  questions on tune for 2% fewer answers.
* **Coverage by the single best passage** (>= 0.1: 0.958 answered, 0.556 refused on tune, the
  same refusals as 2 passages for more lost answers) and by 3 passages (weaker).
* **Coverage alone with a higher threshold** (best 3 passages, >= 0.3): the best tune refusal
  at >= 95% answered, but it answered fewer demo questions than today (the demo set must not get
  worse), and it refuses casually worded questions whose words the articles do not use.
* **Every word absent from the pack counts as unknown**: casual words ("stuff", "hadnt",
  "misspelt", "plugged") refused answerable questions. Only rare words count (not a single
  WordPiece token of MiniLM's vocabulary, inflections stripped), and in a question written with
  capitals only capitalised words that do not start a sentence (names).
* **A local-model yes/no judge** (`LlamaEngine.next_word_odds`: first-token odds of "yes" over
  "no", nothing sampled; best two passages, 700 characters each), alone and on top of lexical:
  see the `judge-*` rows, measured on tune only. Neither SmolLM2-135M nor Qwen2.5-Coder-0.5B
  separates the two kinds (SmolLM2's p_yes 0.32-0.57 and Qwen's 0.15-0.50 for answerable
  questions, the same range for unanswerable ones), so the tune choice is a threshold that
  changes nothing, at 12-21 s a question on a loaded 2-core machine. Not run on test: rejected
  on tune.

Limits: the answer-type and focus rules were written while reading the tune rows (the tune
numbers of those rows are therefore optimistic; `test` is the honest measure). They are English
patterns. Lower-case questions get no focus check (no capitals to find names by). A passage that
states *some* value of the asked kind passes, even if it is not the value asked about.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, default=[])
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument(
        "--judge-on", default="tune", help="groups the model judges: tune,test,demo (default tune)"
    )
    parser.add_argument("--no-test", action="store_true", help="leave the held-out half out")
    args = parser.parse_args()
    cases = load_cases()
    if args.no_test:
        cases = [c for c in cases if c["group"] != "test"]
    features(cases, contexts(("demo", "rackspace", "duckduckgo"), generation=False))
    models = [] if args.skip_model else (args.model or [default_model_path()])
    groups = tuple(args.judge_on.split(","))
    judges = [judge(cases, model, groups) for model in models if model is not None]
    results = evaluate(cases, judges)
    counts = {g: sum(c["group"] == g for c in cases) for g in ("tune", "test", "demo")}
    write_result(
        "answerability",
        {"cases": counts, "floor": FLOOR, "results": results, "models": [str(m) for m in models]},
        table(results) + "\n" + NOTES,
    )


if __name__ == "__main__":
    main()
