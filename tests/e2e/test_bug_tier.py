"""The CLI's bug tier end to end: a real crash in a ``deskmate`` process, then ``doctor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECRET = "refund for Ms Zebedee-Quill, order 55123"

# `deskmate search SECRET` with a bug in the search that quotes the query, as bugs often do.
CRASHING_SEARCH = textwrap.dedent("""
    import sys
    import desktop.core.assist as assist

    def search(self, query, *args, **kwargs):
        raise ValueError(f"no index entry for {query!r}")

    assist.Assistant.search = search
    from desktop.cli.main import main

    sys.argv = ["deskmate", "search", "--pack", sys.argv[1], sys.argv[2]]
    main()
""")


def crash_search(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "no-pack").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", CRASHING_SEARCH, str(tmp_path / "no-pack"), SECRET],
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_a_crash_is_logged_without_the_query_and_doctor_shows_it(
    deskmate: Any, deskmate_home: Path, tmp_path: Path
) -> None:
    before = json.loads(deskmate("doctor", "--json").stdout)
    check = next(c for c in before["checks"] if c["name"] == "last crash")
    assert check["status"] == "ok" and "None recorded" in check["message"]
    assert before["last_crash"] is None

    result = crash_search(tmp_path)

    assert result.returncode == 1
    # The previous hook still ran: the terminal shows the full traceback, as before.
    assert f"ValueError: no index entry for {SECRET!r}" in result.stderr
    log = (deskmate_home / "logs" / "deskmate.log").read_text(encoding="utf-8")
    assert "Unhandled ValueError in thread MainThread at desktop/cli/main.py:" in log
    assert "ValueError (message hidden" in log
    assert SECRET not in log and "Zebedee" not in log

    after = deskmate("doctor", "--json")
    report = json.loads(after.stdout)
    check = next(c for c in report["checks"] if c["name"] == "last crash")
    assert check["status"] == "warning"
    assert "ValueError at desktop/cli/main.py:" in check["message"]
    assert "in search" in check["message"] and check["fix"]
    crash = report["last_crash"]
    assert crash["type"] == "ValueError" and crash["where"].startswith("desktop/cli/main.py:")
    assert crash["time"][:4].isdigit() and crash["version"]
    assert SECRET not in after.stdout

    text = deskmate("doctor").stdout
    assert "[WARNING] last crash: " in text and "ValueError at desktop/cli/main.py:" in text


def test_customer_text_in_the_log_only_when_the_user_turns_it_on_and_policy_allows(
    deskmate: Any, deskmate_home: Path, tmp_path: Path, policy: Any
) -> None:
    assert deskmate("config", "set", "log.customer_text", "on").returncode == 0
    crash_search(tmp_path)
    log = deskmate_home / "logs" / "deskmate.log"
    assert "customer text in this log: ON" in log.read_text(encoding="utf-8")
    assert SECRET in log.read_text(encoding="utf-8")

    log.unlink()
    policy({"settings": {"log.customer_text": False}})
    refused = deskmate("config", "set", "log.customer_text", "on")
    assert refused.returncode == 1 and "set by your IT department" in refused.stderr
    crash_search(tmp_path)
    assert "ValueError (message hidden" in log.read_text(encoding="utf-8")
    assert SECRET not in log.read_text(encoding="utf-8")
