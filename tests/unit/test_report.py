"""ROI report: counts per day and pack from audit records, merge across PCs, empty periods;
and what the recorder writes (content-free by default)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from desktop.core import audit, report
from desktop.core.assist import Answer
from desktop.core.audit import AuditLog
from desktop.core.audit_events import NO_POLICY, Recorder
from desktop.core.generation.verify import Sentence
from desktop.core.knowledge.index import Hit
from desktop.core.managed import MachinePolicy
from desktop.core.paths import Paths
from desktop.core.settings import Settings

DAY = datetime(2030, 3, 2, 9, tzinfo=UTC)
SINCE, UNTIL = DAY - timedelta(days=1), DAY + timedelta(days=2)


def _rec(event: str, pack: str = "demo", hours: float = 0, **fields: object) -> dict[str, object]:
    moment = DAY + timedelta(hours=hours)
    return {"event": event, "time": audit.format_time(moment), "pack": pack, **fields}


DAY_ONE = [
    _rec("search"),
    _rec("search"),
    _rec("search", pack="billing"),
    _rec("draft_shown"),
    _rec("draft_shown"),
    _rec("draft_copied", edited=False),
    _rec("routed", route_topic="self-harm"),
    _rec("no_source", pack=""),
    _rec("feedback", rating="up"),
    _rec("feedback", rating="down"),
    _rec("source_opened", elapsed_ms=1200),
    _rec("source_opened", elapsed_ms=3000),
    _rec("source_opened", elapsed_ms=800),
    _rec("policy_changed"),  # not a usage count
    _rec("search", hours=24),  # the next day
    _rec("search", hours=-48),  # before the period
]


def test_counts_per_day_and_pack() -> None:
    rows = {(r.day, r.pack): r for r in report.daily(DAY_ONE, SINCE, UNTIL)}
    assert set(rows) == {
        ("2030-03-02", "demo"),
        ("2030-03-02", "billing"),
        ("2030-03-02", "-"),
        ("2030-03-03", "demo"),
    }
    demo = rows[("2030-03-02", "demo")].to_json()
    assert demo["searches"] == 2 and demo["drafts_shown"] == 2 and demo["drafts_copied"] == 1
    assert demo["acceptance"] == 0.5 and demo["edited_share"] == 0.0
    assert demo["routes"] == {"self-harm": 1} and demo["routed"] == 1
    assert demo["feedback_up"] == 1 and demo["feedback_down"] == 1
    assert demo["median_first_source_ms"] == 1200
    assert rows[("2030-03-02", "-")].counts["no_source"] == 1
    assert rows[("2030-03-03", "demo")].counts["searches"] == 1


def test_report_json_round_trip_and_outputs() -> None:
    built = report.build(DAY_ONE, "a" * 32, SINCE, UNTIL)
    data = json.loads(json.dumps(built.to_json()))
    again = report.from_json(data, "pc1.json")
    assert [r.to_json() for r in again.rows] == [r.to_json() for r in built.rows]
    assert data["totals"]["searches"] == 4 and not data["empty"]
    csv_text = report.to_csv(built)
    assert csv_text.splitlines()[0].startswith("day,pack,searches,drafts_shown,drafts_copied")
    assert "2030-03-02,demo,2,2,1," in csv_text
    assert "<table" in report.to_html(built)


def test_merge_adds_pcs_and_refuses_the_same_export_twice() -> None:
    one = report.build(DAY_ONE, "a" * 32, SINCE, UNTIL)
    two = report.build(DAY_ONE, "b" * 32, SINCE, UNTIL)
    merged = report.merge([("pc1.json", one), ("pc2.json", two)])
    assert merged.totals().counts["searches"] == 8
    assert len(merged.periods) == 2
    with pytest.raises(report.ReportError) as caught:
        report.merge([("pc1.json", one), ("pc2.json", two), ("copy.json", one)])
    assert "copy.json repeats pc1.json" in caught.value.message and caught.value.fix
    # The same PC over overlapping periods would count days twice.
    later = report.build(DAY_ONE, "a" * 32, DAY, UNTIL + timedelta(days=1))
    with pytest.raises(report.ReportError, match="overlap"):
        report.merge([("pc1.json", one), ("pc1-later.json", later)])


def test_merge_rejects_what_is_not_a_report() -> None:
    with pytest.raises(report.ReportError, match=r"notes\.json is not a Deskmate report"):
        report.from_json({"rows": []}, "notes.json")


def test_empty_period_says_so() -> None:
    empty = report.build([], "a" * 32, SINCE, UNTIL)
    assert empty.empty and empty.to_json()["empty"] is True
    assert "Nothing was recorded in this period" in report.to_text(empty)
    assert "Nothing was recorded" in report.to_html(empty)


# --- the recorder --------------------------------------------------------------------------------

QUESTION = "My card 4111 1111 1111 1111 was charged twice, email jo@example.com"


def _hit(pack: str = "demo", source: str = "billing/refunds.md") -> Hit:
    return Hit(pack, source, "Refunds", "", 0, 10, "passage text", 0.7)


def _answer() -> Answer:
    return Answer(
        status="answered",
        question=QUESTION,
        draft="You will get a refund within 5 days [1].",
        mode="extractive",
        sentences=[Sentence("You will get a refund within 5 days [1].", [1], "supported")],
        sources=[_hit()],
    )


def _recorder(tmp_path: Path, question: str = "none") -> Recorder:
    paths = Paths.from_env()
    settings = Settings(paths)
    settings.set("privacy.audit_question", question)
    return Recorder(AuditLog(tmp_path / "audit"), settings, versions=lambda: {"demo": "7"})


def test_recorder_is_content_free_by_default(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    recorder.search(QUESTION, [_hit()], "cli")
    recorder.answer(_answer(), "window")
    recorder.copied(_answer(), with_sources=False, flagged=False)
    text = "".join(p.read_text() for p in recorder.log.files())
    assert "4111" not in text and "example.com" not in text and "charged" not in text
    records = [r for _, _, r in audit.read_records(recorder.log.folder)]
    assert [r["event"] for r in records] == ["search", "draft_shown", "draft_copied"]
    source = {"pack": "demo", "version": "7", "source": "billing/refunds.md"}
    assert records[0]["sources"] == [source]
    assert records[1]["verdicts"] == {"supported": 1} and records[1]["pack"] == "demo"
    assert records[2]["edited"] is False
    assert records[1]["draft_sha256"] == records[2]["draft_sha256"]


def test_recorder_keeps_the_question_only_redacted_when_allowed(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path, "redacted")
    record = recorder.search(QUESTION, [], "cli")
    assert record is not None
    assert "[CARD]" in record["question"] and "[EMAIL]" in record["question"]
    assert "4111" not in json.dumps(record)
    assert record["question_masked"] == {"CARD": 1, "EMAIL": 1}


def test_policy_change_is_recorded_once(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    assert recorder.policy(MachinePolicy()) is None  # no policy, as at the first start
    policy = MachinePolicy(mandatory={"generation.enabled": False})
    record = recorder.policy(policy)
    assert record is not None and record["event"] == "policy_changed"
    assert record["previous"] == NO_POLICY and record["locked"] == ["generation.enabled"]
    assert recorder.policy(policy) is None
    assert recorder.policy(MachinePolicy(mandatory={"generation.enabled": True})) is not None
