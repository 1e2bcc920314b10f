"""Findings of the outside review (issue 11): bad settings, policy, pack and query input is
reported instead of crashing, pack file names stay inside the pack, and feedback stores nothing a
customer wrote."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from desktop.core import feedback, render
from desktop.core.assist import Answer
from desktop.core.errors import KnowledgeError
from desktop.core.generation.verify import Sentence
from desktop.core.knowledge.index import Hit, Pack
from desktop.core.knowledge.search import SearchOptions, search
from desktop.core.paths import Paths
from desktop.core.sensitive import SensitiveDetector, policy_topics
from desktop.core.settings import Settings

DEEP = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
RULE = "Rule: transfer gambling-harm cases to the Extra Care Team."
ORDINARY = "How do I return a damaged item?"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(tmp_path / "etc" / "policies"))
    return Paths.from_env()


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")


# --- 12 (a): deeply nested settings and policy ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"model.threads": ' + DEEP + "}",  # the parser itself gives up
        '{"kept.for.later": ' + "[" * 500 + "]" * 500 + "}",  # parses, but cannot be saved again
    ],
)
def test_deeply_nested_settings_file_is_set_aside_and_defaults_used(
    paths: Paths, text: str
) -> None:
    write(paths.settings_file, text)

    settings = Settings.load(paths)

    [kept] = paths.config.glob("settings.json.broken-*")
    assert kept.read_text(encoding="utf-8") == text
    assert not paths.settings_file.exists()
    [problem] = settings.problems
    assert "nested" in problem and kept.name in problem and "defaults are used" in problem
    assert settings["model.threads"] == 0
    settings.set("model.threads", 2)
    settings.save()  # saving works, and does not touch the copy kept aside
    assert json.loads(paths.settings_file.read_text(encoding="utf-8")) == {"model.threads": 2}


def test_deeply_nested_policy_is_reported_and_ignored(paths: Paths) -> None:
    write(paths.settings_file, {"model.threads": 4})
    write(paths.policy, '{"settings": {"model.threads": 2}, "sensitive_topics": ' + DEEP + "}")

    settings = Settings.load(paths)

    [problem] = settings.problems
    assert str(paths.policy) in problem and "nested" in problem and "refused" in problem
    assert settings["model.threads"] == 4 and not settings.is_locked("model.threads")
    assert settings["generation.enabled"] is False  # fails closed until IT fixes it
    assert policy_topics(settings.machine) == ([], [])


# --- 12 (b, c): sensitive topics in the policy ---------------------------------------------------

BAD_TOPICS = {
    "gambling": {"rule": RULE, "triggers": ["betting", "", "  ", "a", 7], "examples": "not a list"},
    "wrong_triggers": {"rule": RULE, "triggers": 5},
    "no_rule": {"rule": ["not", "text"], "triggers": ["ombudsman"]},
    "not_an_object": "Rule: call the police",
    "only_blank": {"rule": RULE, "triggers": [""]},
}


def test_invalid_policy_sensitive_topics_are_reported_at_load(paths: Paths) -> None:
    write(paths.policy, {"settings": {"model.threads": 2}, "sensitive_topics": BAD_TOPICS})

    settings = Settings.load(paths)

    text = "\n".join(settings.problems)
    for name in ("wrong_triggers", "no_rule", "not_an_object", "only_blank"):
        assert f"sensitive topic {name!r}" in text
    assert "trigger ''" in text and "trigger '  '" in text and "trigger 'a'" in text
    assert '"examples"' in text and '"triggers"' in text
    assert all(str(paths.policy) in problem for problem in settings.problems)
    assert settings.is_locked("model.threads"), "the valid rest of the policy still applies"


def test_invalid_policy_sensitive_topics_are_ignored_not_fatal(paths: Paths) -> None:
    write(paths.policy, {"sensitive_topics": BAD_TOPICS})

    topics, _ = policy_topics(Settings.load(paths).machine)

    assert [(t.name, t.triggers, t.examples) for t in topics] == [("gambling", ("betting",), ())]
    detector = SensitiveDetector(topics, embedder=None)
    assert detector.detect(ORDINARY) is None
    detection = detector.detect("I lost my wages on online betting")
    assert detection is not None and detection.topic.rule == RULE


@pytest.mark.parametrize("trigger", ["", " ", "\t\n", "a", "I", "a b", "!!"])
def test_a_blank_or_tiny_policy_trigger_does_not_route_every_question(
    paths: Paths, trigger: str
) -> None:
    write(paths.policy, {"sensitive_topics": {"x": {"rule": RULE, "triggers": [trigger]}}})

    assert (
        SensitiveDetector(policy_topics(Settings.load(paths).machine)[0], embedder=None).detect(
            ORDINARY
        )
        is None
    )
    assert any(repr(trigger) in problem for problem in Settings.load(paths).problems)


def test_a_valid_policy_topic_is_accepted_without_problems(paths: Paths) -> None:
    topic = {"rule": RULE, "triggers": ["Online  Betting"], "examples": ["I bet my rent away"]}
    write(paths.policy, {"sensitive_topics": {"gambling": topic}})

    assert Settings.load(paths).problems == []
    [found], _ = policy_topics(Settings.load(paths).machine)
    assert found.triggers == ("online betting",)
    assert SensitiveDetector([found], embedder=None).detect("More ONLINE betting again") is not None


# --- 12 (e): a long query with many dashes --------------------------------------------------------


@pytest.fixture(scope="module")
def wifi_pack(tmp_path_factory: pytest.TempPathFactory, embedder) -> Pack:  # type: ignore[no-untyped-def]
    from desktop.core.knowledge.index import build_pack

    src = tmp_path_factory.mktemp("src")
    (src / "wifi.md").write_text(
        "---\ntitle: Wi-Fi errors\n---\n# Error NX-4417\n\nRestart the router to update it.\n",
        encoding="utf-8",
    )
    dest = tmp_path_factory.mktemp("pack") / "p"
    build_pack(src, dest, embedder, pack_id="p")
    return Pack(dest, embedder)


@pytest.mark.slow
def test_a_long_dashed_query_is_searched_in_linear_time(wifi_pack: Pack, embedder) -> None:  # type: ignore[no-untyped-def]
    options = SearchOptions(mode="vector", min_score=0.99)  # only an exact code can pass
    baseline = time.perf_counter()
    search([wifi_pack], embedder, "a-" * 100 + " NX-4417", options)
    short = time.perf_counter() - baseline

    started = time.perf_counter()
    hits = search([wifi_pack], embedder, "a-" * 40_000 + " NX-4417", options)
    spent = time.perf_counter() - started

    # The model reads only the first 256 tokens of either query, so both cost about the same;
    # finding the codes in the 80 KB one took 40 s when it was quadratic.
    assert spent < short + 5, f"{spent:.1f} s for an 80 KB query, {short:.1f} s for a short one"
    assert [hit.source for hit in hits] == ["wifi.md"], "the exact code still matches"


# --- 9: file names from a pack stay inside the pack ----------------------------------------------


def test_original_file_refuses_absolute_names_and_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "originals"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.md").write_text("ok", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    (root / "a" / "link.md").symlink_to(outside)
    (root / "linked-dir").symlink_to(tmp_path)

    assert render.original_file("a/ok.md", [root]) == (root / "a" / "ok.md").resolve()
    for source in (str(outside), "/etc/passwd", "a/link.md", "linked-dir/secret.txt"):
        assert render.original_file(source, [root]) is None, source
        assert render.original_refused(source, [root]), source
    assert not render.original_refused("a/missing.md", [root])


def _point_document_at(pack_dir: Path, source: str, file: str) -> None:
    entries = json.loads((pack_dir / "documents.json").read_text(encoding="utf-8"))
    next(e for e in entries if e["source"] == source)["file"] = file
    (pack_dir / "documents.json").write_text(json.dumps(entries), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_document_reader_refuses_files_outside_the_pack(
    pack_copy: Path, embedder, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret", encoding="utf-8")
    source = "delivery-returns/return-damaged-or-faulty-item.md"
    if how == "absolute":
        _point_document_at(pack_copy, source, str(secret))
    elif how == "dotdot":
        _point_document_at(pack_copy, source, os.path.relpath(secret, pack_copy))
    else:
        entries = json.loads((pack_copy / "documents.json").read_text(encoding="utf-8"))
        file = pack_copy / next(e for e in entries if e["source"] == source)["file"]
        file.unlink()
        file.symlink_to(secret)
    pack = Pack(pack_copy, embedder)

    with pytest.raises(KnowledgeError, match="outside its documents folder") as caught:
        pack.document_text(source)
    assert "secret" not in str(caught.value)
    assert pack.document_text("delivery-returns/missed-delivery-redelivery.html")


# --- 14: feedback stores nothing the customer wrote ---------------------------------------------


def test_feedback_stores_no_question_or_draft_text(tmp_path: Path) -> None:
    question = "My card 4929 1234 5678 ending was charged twice, Mrs Jane Smithson"
    draft = "Sorry Mrs Jane Smithson, the refund for card 4929 goes out today [1]."
    hit = Hit("demo", "billing/refunds.md", "Refunds", "", 0, 10, "Refund text here.", 0.8)
    answer = Answer(
        status="answered",
        question=question,
        draft=draft,
        sources=[hit],
        sentences=[Sentence(draft, [1], "unsupported", "Jane Smithson is not in [1]")],
        route={"topic": "fraud", "reason": f'"{question}" is like "x"', "rule": "r"},
    )

    first = feedback.record(tmp_path, answer, "up")

    stored = (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")
    for words in ("Smithson", "4929", "charged twice", "refund for card", "Jane"):
        assert words not in stored
    entry = feedback.record(tmp_path, answer, "down", {"demo": "3"})
    assert "Smithson" not in (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")
    assert entry["question_chars"] == len(question) and entry["draft_chars"] == len(draft)
    assert first["sources"] == [{"pack": "demo", "version": "", "source": "billing/refunds.md"}]
    assert entry["sources"] == [{"pack": "demo", "version": "3", "source": "billing/refunds.md"}]
    assert entry["verdicts"] == {"unsupported": 1} and entry["route_topic"] == "fraud"
    assert feedback.read_all(tmp_path) == [first, entry]
