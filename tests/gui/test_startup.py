"""Start-up: the trace hook, LanceDB's faster import, the preload, and the window not waiting.

The window and import checks run in fresh interpreters: this test process has long since
imported LanceDB, Qt and the models for other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from desktop.core import trace
from desktop.core.context import AppContext
from desktop.core.errors import KnowledgeError
from desktop.core.paths import Paths
from desktop.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How do I return a damaged item?"
DAMAGED = "delivery-returns/return-damaged-or-faulty-item.md"


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 240) -> Any:
    """Run *code* in a fresh interpreter; it prints one JSON value as its last line."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the trace hook -----------------------------------------------------------------------------


def test_trace_writes_nothing_unless_asked(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv(trace.TRACE_ENV, raising=False)
    monkeypatch.setattr(trace, "_marked", set())
    cwd = tmp_path / "cwd"  # tmp_path itself holds the tests' empty policy folder
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    trace.mark("window_shown")
    assert not trace.enabled()
    assert list(cwd.iterdir()) == []


def test_trace_appends_each_event_once_with_seconds_since_start(
    tmp_path: Path, monkeypatch: Any
) -> None:
    out = tmp_path / "trace.txt"
    monkeypatch.setenv(trace.TRACE_ENV, str(out))
    monkeypatch.setenv(trace.T0_ENV, repr(time.time() - 2.0))
    monkeypatch.setattr(trace, "_marked", set())
    trace.mark("window_shown")
    trace.mark("window_shown")  # only the first counts
    trace.mark("first_result")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == ["window_shown", "first_result"]
    seen = trace.read(out)
    assert 2.0 <= seen["window_shown"] <= seen["first_result"] < 3.0


def test_process_start_is_when_the_process_started() -> None:
    """Without DESKMATE_TRACE_T0, the kernel's start time of the process (10 ms ticks)."""
    before = time.time()
    started = run_python(
        "import json; from desktop.core import trace; print(json.dumps(trace.process_start()))",
        env={trace.T0_ENV: ""},
    )
    after = time.time()
    assert before - 0.05 <= started <= after
    assert started < before + 1.0  # the interpreter's own start-up is not counted as "start"


# --- LanceDB's import ---------------------------------------------------------------------------

IMPORT_CHECK = """
    import dis, json, sys
    disassembled = []  # the overrides package's check disassembles each class body
    get_instructions = dis.get_instructions
    dis.get_instructions = lambda *a, **k: disassembled.append(1) or get_instructions(*a, **k)
    {how}
    import lancedb, pydantic
    from pydantic._internal._config import config_defaults
    from lance_namespace_urllib3_client.models import CreateTableRequest

    class Later(pydantic.BaseModel):
        x: int

    db = lancedb.connect(sys.argv[-1] if len(sys.argv) > 1 else {folder!r})
    table = db.create_table("t", [{{"id": 1, "vector": [0.0, 1.0]}}])
    found = table.search([0.0, 1.0]).limit(1).to_list()
    print(json.dumps({{
        "deferred": CreateTableRequest.__pydantic_complete__ is False,
        "default_restored": config_defaults["defer_build"] is False,
        "later_built": Later.__pydantic_complete__ is True,
        "validates": CreateTableRequest(id=["a"]).id == ["a"],
        "search": [row["id"] for row in found],
        "override_checks": len(disassembled),
        "overrides_restored": sys.modules["overrides.overrides"]._overrides.__module__
        == "overrides.overrides",
    }}))
"""


def test_lancedb_imports_without_its_import_time_checks(tmp_path: Path) -> None:
    how = "from desktop.core.imports import import_lancedb; import_lancedb()"
    seen = run_python(IMPORT_CHECK.format(how=how, folder=str(tmp_path / "db")))
    # Fails when a pydantic or overrides upgrade moves what import_lancedb relies on: LanceDB
    # then imports at its old speed (about 0.5 s more before the first search result).
    assert seen["deferred"] is True
    assert seen["override_checks"] == 0
    # Nothing else changes: the default is back, later models are built as usual, a deferred
    # model still validates once used, and LanceDB works.
    assert seen["default_restored"] and seen["later_built"] and seen["validates"]
    assert seen["overrides_restored"]
    assert seen["search"] == [1]


def test_a_plain_lancedb_import_builds_every_validator(tmp_path: Path) -> None:
    """The control: without import_lancedb the models are built and the overrides checked at
    import (what it saves)."""
    seen = run_python(IMPORT_CHECK.format(how="", folder=str(tmp_path / "db")))
    assert seen["deferred"] is False
    assert seen["override_checks"] > 50
    assert seen["search"] == [1]


# --- the preload --------------------------------------------------------------------------------


def test_preload_leaves_a_failure_for_the_caller_to_report(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A pack that cannot be opened: the preload ends quietly; packs() then says why."""
    unhandled: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", unhandled.append)
    paths = Paths.from_env()
    missing = tmp_path / "no-such-pack"
    context = AppContext(paths, Settings.load(paths), pack_dirs=[missing])

    thread = context.preload()
    thread.join(60)

    assert not thread.is_alive() and unhandled == []
    with pytest.raises(KnowledgeError, match="No knowledge pack at"):
        context.packs()


@pytest.mark.slow
def test_preload_loads_the_embedder_and_opens_the_packs(demo_pack: Path) -> None:
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack])

    context.preload().join(120)

    embedder = context._embedder
    assert embedder is not None and embedder._model is not None  # loaded, warmed up
    opened = context._opened
    assert opened is not None and [pack.id for _, pack in opened] == ["demo"]
    # The caller's own calls find the work done: the same pack objects, not reopened.
    assert context.packs()[0] is opened[0][1]


# --- the window ---------------------------------------------------------------------------------

# run_gui as `deskmate` runs it, with the embedding model made 3 s slower to load; the query is
# typed as soon as the window is shown, and the window closes on the first result.
SLOW_EMBEDDER_WINDOW = f"""
    import json, sys, time
    from desktop.core.knowledge.embedder import Embedder
    original = Embedder._open
    def slow_open(self, folder):
        time.sleep(3)
        return original(self, folder)
    Embedder._open = slow_open

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from desktop.app import run_gui
    from desktop.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    seen = {{}}

    def poll():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows or seen or not windows[0].isVisible():
            return
        window = windows[0]
        seen["typed_while_loading"] = not window.shell.knowledge_ready
        def results(hits):
            seen["hits"] = [hit.source for hit in hits]
            app.quit()
        window.results_shown.connect(results)
        window.search.box.setText({QUESTION!r})

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(5)
    QTimer.singleShot(200_000, app.quit)
    code = run_gui()
    print(json.dumps({{"code": code, **seen}}))
"""


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_window_shows_before_the_embedder_loads_and_answers_the_search_typed_meanwhile(
    tmp_path: Path, deskmate_home: Path, demo_pack: Path
) -> None:
    packs = deskmate_home / "data" / "packs"
    packs.mkdir(parents=True)
    shutil.copytree(demo_pack, packs / "demo")  # built from resources/demo: not rebuilt
    out = tmp_path / "trace.txt"
    env = {"QT_QPA_PLATFORM": "offscreen", trace.TRACE_ENV: str(out)}
    env[trace.T0_ENV] = repr(time.time())
    seen = run_python(SLOW_EMBEDDER_WINDOW, env=env)

    assert seen["code"] == 0
    assert seen["typed_while_loading"] is True
    assert seen["hits"] and seen["hits"][0] == DAMAGED
    events = trace.read(out)
    assert set(events) >= {"window_shown", "knowledge_ready", "first_result"}
    # The window did not wait for the embedding model (3 s slower here) to load...
    assert events["window_shown"] + 2.5 < events["knowledge_ready"]
    # ...and the search typed meanwhile was answered once it had.
    assert events["knowledge_ready"] <= events["first_result"]


def test_prefetch_names_the_native_libraries_and_imports_none() -> None:
    seen = run_python("""
        import json, sys
        from desktop.core.imports import prefetch_libraries
        found = prefetch_libraries()
        heavy = sorted(m for m in ("lancedb", "onnxruntime", "llama_cpp") if m in sys.modules)
        print(json.dumps({"found": [str(p) for p in found], "heavy": heavy}))
    """)
    names = {Path(p).name for p in seen["found"]}
    assert any(name.startswith("_lancedb") for name in names)
    assert any(name.startswith("onnxruntime_pybind11_state") for name in names)
    assert seen["heavy"] == []
