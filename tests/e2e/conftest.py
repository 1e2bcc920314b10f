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


# In a test not marked slow the command runs through this bootstrap, which stops the process
# (exit 86) the moment it imports a model runtime: `-m "not slow"` must not load a real model.
NO_MODELS = """
import importlib.abc, os, runpy, sys
class _NoModels(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        runtimes = ("onnxruntime", "sentence_transformers", "llama_cpp", "ctranslate2")
        if name.split(".")[0] in runtimes:
            sys.stderr.write(f"{name} imported by a test not marked @pytest.mark.slow\\n")
            sys.stderr.flush()
            os._exit(86)
sys.meta_path.insert(0, _NoModels())
sys.argv[0] = "deskmate"
runpy.run_module("desktop", run_name="__main__")
"""
LOADED_A_MODEL = 86


@pytest.fixture
def deskmate(tmp_path: Path, deskmate_home: Path, request: pytest.FixtureRequest) -> Run:
    """Run ``python [OPTIONS] -m desktop ARGS`` in this test's own home; returns the result.

    The environment comes from this process, where the autouse fixture has already pointed
    DESKMATE_HOME and DESKMATE_POLICY_DIR at ``tmp_path``.
    """
    slow = request.node.get_closest_marker("slow") is not None

    def run(
        *args: str, python_options: tuple[str, ...] = (), timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        assert env["DESKMATE_HOME"] == str(deskmate_home)
        entry = ("-m", "desktop") if slow else ("-c", NO_MODELS)
        result = subprocess.run(
            [sys.executable, *python_options, *entry, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )
        assert result.returncode != LOADED_A_MODEL, result.stderr
        return result

    return run


@pytest.fixture
def policy(tmp_path: Path) -> Callable[[Any], Path]:
    """Write the mandatory policy file in this test's DESKMATE_POLICY_DIR."""

    def write(data: Any) -> Path:
        path = Path(os.environ["DESKMATE_POLICY_DIR"], "managed", "policy.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    return write
