"""`deskmate sync` installs a pack, its golden questions run on this machine, without torch.

The harness is tests/test_no_torch.py's: a fresh interpreter that reports every module imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from synckit import Workstation
from test_golden_sync import PACK, _build
from test_no_torch import forbidden, run_fresh

from desktop.core.sync.repo import Repository


@pytest.mark.slow
def test_sync_imports_no_torch(
    repo: Repository, workstation: Workstation, embedder: Any, tmp_path: Path
) -> None:
    folder, _ = _build(tmp_path, embedder, "1", loyalty=True, roaming=False)
    repo.publish(folder)  # a version with golden questions: the sync embeds them to check
    result, modules = run_fresh(tmp_path, "sync", "--json", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["ok"] is True, report
    assert workstation.served()[PACK] == "1"
    assert forbidden(modules) == []
    assert "onnxruntime" in modules  # the golden questions were searched with the embedder
