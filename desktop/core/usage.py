"""What the window's Usage page shows: the last N days of :func:`desktop.core.report.daily`, one
row per day (every day of the period, zero when nothing happened) for all packs or one pack,
with the totals and the routes to a person by topic. Qt-free, so that it can run on a worker
and be tested on its own; the page only draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from desktop.core.audit import Record, audit_dir, read_records, utc_now
from desktop.core.report import Row, daily

PERIODS = (7, 30, 90)  # days the page offers
ALL = ""  # the pack filter that keeps every pack


@dataclass(frozen=True)
class Usage:
    """One period for one pack filter: a row per day, oldest first, and the totals."""

    days: int
    pack: str  # ALL or a pack id
    rows: list[Row]
    total: Row
    packs: list[str]  # every pack seen in the period (what the filter offers)

    @property
    def empty(self) -> bool:
        return not any(self.total.counts.values()) and not self.total.first_source_ms

    @property
    def routes(self) -> list[tuple[str, int]]:
        """Routes to a person by topic, most first."""
        return sorted(self.total.routes.items(), key=lambda item: (-item[1], item[0]))


def period(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last *days* UTC days, today included: from midnight *days - 1* days ago to now."""
    end = now or utc_now()
    start = datetime.combine(end.date() - timedelta(days=days - 1), time(), end.tzinfo)
    return start, end + timedelta(microseconds=1)


def summarise(
    rows: Sequence[Row], days: int, pack: str = ALL, now: datetime | None = None
) -> Usage:
    """*rows* (from :func:`daily` over :func:`period`) as one row per day for *pack*."""
    start, _ = period(days, now)
    per_day = {(start + timedelta(days=n)).date().isoformat(): n for n in range(days)}
    out = [Row(day, pack or "all") for day in per_day]
    total = Row("all", pack or "all")
    for row in rows:
        if (pack and row.pack != pack) or row.day not in per_day:
            continue
        out[per_day[row.day]].add(row)
        total.add(row)
    packs = sorted({row.pack for row in rows})
    return Usage(days, pack, out, total, packs)


def load(data_dir: Path, days: int, now: datetime | None = None) -> list[Row]:
    """The rows of the last *days* days of this PC's audit trail (the slow part: a worker's)."""
    since, until = period(days, now)
    records: Iterable[Record] = (record for _, _, record in read_records(audit_dir(data_dir)))
    return daily(records, since, until)
