"""End-to-end fixtures: the real ``deskmate`` command, run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def deskmate(tmp_path: Path, deskmate_home: Path) -> Run:
    """Run ``python [OPTIONS] -m desktop ARGS`` in this test's own home; returns the result.

    The environment comes from this process, where the autouse fixture has already pointed
    DESKMATE_HOME and DESKMATE_POLICY at ``tmp_path``.
    """

    def run(
        *args: str, python_options: tuple[str, ...] = (), timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        assert env["DESKMATE_HOME"] == str(deskmate_home)
        return subprocess.run(
            [sys.executable, *python_options, "-m", "desktop", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )

    return run


@pytest.fixture
def policy(tmp_path: Path) -> Callable[[Any], Path]:
    """Write the machine policy file this test's DESKMATE_POLICY points at."""

    def write(data: Any) -> Path:
        path = Path(os.environ["DESKMATE_POLICY"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    return write
