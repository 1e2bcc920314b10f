"""``deskmate report gaps`` (issue 17), run as the real command over a trail the real recorder
wrote: grouped, most frequent first, redacted; an empty trail and a bad period."""

from __future__ import annotations

import json
from typing import Any

import pytest

from desktop.core.assist import Answer
from desktop.core.audit import AuditLog
from desktop.core.audit_events import Recorder
from desktop.core.paths import Paths
from desktop.core.settings import Settings


def test_report_gaps_over_an_empty_trail(deskmate: Any) -> None:
    result = deskmate("report", "gaps", "--since", "7d", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["groups"] == [] and data["untexted"] == 0
    text = deskmate("report", "gaps")
    assert "No question without an approved source" in text.stdout
    bad = deskmate("report", "gaps", "--since", "soon")
    assert bad.returncode == 1 and "not a period start" in bad.stderr


@pytest.mark.slow
def test_report_gaps_groups_what_the_recorder_wrote(deskmate: Any) -> None:
    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("privacy.audit_question", "redacted")
    settings.save()
    recorder = Recorder(AuditLog.for_data(paths.data), settings)
    questions = [
        "Can I pay for my subscription with Bitcoin?",
        "Do you accept cryptocurrency like bitcoin for the subscription?",
        "Email me at jo@example.com: is there a student discount?",
    ]
    for question in questions:
        recorder.answer(Answer(status="no_source", question=question), "cli")
    result = deskmate("report", "gaps", "--json")
    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)["groups"]
    assert [group["count"] for group in groups] == [2, 1], groups
    assert "jo@example.com" not in result.stdout and "[EMAIL]" in result.stdout
    csv = deskmate("report", "gaps", "--csv")
    assert csv.returncode == 0 and len(csv.stdout.splitlines()) == 3
