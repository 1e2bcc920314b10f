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
    cpu = trace.read(out, column=2)  # this process's CPU seconds by then
    assert 0 < cpu["window_shown"] <= cpu["first_result"] <= time.process_time()


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


LAZY_CHECK = """
    import json, sys, tempfile
    from desktop.core.imports import import_lancedb
    lancedb = import_lancedb()
    skipped = sorted(m for m in sys.modules if m.startswith("lance_namespace_urllib3_client.api."))
    db = lancedb.connect(tempfile.mkdtemp())
    table = db.create_table("t", [{"id": 1, "vector": [0.0, 1.0]}])
    found = [row["id"] for row in table.search([0.0, 1.0]).limit(1).to_list()]
    import lance_namespace_urllib3_client as client
    api = client.ApiClient.__name__, client.TableApi.__name__  # runs the package's __init__
    print(json.dumps({"skipped": skipped, "search": found, "api": api,
                      "later": "lance_namespace_urllib3_client.api.table_api" in sys.modules}))
"""


def test_lancedb_imports_without_the_namespace_api_modules() -> None:
    seen = run_python(LAZY_CHECK)
    assert seen["skipped"] == []  # not imported by import_lancedb (a fifth of its time)...
    assert seen["search"] == [1]  # ...and LanceDB works without them
    # The package's own names are there when asked for: its __init__ runs then.
    assert seen["api"] == ["ApiClient", "TableApi"] and seen["later"] is True


LAZY_MODELS_CHECK = """
    import json, sys, tempfile
    from desktop.core.imports import import_lancedb
    lancedb = import_lancedb()
    def models():
        prefix = "lance_namespace_urllib3_client.models."
        return sorted(m for m in sys.modules if m.startswith(prefix))
    at_import = models()
    db = lancedb.connect(tempfile.mkdtemp())
    table = db.create_table("t", [{"id": 1, "vector": [0.0, 1.0]}])
    found = [row["id"] for row in table.search([0.0, 1.0]).limit(1).to_list()]
    import lance_namespace
    from lance_namespace_urllib3_client.models import CreateTableRequest
    print(json.dumps({
        "at_import": len(at_import), "search": found,
        "loaded_later": "lance_namespace_urllib3_client.models.create_table_request" in models(),
        "alias": lance_namespace.CreateEmptyTableRequest is CreateTableRequest,
        "reexport": lance_namespace.CreateTableRequest is CreateTableRequest,
        "deferred": CreateTableRequest.__pydantic_complete__ is False,
        "validates": CreateTableRequest(id=["a"]).id == ["a"],
        "annotation": str(lance_namespace.LanceNamespace.list_tables.__annotations__["return"]),
    }))
"""


def test_lancedb_imports_a_few_of_the_namespace_models_and_the_rest_on_demand() -> None:
    seen = run_python(LAZY_MODELS_CHECK)
    # Fails if every model is imported (148, 0.17 s of CPU): LanceDB itself asks for a few.
    assert 0 < seen["at_import"] < 40
    assert seen["search"] == [1]
    # A model not imported is there when asked for, deferred and validating as before, and
    # lance_namespace re-exports it (and its alias); its annotations are kept as text.
    assert seen["loaded_later"] and seen["alias"] and seen["reexport"]
    assert seen["deferred"] and seen["validates"]
    assert seen["annotation"] == "ListTablesResponse"


