"""``deskmate policy [--json]`` (issue 16): each source, each key with level and status."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def test_policy_json_reports_each_source_and_key(deskmate: Any, policy: Any) -> None:
    path = policy({"generation.enabled": False, "model.threads": "two", "model.pth": "x"})
    root = Path(os.environ["DESKMATE_POLICY_DIR"])
    (root / "recommended" / "r.json").write_text(json.dumps({"search.limit": 7}))
    broken = root / "managed" / "90-open.json"
    broken.write_text(json.dumps({"listen.follow_clipboard": True}))
    broken.chmod(0o666)

    result = deskmate("policy", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    sources = {Path(s["name"]).name: s for s in report["sources"]}
    assert sources["policy.json"]["status"] == "read"
    assert sources["r.json"]["level"] == "recommended"
    assert sources["90-open.json"]["status"] == "refused"
    assert "other users" in sources["90-open.json"]["reason"]
    rows = {(r["key"], Path(r["source"]).name): r for r in report["policies"]}
    assert rows[("generation.enabled", path.name)]["status"] == "applied"
    assert rows[("model.threads", path.name)]["status"] == "invalid"
    assert rows[("model.pth", path.name)]["status"] == "unknown"
    assert rows[("search.limit", "r.json")]["level"] == "recommended"
    # The refused file's clipboard setting fails closed, and says so.
    assert rows[("listen.follow_clipboard", "(fail-safe)")]["value"] is False
    assert report["managed"] is True and report["machine_policy"] is False


def test_policy_text_and_doctor_name_a_refused_source(deskmate: Any, policy: Any) -> None:
    path = policy("{not json")
    text = deskmate("policy")
    assert text.returncode == 0, text.stderr
    assert "[refused]" in text.stdout and str(path) in text.stdout
    assert "generation.enabled = false  [mandatory, fail-safe]" in text.stdout

    doctor = json.loads(deskmate("doctor", "--json").stdout)
    [check] = [c for c in doctor["checks"] if c["name"] == "settings and policy"]
    assert check["status"] == "error" and str(path) in check["message"]
    assert "chmod 644" in check["fix"]
