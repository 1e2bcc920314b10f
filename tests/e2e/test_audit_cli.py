"""``deskmate audit verify|export`` and ``deskmate report [merge]`` (issue 17), run as the real
command, over a trail the real ``deskmate search`` wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

QUERY = "Can I get my money back, says jo@example.com?"


def _trail(home: Path) -> Path:
    return home / "data" / "audit"


def test_empty_trail_and_empty_report(deskmate: Any) -> None:
    result = deskmate("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "is empty" in result.stdout
    result = deskmate("report", "--since", "7d")
    assert result.returncode == 0, result.stderr
    assert "Nothing was recorded in this period" in result.stdout
    result = deskmate("audit", "export", "--since", "yesterday-ish")
    assert result.returncode == 1 and "not a period start" in result.stderr


def test_report_merge_refuses_a_report_given_twice(deskmate: Any, tmp_path: Path) -> None:
    report = deskmate("report", "--json")
    assert report.returncode == 0, report.stderr
    one = tmp_path / "pc1.json"
    one.write_text(report.stdout, encoding="utf-8")
    merged = deskmate("report", "merge", str(one), "--json")
    assert merged.returncode == 0, merged.stderr
    assert json.loads(merged.stdout)["empty"] is True
    twice = deskmate("report", "merge", str(one), str(one))
    assert twice.returncode == 1
    assert "repeats" in twice.stderr and "count it twice" in twice.stderr


@pytest.mark.slow
def test_search_is_audited_verified_exported_and_reported(
    deskmate: Any, demo_pack: Path, deskmate_home: Path, tmp_path: Path
) -> None:
    for query in (QUERY, "roaming charges abroad"):
        result = deskmate("search", query, "--pack", str(demo_pack), "--json")
        assert result.returncode == 0, result.stderr
    verified = deskmate("audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["records"] == 2

    exported = deskmate("audit", "export", "--since", "1d")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["event"] for r in records] == ["search", "search"]
    assert records[0]["question_chars"] == len(QUERY)
    assert records[0]["sources"] and records[0]["sources"][0]["pack"] == "demo"
    assert "money back" not in exported.stdout and "example.com" not in exported.stdout

    report = deskmate("report", "--since", "1d", "--csv")
    assert report.returncode == 0, report.stderr
    assert ",demo,2," in report.stdout

    # One field changed: verify names the record and fails; the files stay as they were.
    trail = _trail(deskmate_home) / "audit-0001.jsonl"
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace('"hits": ', '"hits": 1')
    trail.write_text("".join(lines), encoding="utf-8")
    tampered = trail.read_bytes()
    broken = deskmate("audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN: audit-0001.jsonl line 2 (seq 1): edited" in broken.stderr
    assert trail.read_bytes() == tampered
