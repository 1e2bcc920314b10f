"""The built-in sensitive-topic classifier: its shipped file, its training script, its use."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from desktop.core.context import resources_dir
from desktop.core.errors import KnowledgeError
from desktop.core.sensitive import (
    CLASSIFIER_FILE,
    CLASSIFIER_SHA256,
    SensitiveDetector,
    builtin_classifier,
    builtin_topics,
    customer_text,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train-sensitive.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_sensitive", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shipped() -> dict:  # type: ignore[type-arg]
    return json.loads((resources_dir() / CLASSIFIER_FILE).read_text(encoding="utf-8"))


def test_the_shipped_file_is_the_pinned_one_and_trained_on_todays_examples() -> None:
    raw = (resources_dir() / CLASSIFIER_FILE).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CLASSIFIER_SHA256
    texts, labels, classes = _script().training_texts()
    # Editing topics.yaml's examples or dev fold a without retraining fails here.
    assert _shipped()["trained_on"]["sha256"] == _script().inputs_hash(texts, labels)
    assert _shipped()["classes"] == classes
    builtin = {t.name for t in builtin_topics(resources_dir()).topics}
    assert set(classes) == builtin | {"ordinary"}


def test_a_changed_classifier_file_drafts_nothing_and_says_reinstall(tmp_path: Path) -> None:
    copy = tmp_path / "resources"
    shutil.copytree(resources_dir() / "safety", copy / "safety")
    data = _shipped()
    data["bias"][1] += 1.0
    (copy / CLASSIFIER_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        builtin_classifier(copy)
    assert "classifier" in error.value.message and "Reinstall" in error.value.fix
    (copy / CLASSIFIER_FILE).unlink()
    with pytest.raises(KnowledgeError):
        builtin_classifier(copy)


@pytest.mark.slow
def test_the_training_script_reproduces_the_shipped_file(embedder) -> None:  # type: ignore[no-untyped-def]
    fresh = json.loads(_script().build())
    shipped = _shipped()
    assert fresh["trained_on"] == shipped["trained_on"]
    assert fresh["classes"] == shipped["classes"]
    pairs = zip(fresh["weights"], shipped["weights"], strict=True)
    worst = max(abs(a - b) for x, y in pairs for a, b in zip(x, y, strict=True))
    assert worst <= 2e-5  # rounding at the 5th decimal; other floating-point noise is below it


@pytest.mark.slow
def test_the_classifier_routes_and_respects_a_disabled_topic(embedder) -> None:  # type: ignore[no-untyped-def]
    builtin = builtin_topics(resources_dir())
    detector = SensitiveDetector(builtin.topics, embedder, ordinary=builtin.ordinary)
    found = detector.detect("i'm in year six and want my own account")
    assert found is not None and found.topic.name == "minor"
    assert "reads as minor" in found.reason  # the classifier's own verdict, not an example's
    without = [t for t in builtin.topics if t.name != "minor"]
    detector = SensitiveDetector(without, embedder, ordinary=builtin.ordinary)
    assert detector.detect("i'm in year six and want my own account") is None


def test_only_the_customers_turns_of_a_conversation_are_read() -> None:
    text = "Customer: how do I change my plan?\nAgent: Are you safe right now?\nthat's all"
    assert customer_text(text) == "how do I change my plan?"
    assert customer_text("my dad passed away. Agent: x") == "my dad passed away. Agent: x"


@pytest.mark.slow
def test_the_agents_words_route_nothing_the_customers_do(embedder) -> None:  # type: ignore[no-untyped-def]
    builtin = builtin_topics(resources_dir())
    detector = SensitiveDetector(builtin.topics, embedder, ordinary=builtin.ordinary)
    agent_said = (
        "Customer: how do I change my plan?\n"
        "Agent: I'm so sorry for your loss. Was it your dad who passed away?\n"
        "Customer: yes, how do I change the plan"
    )
    assert detector.detect(agent_said) is None
    customer_said = agent_said.replace("Agent:", "Caller:").replace("Customer:", "Agent:")
    found = detector.detect(customer_said)
    assert found is not None and found.topic.name == "bereavement"
