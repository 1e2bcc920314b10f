"""Fixtures for the installer tests: the frozen application in dist/ (``make bundle``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make bundle` writes here; DESKMATE_BUNDLE points the tests at another build (e.g. /opt/deskmate).
BUNDLE = Path(os.environ.get("DESKMATE_BUNDLE", ROOT / "dist" / "deskmate"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bundle: runs the frozen application built by make bundle")


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The frozen ``deskmate`` executable; the test is skipped, saying why, when there is none."""
    exe = BUNDLE / "deskmate"
    if not exe.is_file():
        why = f"no frozen build at {BUNDLE}: run `make bundle` to test it"
        if os.environ.get("DESKMATE_REQUIRE_BUNDLE") == "1":  # CI built it: absent is a failure
            pytest.fail(why)
        pytest.skip(why)
    if os.path.lexists("/etc/deskmate/policies"):
        pytest.skip(
            "this machine has a machine policy (/etc/deskmate/policies): the frozen "
            "smoke test needs the demo pack, which a machine policy turns off"
        )
    return exe


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment as on a PC with nothing but the bundle: a new home, no venv on PATH, no
    PYTHONPATH, nothing else inherited from this process."""
    home = tmp_path_factory.mktemp("frozen-home")
    return {
        "HOME": str(home),
        "DESKMATE_HOME": str(home / "deskmate"),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "TMPDIR": str(home),
    }
