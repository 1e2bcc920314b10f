"""The layers stay apart: the core and the CLI never import Qt, the window never waits for ML.

Each check runs in a fresh interpreter, because this test process has long since imported
PySide6 and the heavy libraries for other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "lancedb", "llama_cpp", "sentence_transformers", "onnxruntime")


def run_python(code: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run *code* in a fresh interpreter; it prints one JSON object as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_core_never_imports_qt() -> None:
    found = run_python("""
        import importlib, json, pkgutil, sys
        import desktop.core
        names = [m.name for m in pkgutil.walk_packages(desktop.core.__path__, "desktop.core.")]
        for name in names:
            importlib.import_module(name)
        qt = sorted(m for m in sys.modules if m == "PySide6" or m.startswith("PySide6."))
        print(json.dumps({"modules": names, "qt": qt}))
    """)
    modules = found["modules"]
    assert isinstance(modules, list)
    # The walk really covered the package, sub-packages included.
    for expected in (
        "desktop.core.assist",
        "desktop.core.settings",
        "desktop.core.knowledge.index",
        "desktop.core.generation.engine",
    ):
        assert expected in modules
    assert found["qt"] == []


def test_cli_never_imports_qt() -> None:
    found = run_python("""
        import json, sys
        import desktop.cli.main
        print(json.dumps({"qt": sorted(m for m in sys.modules if m.split(".")[0] == "PySide6")}))
    """)
    assert found["qt"] == []


def test_window_appears_before_heavy_libraries(tmp_path: Path) -> None:
    found = run_python(
        f"""
        import json, sys
        from PySide6.QtWidgets import QApplication
        from desktop.core.context import AppContext
        from desktop.gui.main_window import MainWindow

        app = QApplication([])
        window = MainWindow(AppContext.from_env())
        window.show()
        app.processEvents()
        heavy = sorted(m for m in {list(HEAVY)!r} if m in sys.modules)
        print(json.dumps({{"visible": window.isVisible(), "heavy": heavy}}))
    """,
        env={
            "QT_QPA_PLATFORM": "offscreen",
            "DESKMATE_HOME": str(tmp_path / "home"),
            "DESKMATE_POLICY_DIR": str(tmp_path / "policies"),
        },
    )
    assert found["visible"] is True
    assert found["heavy"] == []
