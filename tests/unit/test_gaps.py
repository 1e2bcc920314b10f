"""Knowledge gaps (issue 17): no-source questions and drafts marked not useful, from what the
real recorder and feedback wrote, redacted and grouped by meaning with the real embedder."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from desktop.core import audit, feedback, gaps
from desktop.core.assist import Answer
from desktop.core.audit import AuditLog
from desktop.core.audit_events import Recorder
from desktop.core.knowledge.index import Hit
from desktop.core.paths import Paths
from desktop.core.settings import Settings

WATCH = [
    "How do I install the app on my Apple Watch?",
    "Is there an Apple Watch version of the app?",
    "customer wants the app on their apple watch",
]
REFUND = "How long does a refund take to reach my card?"
CARD, EMAIL = "4111 1111 1111 1111", "jo.bloggs@example.com"


def _settings(audit_question: str = "redacted") -> Settings:
    settings = Settings.load(Paths.from_env())
    settings.set("privacy.audit_question", audit_question)
    return settings


def _recorder(settings: Settings) -> Recorder:
    return Recorder(AuditLog.for_data(Paths.from_env().data), settings)


def _no_source(question: str) -> Answer:
    return Answer(status="no_source", question=question)


def _answered(question: str, draft: str = "Refunds take 5 days [1].") -> Answer:
    hit = Hit("demo", "billing/refunds.md", "Refunds", "", 0, 10, "passage", 0.7)
    return Answer(status="answered", question=question, draft=draft, sources=[hit])


def _build(embed: Any = None, settings: Settings | None = None) -> gaps.GapReport:
    data = Paths.from_env().data
    records = [record for _, _, record in audit.read_records(audit.audit_dir(data))]
    now = audit.utc_now()
    since, until = now - timedelta(days=1), now + timedelta(minutes=1)

    def refuse(_: list[str]) -> Any:
        raise AssertionError("nothing to group: the embedder must not be asked")

    return gaps.build(records, feedback.read_all(data), since, until, embed or refuse)


def test_gaps_without_recorded_text_are_counted_and_the_report_says_how_to_keep_them() -> None:
    settings = _settings("none")
    settings.set("privacy.feedback_question", "none")
    recorder = _recorder(settings)
    recorder.answer(_no_source(WATCH[0]), "window")
    answer = _answered(REFUND)
    feedback.record(Paths.from_env().data, answer, "down", settings=settings)
    recorder.feedback(answer, "down")
    recorder.feedback(_answered("fine"), "up")  # not a gap
    report = _build()
    assert report.groups == [] and report.untexted == 2  # the thumbs-down counted once
    assert "privacy.audit_question to redacted" in gaps.to_text(report)
    assert report.to_json()["hint"] == gaps.HOW_TO_KEEP


def test_a_thumbs_down_is_counted_once_with_the_feedback_lines_question() -> None:
    settings = _settings("none")  # the trail keeps no question; feedback keeps it redacted
    answer = _answered(REFUND)
    feedback.record(Paths.from_env().data, answer, "down", settings=settings)
    _recorder(settings).feedback(answer, "down")
    data = Paths.from_env().data
    records = [record for _, _, record in audit.read_records(audit.audit_dir(data))]
    now = audit.utc_now()
    found, untexted = gaps.collect(records, feedback.read_all(data), now - timedelta(1), now)
    assert [(gap.kind, gap.text, gap.pack) for gap in found] == [(gaps.NOT_USEFUL, REFUND, "demo")]
    assert untexted == 0


@pytest.mark.slow
def test_similar_questions_group_and_different_ones_do_not(embedder: Any) -> None:
    recorder = _recorder(_settings())
    for question in [*WATCH, WATCH[0]]:
        recorder.answer(_no_source(question), "window")
    answer = _answered(REFUND)
    feedback.record(Paths.from_env().data, answer, "down", settings=_settings())
    recorder.feedback(answer, "down")
    recorder.answer(_no_source("What salary should I ask for as a junior sysadmin?"), "cli")
    report = _build(embedder.embed).to_json()
    groups = report["groups"]
    assert [group["count"] for group in groups] == [4, 1, 1], groups
    watch = groups[0]
    assert watch["representative"] == WATCH[0]  # asked twice: the most frequent wording
    assert sorted(watch["examples"]) == sorted(WATCH[1:]) and watch["no_source"] == 4
    refund = next(group for group in groups if group["representative"] == REFUND)
    assert refund["not_useful"] == 1 and refund["no_source"] == 0
    assert report["gaps"] == 6 and report["untexted"] == 0
    rows = gaps.to_csv(gaps.GapReport("a", "b", [], 0)).splitlines()
    assert rows == [",".join(gaps.CSV_COLUMNS)]


@pytest.mark.slow
def test_gaps_never_show_a_card_or_an_email(embedder: Any) -> None:
    data = Paths.from_env().data
    recorder = _recorder(_settings())
    recorder.answer(_no_source(f"Card {CARD} was charged twice, says {EMAIL}"), "window")
    # A feedback line from before redaction kept the raw question: the report masks it too.
    old = {"time": audit.format_time(audit.utc_now()), "rating": "down", "draft_sha256": "x"}
    old["question"] = f"Refund to {EMAIL} for card {CARD}?"
    feedback.append_line(feedback.feedback_file(data), json.dumps(old))
    report = _build(embedder.embed)
    out = json.dumps(report.to_json()) + gaps.to_csv(report) + gaps.to_text(report)
    assert report.to_json()["gaps"] == 2
    assert CARD not in out and EMAIL not in out and "4111" not in out
    assert "[CARD]" in out and "[EMAIL]" in out