def write_package(root: Path, name: str, files: dict[str, str]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(textwrap.dedent(text), encoding="utf-8")


def test_lazy_reexports_imports_each_name_when_asked_and_falls_back_otherwise(
    tmp_path: Path,
) -> None:
    write_package(
        tmp_path,
        "lazymodels",
        {
            "__init__.py": '"""Models."""\n'
            "from lazymodels.one import One\nfrom lazymodels.two import Two\n",
            "one.py": "class One: pass\n",
            "two.py": "class Two: pass\n",
        },
    )
    write_package(
        tmp_path,
        "lazyns",
        {
            "__init__.py": """
                from lazymodels import One, Two
                Uno = One
                class Api:
                    def get(self) -> Two: ...
                """,
        },
    )
    write_package(
        tmp_path,
        "eagerns",  # uses a re-exported name as it runs: imported as usual
        {"__init__.py": "from lazymodels import One\nMADE = One()\n"},
    )
    seen = run_python(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from desktop.core import imports
        lazy = imports._lazy_reexports("lazymodels")
        ns = imports._lazy_namespace("lazyns", "lazymodels")
        before = sorted(m for m in sys.modules if m.startswith("lazymodels."))
        import lazyns, lazymodels
        uno = lazyns.Uno.__name__
        after = sorted(m for m in sys.modules if m.startswith("lazymodels."))
        eager = imports._lazy_namespace("eagerns", "lazymodels")
        import eagerns
        print(json.dumps({{"lazy": lazy, "ns": ns, "before": before, "uno": uno,
                          "after": after, "eager": eager, "made": type(eagerns.MADE).__name__,
                          "two": lazymodels.Two.__name__}}))
        """
    )
    assert seen["lazy"] is True and seen["ns"] is True
    assert seen["before"] == []  # neither model imported by the two packages' import
    assert seen["uno"] == "One" and seen["after"] == ["lazymodels.one"]
    assert seen["eager"] is False and seen["made"] == "One"  # fell back to a plain import
    assert seen["two"] == "Two"


PYSIDE_CHECK = """
    import json, linecache, sys
    sys.path.insert(0, {folder!r})
    import PySide6.QtCore
    from desktop.core.imports import quick_pyside_module_check
    replaced = quick_pyside_module_check() if {quick} else False
    import uses_qt, plain_module
    feature = sys.modules["shibokensupport.feature"]
    names = ("uses_qt", "plain_module")
    print(json.dumps({{
        "replaced": replaced,
        "again": quick_pyside_module_check() if {quick} else False,
        "marks": [feature.pyside_feature_dict.get(name) for name in names],
        "cached": sorted(f for f in linecache.cache if f.startswith({folder!r})),
    }}))
"""


@pytest.mark.parametrize("quick", [True, False])
def test_pysides_module_check_gives_the_same_answers_without_keeping_the_source(
    tmp_path: Path, quick: bool
) -> None:
    (tmp_path / "uses_qt.py").write_text("# built on PySide6\nX = 1\n", encoding="utf-8")
    (tmp_path / "plain_module.py").write_text("Y = 2\n", encoding="utf-8")
    seen = run_python(PYSIDE_CHECK.format(folder=str(tmp_path), quick=quick))
    # PySide6's own answers: 0 for a module naming PySide6, -1 ("ignore") for the others.
    assert seen["marks"] == [0, -1]
    if quick:
        assert seen["replaced"] is True and seen["again"] is False  # once
        assert seen["cached"] == []  # no source read through inspect, none kept
    else:  # the control: PySide6's check reads every module through inspect and keeps it
        assert len(seen["cached"]) == 2


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


# --- the embedder's weights hash, remembered --------------------------------------------------


def fake_model(folder: Path, weights: bytes) -> Path:
    """A model folder as far as hashing the weights goes (nothing here loads it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_the_weights_hash_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    import hashlib

    from desktop.core.knowledge.embedder import Embedder

    model = fake_model(tmp_path / "model", b"weights one")
    cache = tmp_path / "cache" / "embedder-sha256.json"
    first = Embedder(model, hash_cache=cache).weights_hash()
    assert first == hashlib.sha256(b"weights one").hexdigest()
    # A new process (a new Embedder) reads it back instead of hashing: shown by a planted value.
    (key,) = json.loads(cache.read_text(encoding="utf-8"))
    cache.write_text(json.dumps({key: "remembered"}), encoding="utf-8")
    assert Embedder(model, hash_cache=cache).weights_hash() == "remembered"
    assert Embedder(model).weights_hash() == first  # no cache: hashed
    # The file is replaced (same size, another inode and time): hashed again, and remembered.
    replacement = tmp_path / "new.safetensors"
    replacement.write_bytes(b"weights two")
    os.replace(replacement, model / "model.safetensors")
    second = Embedder(model, hash_cache=cache).weights_hash()
    assert second == hashlib.sha256(b"weights two").hexdigest()
    assert list(json.loads(cache.read_text(encoding="utf-8")).values()) == [second]


def test_the_weights_hash_key_names_size_time_and_inode(tmp_path: Path) -> None:
    """Rewritten in place (same inode, same size, same time restored): only the time and size
    guard it, so the key must hold them; an edited file with a new mtime is hashed again."""
    from desktop.core.knowledge.embedder import Embedder

    model = fake_model(tmp_path / "model", b"weights one")
    cache = tmp_path / "hashes.json"
    Embedder(model, hash_cache=cache).weights_hash()
    (key,) = json.loads(cache.read_text(encoding="utf-8"))
    info = (model / "model.safetensors").stat()
    assert key.endswith(f"|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}")
    cache.write_text(json.dumps({key: "remembered"}), encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"weights 1ne")  # same size, same inode
    os.utime(model / "model.safetensors", ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    assert Embedder(model, hash_cache=cache).weights_hash() != "remembered"


def test_doctor_hashes_the_weights_in_full(tmp_path: Path) -> None:
    """`deskmate doctor` does not trust the remembered hash: the packs it checks next are
    compared with what the weights file holds now."""
    import hashlib

    from desktop.core.doctor import check_index
    from desktop.core.knowledge.embedder import Embedder

    model = fake_model(tmp_path / "model", b"weights one")
    cache = tmp_path / "hashes.json"
    Embedder(model, hash_cache=cache).weights_hash()
    (key,) = json.loads(cache.read_text(encoding="utf-8"))
    cache.write_text(json.dumps({key: "stale"}), encoding="utf-8")
    paths = Paths.from_env()
    embedder = Embedder(model, hash_cache=cache)
    context = AppContext(paths, Settings.load(paths), embedder=embedder)

    check = check_index(context)  # no pack here: that is what it reports

    assert check.status in ("warning", "error")
    truth = hashlib.sha256(b"weights one").hexdigest()
    assert embedder.weights_hash() == truth
    assert json.loads(cache.read_text(encoding="utf-8")) == {key: truth}


def test_the_context_remembers_the_hash_in_its_cache_folder() -> None:
    from desktop.core.context import EMBEDDER_HASHES

    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths))
    assert context.embedder.hash_cache == paths.cache / EMBEDDER_HASHES


def test_the_embedder_is_not_kept_waiting_while_the_packs_open(tmp_path: Path) -> None:
    """Opening the packs holds the context's lock while LanceDB imports; the preload's other
    thread creates the embedder meanwhile (it did wait for the lock, serialising the two)."""
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths))
    got: list[Any] = []
    with context._lock:  # as packs() holds it
        thread = threading.Thread(target=lambda: got.append(context.embedder))
        thread.start()
        thread.join(10)
    assert got and got[0] is context.embedder


