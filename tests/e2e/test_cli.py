"""The real ``deskmate`` command in a subprocess: real packs, embedder, model and policy files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

slow = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
QUESTION = "How do I return a damaged item?"
HEAVY = ("torch", "lancedb", "llama_cpp", "sentence_transformers", "onnxruntime", "PySide6")


def load_json(stdout: str) -> Any:
    return json.loads(stdout)


def assert_one_line_error(result: Any) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deskmate: ")
    return lines[0]


# --- ask ----------------------------------------------------------------------------------------


@slow
def test_ask_json_is_the_sources_sentences_by_default(deskmate: Any, demo_pack: Path) -> None:
    result = deskmate("ask", QUESTION, "--json", "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    answer = load_json(result.stdout)
    assert answer["status"] == "answered" and answer["mode"] == "extractive"
    assert answer["replaced"] is None and "first_token_s" not in answer["timings"]
    assert answer["sources"][0]["source"].startswith("delivery-returns/")
    assert {s["verdict"] for s in answer["sentences"]} == {"supported"}


@slow
def test_ask_json_is_a_cited_grounded_answer(
    deskmate: Any, demo_pack: Path, smollm2_path: Path
) -> None:
    # A model named for the request writes the reply (generation.replies for this request).
    result = deskmate(
        "ask", QUESTION, "--json", "--pack", str(demo_pack), "--model", str(smollm2_path)
    )

    assert result.returncode == 0, result.stderr
    answer = load_json(result.stdout)
    assert answer["status"] == "answered"
    # The model's draft is shown only when every sentence is supported; otherwise it is replaced
    # by the sources' own sentences, and the JSON keeps the model's attempt and why.
    if answer["mode"] == "model":
        assert {s["verdict"] for s in answer["sentences"]} == {"supported"}
    else:
        assert answer["mode"] == "extractive"
        assert answer["replaced"]["draft"] and answer["replaced"]["supported"] < 1.0
        assert "not fully backed by the approved sources" in answer["notice"]
    assert answer["question"] == QUESTION
    assert answer["draft"].strip()
    sources = answer["sources"]
    assert sources
    for number, source in enumerate(sources, start=1):
        assert {"n", "source", "title", "start", "end"} <= source.keys()
        assert source["n"] == number
        assert (DEMO / source["source"]).is_file(), source["source"]
        assert 0 <= source["start"] < source["end"]
    assert sources[0]["source"].startswith("delivery-returns/")
    assert answer["sentences"]
    for sentence in answer["sentences"]:
        assert sentence["verdict"] in {"supported", "unsupported", "no_citation"}
        for cited in sentence["citations"]:
            assert 1 <= cited <= len(sources), sentence
    assert answer["timings"]["retrieval_s"] > 0
    assert answer["timings"]["first_token_s"] > 0


@slow
def test_ask_text_streams_then_lists_sources(
    deskmate: Any, demo_pack: Path, smollm2_path: Path
) -> None:
    result = deskmate("ask", QUESTION, "--pack", str(demo_pack), "--model", str(smollm2_path))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Draft (local model):")
    assert "Sentences:" in out
    assert "[1] Return a damaged or faulty item" in out.split("Sources:", 1)[1]


@slow
def test_ask_empty_question_is_a_one_line_error(deskmate: Any, demo_pack: Path) -> None:
    result = deskmate("ask", "", "--pack", str(demo_pack))

    line = assert_one_line_error(result)
    assert "empty" in line
    assert result.stdout == ""


@slow
def test_ask_with_missing_model_falls_back_to_an_extract(
    deskmate: Any, demo_pack: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent.gguf"
    result = deskmate("ask", QUESTION, "--json", "--model", str(missing), "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    answer = load_json(result.stdout)
    assert answer["status"] == "answered"
    assert answer["mode"] == "extractive"
    assert str(missing) in answer["notice"]
    assert answer["draft"].strip()
    assert answer["sources"]
    assert all(s["verdict"] == "supported" for s in answer["sentences"])


@slow
def test_ask_text_with_missing_model_says_why(
    deskmate: Any, demo_pack: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent.gguf"
    result = deskmate("ask", QUESTION, "--model", str(missing), "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("Draft (extractive")
    assert f"Note: The model file {missing} does not exist" in result.stdout
    assert "Sources:" in result.stdout


@slow
def test_extractive_draft_has_no_bare_or_doubled_citations(
    deskmate: Any, demo_pack: Path, tmp_path: Path
) -> None:
    """Each sentence is real text with its own citation, cited once.

    An extractive draft always ends with a citation, which makes this deterministic.
    """
    result = deskmate(
        "ask", QUESTION, "--json", "--model", str(tmp_path / "none.gguf"), "--pack", str(demo_pack)
    )

    assert result.returncode == 0, result.stderr
    answer = load_json(result.stdout)
    assert not re.search(r"\[(\d+)\]\s*\[\1\]", answer["draft"]), answer["draft"]
    for sentence in answer["sentences"]:
        words = re.sub(r"\[\d+\]", "", sentence["text"])
        assert re.search(r"[A-Za-z]{3}", words), f"not a sentence: {sentence['text']!r}"


# --- search -------------------------------------------------------------------------------------


@slow
def test_search_json_ranks_the_right_article_first(deskmate: Any, demo_pack: Path) -> None:
    result = deskmate("search", "late payment fee", "--json", "--pack", str(demo_pack))

    assert result.returncode == 0, result.stderr
    hits = load_json(result.stdout)
    assert hits
    assert hits[0]["source"] == "billing/late-payment-fees.html"
    for hit in hits:
        assert {
            "source",
            "title",
            "heading",
            "page",
            "start",
            "end",
            "text",
            "score",
            "pack",
        } <= hit.keys()
        assert hit["pack"] == "demo"
        assert hit["text"].strip()
        assert 0 < hit["score"] <= 1
    text = (demo_pack / "docs").glob("*.txt")
    assert any(hits[0]["text"] in doc.read_text(encoding="utf-8") for doc in text)


@slow
def test_search_limit(deskmate: Any, demo_pack: Path) -> None:
    result = deskmate(
        "search", "late payment fee", "--json", "--limit", "2", "--pack", str(demo_pack)
    )

    assert result.returncode == 0, result.stderr
    assert len(load_json(result.stdout)) == 2


@slow
def test_first_run_builds_the_demo_pack(deskmate: Any, deskmate_home: Path) -> None:
    assert not deskmate_home.exists()

    result = deskmate("search", "router lights", "--json")

    assert result.returncode == 0, result.stderr
    assert "Building the demo knowledge pack" in result.stderr
    hits = load_json(result.stdout)
    assert hits
    assert hits[0]["source"] == "devices/router-setup.html"
    assert (deskmate_home / "data" / "packs" / "demo" / "manifest.json").is_file()

    again = deskmate("search", "router lights", "--json")
    assert again.returncode == 0, again.stderr
    assert "Building" not in again.stderr, "a built pack must be reused"
    assert load_json(again.stdout) == hits


# --- doctor -------------------------------------------------------------------------------------


def doctor_checks(result: Any) -> dict[str, dict[str, str]]:
    report = load_json(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert report["ok"] == all(c["status"] != "error" for c in checks.values())
    return checks


def test_doctor_json_reports_every_dependency(deskmate: Any) -> None:
    result = deskmate("doctor", "--json")

    checks = doctor_checks(result)
    assert list(checks) == [
        "model",
        "embedding model",
        "speech model",
        "knowledge",
        "settings and policy",
        "sensitive topics",
        "keyring",
        "last crash",
    ]
    for check in checks.values():
        assert check["status"] in {"ok", "warning", "error"}
        assert check["message"]
        if check["status"] != "ok":
            assert check["fix"], check
    assert checks["model"]["status"] == "ok"
    assert "smollm2" in checks["model"]["message"].lower()
    assert checks["embedding model"]["status"] == "ok"
    # A fresh home has no demo pack yet: a warning that says how to build it.
    assert checks["knowledge"]["status"] == "warning"
    assert "index rebuild" in checks["knowledge"]["fix"]
    assert result.returncode == (0 if load_json(result.stdout)["ok"] else 1)


def test_doctor_reports_a_missing_policy_model(deskmate: Any, policy: Any, tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    policy({"settings": {"model.path": str(missing)}})

    result = deskmate("doctor", "--json")

    assert result.returncode == 1
    checks = doctor_checks(result)
    assert checks["model"]["status"] == "error"
    assert str(missing) in checks["model"]["message"]
    assert checks["model"]["fix"]


@slow
def test_doctor_reports_a_damaged_pack_under_knowledge(
    deskmate: Any, pack_copy: Path, deskmate_home: Path
) -> None:
    assert deskmate("config", "set", "knowledge.demo_enabled", "false").returncode == 0
    installed = deskmate_home / "data" / "packs" / "acme"
    shutil.copytree(pack_copy, installed)
    (installed / "documents.json").write_text("[garbage", encoding="utf-8")

    result = deskmate("doctor", "--json")

    assert result.returncode == 1
    checks = doctor_checks(result)
    assert list(checks) == [
        "model",
        "embedding model",
        "speech model",
        "knowledge",
        "settings and policy",
        "sensitive topics",
        "keyring",
        "last crash",
    ]
    assert checks["knowledge"]["status"] == "error"
    assert str(installed) in checks["knowledge"]["message"]
    assert "rebuild" in checks["knowledge"]["fix"]


# --- config and machine policy ------------------------------------------------------------------


def test_config_shows_policy_locked_values(deskmate: Any, policy: Any) -> None:
    policy({"settings": {"model.max_tokens": 111}})

    result = deskmate("config")

    assert result.returncode == 0, result.stderr
    assert "model.max_tokens = 111  [policy] (locked by policy)" in result.stdout.splitlines()
    assert "model.temperature = 0.2  [default]" in result.stdout.splitlines()


def test_config_set_refuses_a_locked_setting(
    deskmate: Any, policy: Any, deskmate_home: Path
) -> None:
    path = policy({"settings": {"model.max_tokens": 111}})

    result = deskmate("config", "set", "model.max_tokens", "200")

    line = assert_one_line_error(result)
    assert "IT" in line
    assert str(path) in line
    assert not (deskmate_home / "config" / "settings.json").exists()
    assert "model.max_tokens = 111  [policy]" in deskmate("config").stdout


def test_config_set_then_show(deskmate: Any) -> None:
    result = deskmate("config", "set", "model.max_tokens", "200")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "model.max_tokens = 200"
    assert "model.max_tokens = 200  [user]" in deskmate("config").stdout.splitlines()


def test_config_set_unknown_key_suggests_the_right_one(deskmate: Any) -> None:
    line = assert_one_line_error(deskmate("config", "set", "model.max_token", "200"))

    assert "model.max_tokens" in line


def test_unknown_policy_key_is_a_warning(deskmate: Any, policy: Any) -> None:
    path = policy({"settings": {"model.max_tokens": 111, "model.bogus": 1}})

    result = deskmate("config")

    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr
    assert "model.bogus" in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    # The valid part of the policy still applies.
    assert "model.max_tokens = 111  [policy] (locked by policy)" in result.stdout


def test_malformed_policy_is_reported_and_ignored(deskmate: Any, policy: Any) -> None:
    path = policy('{"settings": {"model.max_tokens": 111')

    result = deskmate("config")

    assert result.returncode == 0, result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert "model.max_tokens = 320  [default]" in result.stdout.splitlines()


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["search"],
        ["ask"],
        ["doctor"],
        ["config"],
        ["config", "set"],
        ["config", "reset"],
        ["index"],
        ["index", "rebuild"],
    ],
)
def test_help_works_without_heavy_imports(deskmate: Any, command: list[str]) -> None:
    result = deskmate(*command, "--help", python_options=("-X", "importtime"), timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: deskmate {' '.join(command)}".rstrip() + " ")
    assert "--help" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "click" in imported, "importtime output not captured"
    assert not imported & set(HEAVY), f"--help imported {imported & set(HEAVY)}"


@pytest.mark.slow
def test_ask_json_routes_a_sensitive_case_to_a_person(deskmate: Any, demo_pack: Path) -> None:
    result = deskmate(
        "ask", "I'm going to take you to court over this bill", "--json", "--pack", str(demo_pack)
    )

    assert result.returncode == 0, result.stderr
    answer = load_json(result.stdout)
    assert answer["status"] == "route_to_human"
    assert answer["route"]["topic"] == "legal_threat"
    assert "take you to court" in answer["route"]["reason"]
    assert answer["route"]["rule"].startswith("Rule:")
    assert answer["sources"][0]["source"] == "sensitive/legal-threats-and-formal-complaints.md"
    assert answer["sentences"] == []

    # The text output says the rule once, without the article's own "Rule:" label or a score.
    text = deskmate(
        "ask", "I'm going to take you to court over this bill", "--pack", str(demo_pack)
    )
    assert text.returncode == 0, text.stderr
    assert "Company rule: " in text.stdout and "Rule: Rule:" not in text.stdout
    assert "Company rule: Rule:" not in text.stdout
