"""Findings of the outside review (issue 11) through the real ``deskmate`` command: bad input on
standard input, in settings and in policy gives a message, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

QUESTION = "How do I return a damaged item?"
BAD_UTF8 = b"How do I return a damaged item? \xff\xfe caf\xe9"


def run_with_stdin(tmp_path: Path, stdin: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m desktop ARGS`` with *stdin* as raw bytes on standard input."""
    result = subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        input=stdin,
        capture_output=True,
        timeout=300,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


@pytest.mark.slow
def test_ask_reads_a_question_that_is_not_utf8_from_stdin(
    tmp_path: Path, demo_pack: Path, policy: Any
) -> None:
    policy({"settings": {"generation.enabled": False}})  # an extractive draft: no model needed

    result = run_with_stdin(tmp_path, BAD_UTF8, "ask", "-", "--json", "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    answer = json.loads(result.stdout)
    assert answer["question"] == "How do I return a damaged item? \ufffd\ufffd caf\ufffd"
    assert answer["status"] == "answered" and answer["sources"]


@pytest.mark.slow
def test_search_queries_from_stdin_that_are_not_utf8(tmp_path: Path, demo_pack: Path) -> None:
    stdin = BAD_UTF8 + b"\nrouter lights \xc3\n"

    result = run_with_stdin(tmp_path, stdin, "search", "--queries", "-", "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == [
        "How do I return a damaged item? \ufffd\ufffd caf\ufffd",
        "router lights \ufffd",
    ]
    assert all(line["hits"] for line in lines)


@pytest.mark.slow
def test_ask_questions_from_stdin_that_are_not_utf8(
    tmp_path: Path, demo_pack: Path, policy: Any
) -> None:
    policy({"settings": {"generation.enabled": False}})

    result = run_with_stdin(
        tmp_path, BAD_UTF8 + b"\n", "ask", "--questions", "-", "--pack", str(demo_pack)
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [answer] = [json.loads(line) for line in result.stdout.splitlines()]
    assert answer["question"].startswith(QUESTION) and "\ufffd" in answer["question"]


def test_deeply_nested_settings_file_is_set_aside(deskmate: Any, deskmate_home: Path) -> None:
    settings_file = deskmate_home / "config" / "settings.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text('{"model.threads": ' + "[" * 50_000 + "]" * 50_000 + "}")

    result = deskmate("config")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "could not be read" in result.stderr and "defaults are used" in result.stderr
    assert "model.threads = 0  [default]" in result.stdout.splitlines()
    assert not settings_file.exists()
    assert len(list(settings_file.parent.glob("settings.json.broken-*"))) == 1


def test_doctor_reports_invalid_policy_sensitive_topics(deskmate: Any, policy: Any) -> None:
    path = policy(
        {
            "sensitive_topics": {
                "everything": {"rule": "Rule: route it.", "triggers": [""]},
                "typed": {"rule": "Rule: route it.", "triggers": 5},
            }
        }
    )

    result = deskmate("doctor", "--json")

    assert "Traceback" not in result.stderr
    [check] = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "settings and policy"]
    assert check["status"] == "warning"
    assert str(path) in check["message"]
    assert "sensitive topic 'everything'" in check["message"] and "trigger ''" in check["message"]
    assert "sensitive topic 'typed'" in check["message"]


@pytest.mark.slow
def test_search_argument_that_is_not_utf8(tmp_path: Path, demo_pack: Path) -> None:
    query = b"router lights \xff"  # Python keeps the bad byte as a lone surrogate in sys.argv
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "search", query, "--json", "--pack", str(demo_pack)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        timeout=300,
    )

    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert json.loads(result.stdout)
