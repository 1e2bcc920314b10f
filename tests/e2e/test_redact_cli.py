"""``deskmate redact [TEXT | -] [--json]`` (issue 17), run as the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

LINE = "Refund card 4111 1111 1111 1111 for order 4417223199, call 07911 123456"


def test_redact_prints_the_masked_text(deskmate: Any) -> None:
    result = deskmate("redact", LINE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Refund card [CARD] for order 4417223199, call [PHONE]\n"


def test_redact_json_gives_offsets_into_the_original(deskmate: Any) -> None:
    result = deskmate("redact", LINE, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "Refund card [CARD] for order 4417223199, call [PHONE]"
    assert [(LINE[s["start"] : s["end"]], s["type"]) for s in data["spans"]] == [
        ("4111 1111 1111 1111", "CARD"),
        ("07911 123456", "PHONE"),
    ]


def test_redact_reads_standard_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "redact", "-", "--json"],
        input="née le 3 March 1979\nmail jo@example.com\n",
        cwd=tmp_path,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "née le [DOB]\nmail [EMAIL]\n"


def test_phone_regions_follow_machine_policy(deskmate: Any, policy: Any) -> None:
    policy({"privacy.phone_regions": "US"})
    assert deskmate("redact", "ring 07911 123456").stdout == "ring 07911 123456\n"
    policy({"privacy.phone_regions": "GB,Narnia"})
    result = deskmate("redact", "ring 07911 123456")
    assert result.returncode == 1 and result.stdout == ""
    assert "unknown region codes: NARNIA" in result.stderr
    assert "two-letter country codes" in result.stderr
