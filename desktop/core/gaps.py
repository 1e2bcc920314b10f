"""Knowledge gaps for admins: questions no approved source answered, and drafts marked not
useful, grouped by meaning so that the article to write next stands out.

What is read is what this PC recorded, and only that: a ``no_source`` record of the audit trail
keeps its question only where ``privacy.audit_question`` is ``redacted``; a thumbs-down keeps it
in ``feedback.jsonl`` where ``privacy.feedback_question`` is ``redacted`` (the default) and in
the audit record where the audit keeps questions. The text is redacted again here (old feedback
lines may predate redaction), so a report never shows what redaction masks. Gaps recorded
without any text are counted (:attr:`GapReport.untexted`) and the report says how to keep them.

:func:`group` is greedy clustering by cosine similarity to each group's centroid with the
shipped embedder: the most frequent questions seed groups first, and a question joins the
closest group at :data:`THRESHOLD` or more (chosen on data by ``benchmarks/gaps.py``). Nothing
here writes anything or leaves the PC: the report goes where its caller sends it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.core.audit import Record, format_time, parse_time
from desktop.core.redact import RedactOptions, redact

THRESHOLD = 0.65  # cosine to a group's centroid; benchmarks/results/gaps.md
NO_SOURCE = "no_source"
NOT_USEFUL = "not_useful"
EXAMPLES = 3
HOW_TO_KEEP = (
    "Gaps were recorded without their question, so they cannot be grouped. To keep questions "
    "(personal data masked on this PC), set privacy.audit_question to redacted (questions with "
    "no approved source) and privacy.feedback_question to redacted (drafts marked not useful), "
    "in Settings or by IT policy."
)

Embed = Callable[[list[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Gap:
    """One question that found no approved source, or whose draft was marked not useful."""

    kind: str  # NO_SOURCE or NOT_USEFUL
    text: str  # redacted
    time: str
    pack: str


@dataclass
class Group:
    """Gaps that ask the same thing, with the question that says it best."""

    representative: str
    gaps: list[Gap] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.gaps)

    def to_json(self) -> dict[str, Any]:
        kinds = Counter(gap.kind for gap in self.gaps)
        texts = [text for text, _ in Counter(gap.text for gap in self.gaps).most_common()]
        return {
            "count": self.count,
            "no_source": kinds[NO_SOURCE],
            "not_useful": kinds[NOT_USEFUL],
            "representative": self.representative,
            "examples": [text for text in texts if text != self.representative][:EXAMPLES],
            "packs": sorted({gap.pack for gap in self.gaps if gap.pack}),
            "first": min(gap.time for gap in self.gaps),
            "last": max(gap.time for gap in self.gaps),
        }


@dataclass
class GapReport:
    since: str
    until: str
    groups: list[Group]
    untexted: int  # gaps recorded without a question

    @property
    def hint(self) -> str:
        return HOW_TO_KEEP if self.untexted else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "deskmate-gaps",
            "since": self.since,
            "until": self.until,
            "gaps": sum(group.count for group in self.groups),
            "untexted": self.untexted,
            "hint": self.hint,
            "groups": [group.to_json() for group in self.groups],
        }


# --- what was recorded ---------------------------------------------------------------------------


def _within(text: object, since: datetime, until: datetime) -> bool:
    try:
        return since <= parse_time(str(text)) < until
    except ValueError:
        return False


def collect(
    records: Iterable[Record],
    feedback: Sequence[Mapping[str, Any]],
    since: datetime,
    until: datetime,
) -> tuple[list[Gap], int]:
    """The gaps from *since* to *until* with their recorded (not yet re-redacted) text, and how
    many had none. A thumbs-down is in both the trail and *feedback*: counted once, by the
    trail, with the feedback line's question when the trail kept none."""
    spare: dict[str, list[Mapping[str, Any]]] = {}  # thumbs-down lines by short draft hash
    for entry in feedback:
        if entry.get("rating") == "down" and _within(entry.get("time"), since, until):
            spare.setdefault(str(entry.get("draft_sha256", ""))[:16], []).append(entry)
    gaps: list[Gap] = []
    untexted = 0
    for record in records:
        event = record.get("event")
        down = event == "feedback" and record.get("rating") == "down"
        if (event != NO_SOURCE and not down) or not _within(record.get("time"), since, until):
            continue
        text = str(record.get("question") or "")
        if down:
            matched = spare.get(str(record.get("draft_sha256", "")), [])
            entry = matched.pop(0) if matched else {}
            text = text or str(entry.get("question") or "")
        kind = NOT_USEFUL if down else NO_SOURCE
        if text.strip():
            gaps.append(Gap(kind, text, str(record["time"]), str(record.get("pack") or "")))
        else:
            untexted += 1
    for entry in (entry for left in spare.values() for entry in left):  # before the trail
        text = str(entry.get("question") or "")
        if text.strip():
            pack = next((str(s.get("pack", "")) for s in entry.get("sources") or []), "")
            gaps.append(Gap(NOT_USEFUL, text, str(entry["time"]), pack))
        else:
            untexted += 1
    return gaps, untexted


