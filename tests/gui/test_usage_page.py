"""The Usage page (issue 17) in the real offscreen window: the counts of a trail the real
recorder wrote, per day, for all packs or one, over the period chosen; and an empty period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from desktop.core import audit
from desktop.core.assist import Answer
from desktop.core.context import AppContext
from desktop.core.knowledge.index import Hit
from desktop.gui.parts.usage import UsagePart

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def _hit(pack: str = "demo") -> Hit:
    return Hit(pack, "billing/refunds.md", "Refunds", "", 0, 10, "passage", 0.7)


def _answer(status: str = "answered", pack: str = "demo", topic: str = "") -> Answer:
    sources = [_hit(pack)] if status == "answered" else []
    route = {"topic": topic} if topic else {}
    return Answer(
        status=status, question="q", draft="Refunds take 5 days.", sources=sources, route=route
    )


def _write_trail(context: AppContext) -> None:
    recorder = context.audit
    for _ in range(5):
        recorder.search("refund", [_hit()], "window")
    recorder.search("roaming", [_hit("billing")], "window")
    for _ in range(4):
        recorder.answer(_answer(), "window")
    recorder.answer(_answer(pack="billing"), "window")
    recorder.copied(_answer(), with_sources=True, flagged=False)
    recorder.copied(_answer(), with_sources=False, flagged=False)
    recorder.copied(_answer(), with_sources=False, flagged=False)
    recorder.answer(_answer("route_to_human", topic="bereavement"), "window")
    recorder.answer(_answer("route_to_human", topic="bereavement"), "window")
    recorder.answer(_answer("route_to_human", topic="fraud"), "window")
    recorder.answer(_answer("no_source"), "window")
    recorder.feedback(_answer(), "up")
    recorder.feedback(_answer(), "down")
    recorder.source_opened(_hit(), 2000, "result")
    recorder.source_opened(_hit(), 4000, "result")
    recorder.source_opened(_hit(), 9000, "citation")


def _shown(qtbot: Any, dialog: Any, days: int) -> Any:
    qtbot.waitUntil(lambda: dialog.usage is not None and dialog.usage.days == days, timeout=30_000)
    return dialog.usage


@pytest.mark.slow
def test_the_usage_page_shows_the_trails_counts(
    qtbot: Any, make_window: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = audit.utc_now()
    monkeypatch.setattr(audit, "utc_now", lambda: now - timedelta(days=20))
    context.audit.search("an old one", [_hit()], "window")  # in 30 days, not in 7
    monkeypatch.setattr(audit, "utc_now", lambda: now)
    _write_trail(context)
    window = make_window(context)
    dialog = window.part(UsagePart).open_usage()
    usage = _shown(qtbot, dialog, 7)
    assert not dialog.message.isVisible()
    charts = dialog.charts
    assert sum(v or 0 for v in charts["searches"].series[0].values) == 6
    assert len(charts["searches"].labels) == 7 and charts["searches"].labels[-1] == now.strftime(
        "%m-%d"
    )
    shown, copied = charts["drafts"].series
    assert (shown.values[-1], copied.values[-1]) == (5, 3)
    assert charts["acceptance"].series[0].values[-1] == 0.6
    assert charts["first_source"].series[0].values[-1] == 4.0  # median of 2, 4 and 9 s
    assert charts["routes"].labels == ["bereavement", "fraud"]
    assert charts["routes"].series[0].values == (2.0, 1.0)
    assert charts["no_source"].series[0].values[-1] == 1
    assert [s.values[-1] for s in charts["feedback"].series] == [1, 1]
    assert "6 searches" in dialog.summary.text() and "60% accepted" in dialog.summary.text()
    assert usage.total.counts["searches"] == 6

    dialog.pack.setCurrentIndex(dialog.pack.findData("billing"))  # the pack filter
    assert dialog.usage.pack == "billing"
    assert dialog.usage.total.counts["searches"] == 1
    assert dialog.charts["drafts"].series[0].values[-1] == 1

    dialog.period.setCurrentIndex(dialog.period.findData(30))  # a longer period reads again
    usage = _shown(qtbot, dialog, 30)
    assert len(dialog.charts["searches"].labels) == 30
    assert usage.pack == "billing" and usage.total.counts["searches"] == 1
    dialog.pack.setCurrentIndex(0)
    assert dialog.usage.total.counts["searches"] == 7  # the old search is in
    assert dialog.charts["searches"].series[0].values[-21] == 1


def test_an_empty_period_says_so(qtbot: Any, make_window: Any) -> None:
    window = make_window(AppContext.from_env())
    dialog = window.part(UsagePart).open_usage()
    usage = _shown(qtbot, dialog, 7)
    assert usage.empty
    assert dialog.message.isVisible()
    assert "No usage was recorded in the last 7 days" in dialog.message.text()
    assert all(v == 0 for v in dialog.charts["searches"].series[0].values)
    assert dialog.charts["routes"].labels == []
