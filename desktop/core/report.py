"""Usage and return on investment from the audit trail, per day and per pack, without customer text.

:func:`daily` turns audit records into :class:`Row`\\ s (one per day and pack: searches, drafts
shown and copied, edited before copying, routes by topic, questions with no approved source,
feedback, and the times from a question to its first source opened); a page of charts can call
it directly. :func:`build` wraps the rows in a :class:`Report` that names the installation and
the period, which is what ``deskmate report --json`` writes, and :func:`merge` combines such
reports from many PCs, refusing one that is already in (the same installation and period).

Records are attributed to the pack of their first source (``-`` when they have none, e.g. a
question no approved source answers).
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desktop.core.audit import AuditError, Record, format_time, parse_time

KIND = "deskmate-report"
VERSION = 1
NO_PACK = "-"
COUNTS = (
    "searches",
    "drafts_shown",
    "drafts_copied",
    "copied_edited",
    "routed",
    "no_source",
    "feedback_up",
    "feedback_down",
)
_EVENT_COUNTS = {
    "search": "searches",
    "draft_shown": "drafts_shown",
    "draft_copied": "drafts_copied",
    "routed": "routed",
    "no_source": "no_source",
}

_COUNTED = frozenset({*_EVENT_COUNTS, "feedback", "source_opened"})


class ReportError(AuditError):
    """Reports that cannot be read or merged."""


@dataclass
class Row:
    """One day and one pack."""

    day: str
    pack: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    routes: dict[str, int] = field(default_factory=dict)  # topic -> routes to a person
    first_source_ms: list[int] = field(default_factory=list)

    @property
    def acceptance(self) -> float | None:
        """Drafts copied per draft shown (None when none was shown)."""
        shown = self.counts["drafts_shown"]
        return round(self.counts["drafts_copied"] / shown, 4) if shown else None

    @property
    def edited_share(self) -> float | None:
        copied = self.counts["drafts_copied"]
        return round(self.counts["copied_edited"] / copied, 4) if copied else None

    @property
    def median_first_source_ms(self) -> int | None:
        values = self.first_source_ms
        return int(statistics.median(values)) if values else None

    def add(self, other: Row) -> None:
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        for topic, value in other.routes.items():
            self.routes[topic] = self.routes.get(topic, 0) + value
        self.first_source_ms.extend(other.first_source_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "pack": self.pack,
            **self.counts,
            "acceptance": self.acceptance,
            "edited_share": self.edited_share,
            "median_first_source_ms": self.median_first_source_ms,
            "first_source_ms": sorted(self.first_source_ms),
            "routes": dict(sorted(self.routes.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Row:
        row = cls(str(data["day"]), str(data["pack"]))
        row.counts = {key: int(data.get(key, 0)) for key in COUNTS}
        row.routes = {str(k): int(v) for k, v in dict(data.get("routes") or {}).items()}
        row.first_source_ms = [int(v) for v in data.get("first_source_ms") or []]
        return row


def _count(row: Row, record: Record) -> None:
    event = record.get("event")
    if event in _EVENT_COUNTS:
        row.counts[_EVENT_COUNTS[event]] += 1
    if event == "draft_copied" and record.get("edited"):
        row.counts["copied_edited"] += 1
    elif event == "routed":
        topic = str(record.get("route_topic") or "unknown")
        row.routes[topic] = row.routes.get(topic, 0) + 1
    elif event == "feedback" and record.get("rating") in ("up", "down"):
        row.counts[f"feedback_{record['rating']}"] += 1
    elif event == "source_opened" and isinstance(record.get("elapsed_ms"), int):
        row.first_source_ms.append(int(record["elapsed_ms"]))


def daily(records: Iterable[Record], since: datetime, until: datetime) -> list[Row]:
    """The records from *since* to *until*, counted per UTC day and pack, in day/pack order."""
    rows: dict[tuple[str, str], Row] = {}
    for record in records:
        try:
            moment = parse_time(str(record.get("time", "")))
        except ValueError:
            continue
        if not since <= moment < until or record.get("event") not in _COUNTED:
            continue
        day = moment.date().isoformat()
        pack = str(record.get("pack") or NO_PACK)
        row = rows.setdefault((day, pack), Row(day, pack))
        _count(row, record)
    return [rows[key] for key in sorted(rows)]


@dataclass(frozen=True)
class Period:
    """One installation's period in a report: what tells a merged-twice export apart."""

    install_id: str
    since: str
    until: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class Report:
    rows: list[Row]
    periods: list[Period]

    @property
    def empty(self) -> bool:
        return not self.rows

    def totals(self) -> Row:
        total = Row("all", "all")
        for row in self.rows:
            total.add(row)
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "version": VERSION,
            "periods": [period.to_json() for period in self.periods],
            "empty": self.empty,
            "totals": self.totals().to_json(),
            "rows": [row.to_json() for row in self.rows],
        }


