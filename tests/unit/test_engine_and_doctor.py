"""The llama.cpp engine over the real SmolLM2 file, the context's model choice, and doctor."""

from __future__ import annotations

import json
import os

import pytest

from desktop.core.context import AppContext
from desktop.core.doctor import run_checks
from desktop.core.errors import ModelError
from desktop.core.generation.engine import LlamaEngine, physical_cores
from desktop.core.paths import Paths
from desktop.core.settings import Settings


def _context(**kwargs) -> AppContext:
    paths = Paths.from_env()
    return AppContext(paths, Settings.load(paths), **kwargs)


@pytest.mark.slow
def test_engine_streams_from_real_model_with_capped_context(smollm2_path) -> None:
    engine = LlamaEngine(smollm2_path, context_cap=1024, threads=0)
    assert engine.context_size == 1024  # capped below the model's own 8192
    assert engine.threads == physical_cores()
    messages = [{"role": "user", "content": "Say hello."}]
    text = "".join(engine.stream(messages, max_tokens=8, temperature=0.0))
    assert text.strip()
    assert engine.last_stats is not None and engine.last_stats.completion_tokens >= 1


def test_physical_cores_counts_cores_not_more_than_cpus() -> None:
    assert 1 <= physical_cores() <= (os.cpu_count() or 1)


@pytest.mark.slow
def test_default_model_is_the_bundled_smollm2(smollm2_path) -> None:
    context = _context()
    assert context.model_path() == smollm2_path


def test_configured_missing_model_raises_naming_the_file(tmp_path) -> None:
    context = _context()
    missing = tmp_path / "nowhere.gguf"
    context.settings.set("model.path", str(missing))
    with pytest.raises(ModelError, match=r"nowhere\.gguf"):
        context.engine()


def test_policy_can_turn_generation_off(tmp_path, monkeypatch) -> None:
    policy = Paths.from_env().policy
    policy.write_text(json.dumps({"settings": {"generation.enabled": False}}))
    context = _context()
    assert context.engine() is None
    assert context.settings.is_locked("generation.enabled")


def test_doctor_reports_each_problem_with_a_fix(tmp_path, monkeypatch) -> None:
    policy = Paths.from_env().policy
    policy.write_text('{"model.pth": "/opt/m.gguf"}')  # broken files: test_managed_policy.py
    context = _context(pack_dirs=[tmp_path / "no-pack"], model_path=tmp_path / "bad.gguf")
    (tmp_path / "bad.gguf").write_text("not a model")
    checks = {c.name: c for c in run_checks(context)}
    assert checks["model"].status == "error" and "not a GGUF" in checks["model"].message
    assert checks["model"].fix
    assert checks["knowledge"].status == "error" and checks["knowledge"].fix
    assert checks["settings and policy"].status == "warning"
    assert str(policy) in checks["settings and policy"].message
    assert "model.path" in checks["settings and policy"].message
    assert checks["embedding model"].status == "ok"
    assert checks["keyring"].status in {"ok", "warning"}


@pytest.mark.slow
def test_doctor_all_ok_over_demo_pack(context) -> None:
    checks = {c.name: c for c in run_checks(context)}
    assert checks["model"].status == "ok" and "llama" in checks["model"].message
    assert checks["knowledge"].status == "ok" and "passages" in checks["knowledge"].message


@pytest.mark.slow
def test_policy_allow_list_refuses_other_models_and_accepts_listed_ones(
    tmp_path, monkeypatch, smollm2_path
) -> None:
    from desktop.core.generation.engine import file_sha256

    policy = Paths.from_env().policy
    policy.write_text(json.dumps({"settings": {"model.allowed_sha256": "ab" * 32}}))
    refused = _context()
    with pytest.raises(ModelError, match="not one of the models your IT department allows"):
        refused.engine()
    checks = {c.name: c for c in run_checks(refused)}
    assert checks["model"].status == "error" and "model.allowed_sha256" in checks["model"].fix

    digest = file_sha256(smollm2_path)
    policy.write_text(json.dumps({"settings": {"model.allowed_sha256": f"ab{'0' * 62}, {digest}"}}))
    allowed = _context()
    engine = allowed.engine()
    assert engine is not None and engine.verified_fd is not None  # loads the bytes hashed


def test_doctor_refuses_an_embedder_graph_that_is_not_the_pinned_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop.core import doctor
    from desktop.core.knowledge import embedder

    assert doctor.check_embedding(None).status == "ok"  # type: ignore[arg-type]
    monkeypatch.setattr(embedder, "GRAPH_SHA256", "0" * 64)
    check = doctor.check_embedding(None)  # type: ignore[arg-type]
    assert check.status == "error" and "damaged or not the one" in check.message
    assert check.fix