def redacted(gaps: Sequence[Gap], options: RedactOptions) -> list[Gap]:
    """*gaps* with their text redacted (again): what a report may show."""
    return [Gap(g.kind, redact(g.text, options).text, g.time, g.pack) for g in gaps]


# --- grouping ------------------------------------------------------------------------------------


def group(gaps: Sequence[Gap], embed: Embed, threshold: float = THRESHOLD) -> list[Group]:
    """*gaps* grouped by meaning, largest group first (then the most recent)."""
    frequency = Counter(" ".join(gap.text.split()).casefold() for gap in gaps)
    texts: dict[str, str] = {}  # normalised -> the first spelling seen
    for gap in gaps:
        texts.setdefault(" ".join(gap.text.split()).casefold(), gap.text)
    keys = sorted(texts, key=lambda key: -frequency[key])
    if not keys:
        return []
    vectors = embed([texts[key] for key in keys])
    members = _cluster(vectors, [frequency[key] for key in keys], threshold)
    found: list[Group] = []
    for cluster in members:
        best = max(cluster, key=lambda i: (frequency[keys[i]], -i))
        chosen = {keys[i] for i in cluster}
        items = [g for g in gaps if " ".join(g.text.split()).casefold() in chosen]
        found.append(Group(texts[keys[best]], items))
    found.sort(key=lambda g: (-g.count, -_latest(g)))
    return found


def _latest(group: Group) -> float:
    return max(parse_time(gap.time).timestamp() for gap in group.gaps)


def _cluster(
    vectors: npt.NDArray[np.float32], weights: Sequence[int], threshold: float
) -> list[list[int]]:
    """Greedy: each vector (in order) joins the group whose weighted centroid is closest, at
    *threshold* or more, or starts a new group."""
    sums: list[npt.NDArray[np.float64]] = []
    clusters: list[list[int]] = []
    for number, vector in enumerate(vectors):
        if sums:
            centroids = np.stack([total / np.linalg.norm(total) for total in sums])
            scores = centroids @ vector.astype(np.float64)
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                sums[best] = sums[best] + weights[number] * vector
                clusters[best].append(number)
                continue
        sums.append(weights[number] * vector.astype(np.float64))
        clusters.append([number])
    return clusters


def build(
    records: Iterable[Record],
    feedback: Sequence[Mapping[str, Any]],
    since: datetime,
    until: datetime,
    embed: Embed,
    options: RedactOptions | None = None,
    threshold: float = THRESHOLD,
) -> GapReport:
    gaps, untexted = collect(records, feedback, since, until)
    groups = group(redacted(gaps, options or RedactOptions()), embed, threshold)
    return GapReport(format_time(since), format_time(until), groups, untexted)


# --- output --------------------------------------------------------------------------------------

CSV_COLUMNS = ("count", "no_source", "not_useful", "representative", "examples", "packs")


def to_csv(report: GapReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in report.to_json()["groups"]:
        cells = [item[column] for column in CSV_COLUMNS]
        writer.writerow([" | ".join(c) if isinstance(c, list) else c for c in cells])
    return out.getvalue()


def to_text(report: GapReport) -> str:
    lines = [f"Knowledge gaps from {report.since} to {report.until}:"]
    if not report.groups:
        lines.append("No question without an approved source, and no draft marked not useful.")
    for number, item in enumerate(report.to_json()["groups"], start=1):
        lines.append(
            f"{number:3}. {item['count']:3} x  {item['representative']}  "
            f"(no source {item['no_source']}, not useful {item['not_useful']})"
        )
        lines.extend(f"             also: {example}" for example in item["examples"])
    if report.untexted:
        lines.append(f"{report.untexted} more gap(s) recorded without a question. {report.hint}")
    return "\n".join(lines)