def build(records: Iterable[Record], install_id: str, since: datetime, until: datetime) -> Report:
    period = Period(install_id, format_time(since), format_time(until))
    return Report(daily(records, since, until), [period])


def from_json(data: object, name: str) -> Report:
    """A report as ``deskmate report --json`` wrote it; ReportError naming *name* otherwise."""
    try:
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise ValueError("not a Deskmate report")
        if data.get("version") != VERSION:
            raise ValueError(f"report version {data.get('version')!r}, expected {VERSION}")
        periods = [_period(item) for item in data["periods"]]
        rows = [Row.from_json(row) for row in data["rows"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(
            f"{name} is not a Deskmate report ({exc}).",
            "Give files written by `deskmate report --json` on each PC.",
        ) from None
    return Report(rows, periods)


def _period(data: Mapping[str, Any]) -> Period:
    return Period(str(data["install_id"]), str(data["since"]), str(data["until"]))


def merge(reports: Sequence[tuple[str, Report]]) -> Report:
    """One fleet report from (name, report) pairs; an installation's period that is already in
    (the same export given twice, or periods of one PC that overlap) is refused."""
    merged: dict[tuple[str, str], Row] = {}
    seen: dict[Period, str] = {}
    for name, report in reports:
        for period in report.periods:
            _check_new(period, name, seen)
            seen[period] = name
        for row in report.rows:
            merged.setdefault((row.day, row.pack), Row(row.day, row.pack)).add(row)
    return Report([merged[key] for key in sorted(merged)], list(seen))


def _check_new(period: Period, name: str, seen: Mapping[Period, str]) -> None:
    for other, where in seen.items():
        if other.install_id != period.install_id:
            continue
        if other == period:
            raise ReportError(
                f"{name} repeats {where}: the same PC (install {period.install_id[:8]}) and "
                f"period ({period.since} to {period.until}); merging it would count it twice.",
                "Give each PC's export once.",
            )
        if other.since < period.until and period.since < other.until:
            raise ReportError(
                f"{name} and {where} overlap: the same PC (install {period.install_id[:8]}) "
                f"over overlapping periods; merging them would count days twice.",
                "Export each PC's periods without overlap (or give only the longer one).",
            )


# --- output --------------------------------------------------------------------------------------

COLUMNS = (
    "day",
    "pack",
    *COUNTS,
    "acceptance",
    "edited_share",
    "median_first_source_ms",
    "routes",
)


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ";".join(f"{key}={count}" for key, count in value.items())
    return "" if value is None else str(value)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in [*report.rows, report.totals()]:
        data = row.to_json()
        writer.writerow([_cell(data[column]) for column in COLUMNS])
    return out.getvalue()


def to_text(report: Report) -> str:
    if report.empty:
        return empty_message(report)
    lines = [_period_line(report)]
    for row in [*report.rows, report.totals()]:
        data = row.to_json()
        share = "-" if data["acceptance"] is None else f"{data['acceptance']:.0%}"
        lines.append(
            f"{row.day:10} {row.pack:14} searches {data['searches']:4}  shown "
            f"{data['drafts_shown']:3}  copied {data['drafts_copied']:3} ({share})  "
            f"routed {data['routed']:3}  no source {data['no_source']:3}  "
            f"feedback +{data['feedback_up']}/-{data['feedback_down']}"
        )
    return "\n".join(lines)


def to_html(report: Report) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in COLUMNS)
    body = []
    for row in [*report.rows, report.totals()] if not report.empty else []:
        data = row.to_json()
        cells = "".join(f"<td>{html.escape(_cell(data[column]))}</td>" for column in COLUMNS)
        body.append(f"<tr>{cells}</tr>")
    note = f"<p>{html.escape(empty_message(report))}</p>" if report.empty else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Deskmate usage</title></head>"
        f"<body><h1>Deskmate usage</h1><p>{html.escape(_period_line(report))}</p>{note}"
        f"<table border='1'><tr>{head}</tr>{''.join(body)}</table></body></html>\n"
    )


def _period_line(report: Report) -> str:
    if not report.periods:
        return "No period."
    since = min(period.since for period in report.periods)
    until = max(period.until for period in report.periods)
    pcs = len({period.install_id for period in report.periods})
    return f"From {since} to {until}, {pcs} PC{'s' if pcs != 1 else ''}."


def empty_message(report: Report) -> str:
    return f"{_period_line(report)} Nothing was recorded in this period: no usage to report."
