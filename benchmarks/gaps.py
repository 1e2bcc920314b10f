"""Knowledge-gap grouping: do questions asking the same thing land in one group, and only they?

    .venv/bin/python benchmarks/gaps.py

Simulated gaps, grouped by :func:`desktop.core.gaps.group` with the shipped embedder:

* ``data/gap_questions.jsonl``: 16 topics the DuckDuckGo and Rackspace help centres do not
  cover, 4 phrasings each (as agents would type them), labelled by topic; 8 topics are ``tune``,
  8 ``test``;
* every question of ``data/helpcentre_questions.jsonl`` of the same split (answered, no source
  and routed alike), labelled by its first relevant article (questions about one article belong
  together) or, with none, by itself.

Per threshold: purity (the share of questions in a group whose majority label is theirs), the
number of groups against the number of labels, pairwise precision / recall / F1 (pairs put
together that belong together), and the share of gap topics found whole (3 of their 4 phrasings
or more in one group, of which they are the majority). The threshold is chosen on tune by
pairwise F1; test is measured once, at that threshold. Results: ``results/gaps.{json,md}``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

from common import ROOT, write_result

from desktop.core.gaps import NO_SOURCE, THRESHOLD, Gap, group
from desktop.core.knowledge.embedder import Embedder

DATA = ROOT / "benchmarks" / "data"
THRESHOLDS = [round(0.40 + 0.05 * step, 2) for step in range(10)]


def load(split: str) -> list[tuple[str, str]]:
    """(question, label) pairs of *split*."""
    items: list[tuple[str, str]] = []
    for line in (DATA / "gap_questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] == split:
            items.append((row["question"], f"topic:{row['topic']}"))
    seen = {question.casefold() for question, _ in items}
    for line in (DATA / "helpcentre_questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != split or row["question"].casefold() in seen:
            continue
        label = f"article:{row['relevant'][0]}" if row["relevant"] else f"question:{row['id']}"
        items.append((row["question"], label))
    return items


def score(items: list[tuple[str, str]], embedder: Embedder, threshold: float) -> dict[str, Any]:
    label_of = dict(items)
    gaps = [Gap(NO_SOURCE, q, "2025-01-01T00:00:00.000Z", "") for q, _ in items]
    groups = [[gap.text for gap in g.gaps] for g in group(gaps, embedder.embed, threshold)]
    pure = sum(Counter(label_of[q] for q in g).most_common(1)[0][1] for g in groups)
    together = {frozenset(pair) for g in groups for pair in combinations(g, 2)}
    by_label: dict[str, list[str]] = defaultdict(list)
    for question, label in items:
        by_label[label].append(question)
    belong = {frozenset(pair) for qs in by_label.values() for pair in combinations(qs, 2)}
    hits = len(together & belong)
    precision = hits / len(together) if together else 1.0
    recall = hits / len(belong) if belong else 1.0
    topics = [label for label in by_label if label.startswith("topic:")]
    whole = sum(_found_whole(label, groups, label_of) for label in topics)
    return {
        "threshold": threshold,
        "questions": len(items),
        "labels": len(by_label),
        "groups": len(groups),
        "purity": round(pure / len(items), 4),
        "pair_precision": round(precision, 4),
        "pair_recall": round(recall, 4),
        "pair_f1": round(2 * precision * recall / (precision + recall or 1), 4),
        "topics_found_whole": round(whole / len(topics), 4) if topics else None,
    }


def _found_whole(label: str, groups: list[list[str]], label_of: dict[str, str]) -> bool:
    for members in groups:
        labels = Counter(label_of[q] for q in members)
        if labels[label] >= 3 and labels.most_common(1)[0][0] == label:
            return True
    return False


def _line(row: dict[str, Any], split: str) -> str:
    return (
        f"| {split} | {row['threshold']:.2f} | {row['questions']} | {row['labels']} | "
        f"{row['groups']} | {row['purity']:.3f} | {row['pair_precision']:.3f} | "
        f"{row['pair_recall']:.3f} | {row['pair_f1']:.3f} | {row['topics_found_whole']:.2f} |"
    )


def main() -> None:
    embedder = Embedder()
    tune_items = load("tune")
    sweep = [score(tune_items, embedder, threshold) for threshold in THRESHOLDS]
    chosen = max(sweep, key=lambda row: (row["pair_f1"], -abs(row["threshold"] - 0.6)))
    test = score(load("test"), embedder, chosen["threshold"])
    shipped = score(load("tune"), embedder, THRESHOLD)
    head = (
        "| split | threshold | questions | labels | groups | purity | pair precision | "
        "pair recall | pair F1 | gap topics found whole |\n" + "|---" * 10 + "|"
    )
    table = "\n".join(
        [
            "# Knowledge-gap grouping (benchmarks/gaps.py)",
            "",
            f"Chosen on tune by pairwise F1: **{chosen['threshold']:.2f}**; shipped "
            f"`desktop.core.gaps.THRESHOLD` = {THRESHOLD:.2f}.",
            "",
            head,
            *[_line(row, "tune") for row in sweep],
            _line(test, "test"),
        ]
    )
    data = {"sweep_tune": sweep, "chosen": chosen["threshold"], "test": test}
    write_result("gaps", {**data, "shipped_threshold": THRESHOLD, "shipped_tune": shipped}, table)


if __name__ == "__main__":
    main()
