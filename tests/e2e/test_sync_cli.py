"""The admin and workstation commands as subprocesses: build, init, publish, sync --json, search,
a refused sync, retire."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_WORD = "MARIGOLD"


def _ok(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_sync_json_reports_checked_installed_refused_and_retired(
    deskmate: Any, policy: Any, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "billing").mkdir(parents=True)
    shutil.copy(ROOT / "resources/demo/billing/disputing-a-charge.md", src / "billing")
    (src / "billing" / "loyalty.md").write_text(
        "# Loyalty voucher\n\nThe loyalty reward code word for the anniversary voucher is "
        f"{CODE_WORD}. Read it to the customer.\n",
        encoding="utf-8",
    )
    built, repo, keys = tmp_path / "built" / "northwind", tmp_path / "repo", tmp_path / "keys"
    _ok(deskmate("pack", "build", str(src), "--out", str(built), "--version", "1", "--no-progress"))
    _ok(deskmate("repo", "init", "--repo", str(repo), "--keys", str(keys)))
    published = _ok(
        deskmate("pack", "publish", str(built), "--repo", str(repo), "--keys", str(keys))
    )
    assert "northwind 1: published" in published.stdout
    policy_file = Path(os.environ["DESKMATE_POLICY_DIR"], "managed", "policy.json")
    shutil.copy(repo / "metadata" / "root.json", policy_file.parent.parent / "root.json")
    policy({"settings": {"sync.url": repo.as_uri(), "knowledge.demo_enabled": False}})

    report = json.loads(_ok(deskmate("sync", "--json")).stdout)
    assert report["ok"] is True
    assert {role: m["version"] for role, m in report["metadata"].items()} == {
        "root": 1,
        "timestamp": 2,
        "snapshot": 2,
        "targets": 2,
    }
    (target,) = report["targets"]
    assert (target["pack"], target["version"], target["status"]) == ("northwind", "1", "installed")
    assert report["installed"] == ["northwind"]
    hits = json.loads(_ok(deskmate("search", "loyalty reward code word", "--json")).stdout)
    assert CODE_WORD in hits[0]["text"]
    assert hits[0]["pack"] == "northwind"

    timestamp = repo / "metadata" / "timestamp.json"
    genuine = timestamp.read_text(encoding="utf-8")
    forged = json.loads(genuine)
    forged["signed"]["version"] += 1
    timestamp.write_text(json.dumps(forged), encoding="utf-8")
    refused = deskmate("sync", "--json")
    assert refused.returncode == 1
    report = json.loads(refused.stdout)
    assert report["ok"] is False
    assert "not signed by enough trusted keys" in report["error"]
    timestamp.write_text(genuine, encoding="utf-8")

    _ok(deskmate("pack", "retire", "northwind", "--repo", str(repo), "--keys", str(keys)))
    report = json.loads(_ok(deskmate("sync", "--json")).stdout)
    assert report["retired"] == ["northwind"]
    status = json.loads(_ok(deskmate("sync", "status", "--json")).stdout)
    assert status["packs"] == [] and status["last_error"] == "" and status["warning"] == ""