# --- the model loads after the first search -------------------------------------------------


def record_model_loads(context: AppContext, window: Any) -> list[str]:
    """Replace the model's load with a record of when it was asked for (no model loads)."""
    loads: list[str] = []

    def load() -> None:
        loads.append("shown" if shown else "not shown")
        return None

    shown: list[Any] = []
    window.results_shown.connect(shown.append)
    context.load_model = load  # type: ignore[method-assign]
    return loads


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_model_loads_after_the_first_search_result(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    from desktop.gui.parts import status

    # Idle never comes (10 minutes), so only the finished search can start the load: no
    # timing in the test, which a loaded machine would break.
    monkeypatch.setattr(status, "MODEL_IDLE_MS", 600_000, raising=False)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    loads = record_model_loads(context, window)
    window.search.box.setText(QUESTION)  # typed before the packs are open
    with qtbot.waitSignal(window.results_shown, timeout=120_000) as shown:
        window.start()
    assert shown.args[0] and shown.args[0][0].source == DAMAGED
    assert loads == []  # not while the first search ran
    qtbot.waitUntil(lambda: loads == ["shown"], timeout=30_000)  # ...but right after it
    assert window.parts["status"].model_requested


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_without_a_search_the_model_loads_once_the_window_is_idle(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    from desktop.gui.parts import status

    monkeypatch.setattr(status, "MODEL_IDLE_MS", 300, raising=False)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    loads = record_model_loads(context, window)
    with qtbot.waitSignal(window.ready, timeout=120_000):
        window.start()
    assert loads == [] and not window.parts["status"].model_requested
    qtbot.waitUntil(lambda: loads == ["not shown"], timeout=10_000)
    qtbot.wait(400)
    assert loads == ["not shown"]  # once


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_draft_asked_for_loads_the_model_at_once(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    from desktop.gui.parts import status

    monkeypatch.setattr(status, "MODEL_IDLE_MS", 600_000, raising=False)
    paths = Paths.from_env()
    # The draft itself is extractive: no real model loads behind the recorded one.
    paths.policy.write_text(json.dumps({"settings": {"generation.enabled": False}}), "utf-8")
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    loads = record_model_loads(context, window)
    with qtbot.waitSignal(window.ready, timeout=120_000):
        window.start()
    qtbot.wait(300)
    assert loads == []  # idle for 10 minutes: not loaded yet
    window.shell.draft_requested.emit("reply")
    qtbot.waitUntil(lambda: len(loads) == 1, timeout=10_000)


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_search_results_do_not_wait_for_a_worker_holding_the_context(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    """The sensitive-topic check readied at start holds the context's lock while it builds:
    the status bar's look at the packs after a search must not make the results wait."""
    from desktop.gui.parts import status

    monkeypatch.setattr(status, "MODEL_IDLE_MS", 600_000, raising=False)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    record_model_loads(context, window)
    with qtbot.waitSignal(window.ready, timeout=120_000):
        window.start()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with context._lock:
            holding.set()
            release.wait(15)  # a UI thread waiting for the lock waits this long
            release.set()

    holder = threading.Thread(target=hold)
    holder.start()
    while_held: list[bool] = []
    window.results_shown.connect(lambda _: while_held.append(not release.is_set()))
    try:
        assert holding.wait(10)
        with qtbot.waitSignal(window.results_shown, timeout=60_000) as shown:
            window.search.box.setText(QUESTION)
        assert shown.args[0] and shown.args[0][0].source == DAMAGED
        assert while_held == [True]  # shown while the lock was still held
    finally:
        release.set()
        holder.join()
    label = window.parts["status"].packs_label.text()
    assert label == "Knowledge: Demo v1"  # still shown as it was: nothing was found damaged


def record_sensitive_readying(context: AppContext, window: Any) -> list[str]:
    """Record when the sensitive-topic check is asked for: before or after the first results."""
    asked: list[str] = []
    shown: list[Any] = []
    window.results_shown.connect(shown.append)
    build = context.sensitive_detector

    def detector() -> Any:
        asked.append("shown" if shown else "not shown")
        return build()

    context.sensitive_detector = detector  # type: ignore[method-assign]
    return asked


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_sensitive_check_is_readied_after_the_first_search_result(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    from desktop.gui.parts import draft, status

    monkeypatch.setattr(status, "MODEL_IDLE_MS", 600_000, raising=False)
    monkeypatch.setattr(draft, "SENSITIVE_IDLE_MS", 600_000, raising=False)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    record_model_loads(context, window)
    asked = record_sensitive_readying(context, window)
    window.search.box.setText(QUESTION)  # typed before the packs are open
    with qtbot.waitSignal(window.results_shown, timeout=120_000):
        window.start()
    qtbot.waitUntil(lambda: asked == ["shown"], timeout=30_000)  # after the results, once
    qtbot.waitUntil(lambda: context._sensitive is not None, timeout=30_000)
    qtbot.keyClicks(window.search.box, " again")
    qtbot.wait(300)
    assert asked == ["shown"]  # not again for later searches


@pytest.mark.slow
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_without_a_search_the_sensitive_check_is_readied_once_the_window_is_idle(
    qtbot: Any, make_window: Any, demo_pack: Path, embedder: Any, monkeypatch: Any
) -> None:
    from desktop.gui.parts import draft, status

    monkeypatch.setattr(status, "MODEL_IDLE_MS", 600_000, raising=False)
    monkeypatch.setattr(draft, "SENSITIVE_IDLE_MS", 300, raising=False)
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths), pack_dirs=[demo_pack], embedder=embedder)
    window = make_window(context)
    record_model_loads(context, window)
    asked = record_sensitive_readying(context, window)
    with qtbot.waitSignal(window.ready, timeout=120_000):
        window.start()
    assert asked == []
    qtbot.waitUntil(lambda: asked == ["not shown"], timeout=10_000)


# Imported by the window before, now when first needed: the Usage page's modules (the report,
# the charts), the sensitive-topic check's YAML reader (readied after the first result) and the
# sync client (imported when a sync is due).
DEFERRED = (
    "desktop.core.usage",
    "desktop.core.report",
    "desktop.gui.parts.charts",
    "desktop.gui.parts.usage_page",
    "desktop.core.sync.client",  # the sync part imports it when a sync runs, not to check
    "yaml",
)


# run_gui as `deskmate` runs it; what is imported (and kept) when the first result is shown.
FIRST_RESULT_WINDOW = f"""
    import json, linecache, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from desktop.app import run_gui  # imports the window's modules itself, as `deskmate` does

    app = QApplication(sys.argv[:1])
    seen = {{}}
    DEFERRED = {DEFERRED!r}

    def poll():
        windows = [w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow"]
        if not windows or seen or not windows[0].isVisible():
            return
        window = windows[0]
        seen["started"] = True
        def results(hits):
            seen["hits"] = [hit.source for hit in hits]
            seen["imported"] = sorted(name for name in DEFERRED if name in sys.modules)
            seen["sources_kept"] = len(linecache.cache)
            prefix = "lance_namespace_urllib3_client.models."
            seen["models"] = sum(name.startswith(prefix) for name in sys.modules)
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
def test_what_the_first_result_does_not_wait_for_is_not_imported_before_it(
    deskmate_home: Path, demo_pack: Path
) -> None:
    packs = deskmate_home / "data" / "packs"
    packs.mkdir(parents=True)
    shutil.copytree(demo_pack, packs / "demo")
    seen = run_python(FIRST_RESULT_WINDOW, env={"QT_QPA_PLATFORM": "offscreen"})
    assert seen["code"] == 0 and seen["hits"][0] == DAMAGED
    assert seen["imported"] == []
    # PySide6's module check did not keep the ~600 modules' sources (see imports.py); its own
    # start reads some 50 of the standard library's...
    assert seen["sources_kept"] < 150
    # ...and LanceDB imported a few of the namespace client's models, not all 148.
    assert 0 < seen["models"] < 40
