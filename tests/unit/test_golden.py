"""Golden questions: parsing, the run over a real pack, and what `pack build` records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop.core.errors import KnowledgeError
from desktop.core.knowledge.build import build_pack
from desktop.core.knowledge.golden import (
    GOLDEN_FILE,
    GoldenQuestion,
    check_pack,
    parse_golden,
    read_golden,
)

ROOT = Path(__file__).resolve().parents[2]

ARTICLES = {
    "billing/loyalty-voucher.md": (
        "---\ntitle: Loyalty anniversary voucher\ncategory: billing\n---\n\n"
        "# Loyalty anniversary voucher\n\nCustomers with five years of service receive an "
        "anniversary voucher. The loyalty reward code word for the anniversary voucher is "
        "MARIGOLD. Agents read the code word to the customer and add the voucher to the account.\n"
    ),
    "devices/router-lights.md": (
        "---\ntitle: Router lights\ncategory: devices\n---\n\n# What the router lights mean\n\n"
        "A solid green light means the router is online. A flashing amber light means the "
        "router is updating its firmware: ask the customer to leave it switched on for ten "
        "minutes.\n"
    ),
    "delivery/parcel-lockers.md": (
        "---\ntitle: Parcel lockers\ncategory: delivery\n---\n\n# Parcel lockers\n\n"
        "Orders can be sent to a parcel locker. The locker keeps the parcel for 72 hours; after "
        "that it goes back to our warehouse and the customer is refunded.\n"
    ),
}
ANSWERED = {
    "question": "What is the loyalty reward code word for the anniversary voucher?",
    "article": "billing/loyalty-voucher.md",
    "fact": "MARIGOLD",
}
NO_SOURCE = {"question": "What is the capital city of Peru?", "expect": "no_source"}
ROUTE = {
    "question": "My father passed away last month and I need to close his account.",
    "expect": "route_to_human",
    "topic": "bereavement",
}
LOCKER = {
    "question": "How long does a parcel locker keep the parcel?",
    "article": "delivery/parcel-lockers.md",
    "fact": "72 hours",
}


def write_source(folder: Path, questions: list[dict[str, Any]], drop: str = "") -> Path:
    for name, text in ARTICLES.items():
        if name != drop:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
    lines = "\n".join(json.dumps(q) for q in questions) + "\n"
    (folder / GOLDEN_FILE).write_text(lines, encoding="utf-8")
    return folder


# --- parsing ---------------------------------------------------------------------------------


def test_a_good_file_parses_with_defaults_and_skips_blank_lines() -> None:
    text = json.dumps(ANSWERED) + "\n\n" + json.dumps(NO_SOURCE) + "\n" + json.dumps(ROUTE)
    questions = parse_golden(text)
    assert questions == [
        GoldenQuestion(1, ANSWERED["question"], "answered", ANSWERED["article"], "MARIGOLD"),
        GoldenQuestion(3, NO_SOURCE["question"], "no_source"),
        GoldenQuestion(4, ROUTE["question"], "route_to_human", topic="bereavement"),
    ]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "a JSON object {...} is expected, not list"),
        ('{"expect": "no_source"}', "the 'question' field is missing"),
        ('{"question": "Q?", "expect": "answerd", "article": "a.md"}', "not 'answerd'"),
        ('{"question": "Q?"}', "needs the 'article'"),
        ('{"question": "Q?", "artcle": "a.md"}', "field 'artcle' (did you mean 'article'?)"),
        ('{"question": "", "article": "a.md"}', "'question' must be a non-empty string"),
        ('{"question": "Q?", "article": 3}', "'article' must be a non-empty string, not 3"),
        ('{"question": "Q?", "expect": "no_source", "article": "a.md"}', "'article' is only"),
        ('{"question": "Q?", "article": "a.md", "topic": "fraud"}', "'topic' is only used"),
        ('{"question": "Q?", "article": "../secrets.md"}', "a path inside the pack"),
    ],
)
def test_a_bad_line_is_named_with_what_is_wrong(line: str, says: str) -> None:
    text = json.dumps(NO_SOURCE) + "\n" + line + "\n"
    with pytest.raises(KnowledgeError) as caught:
        parse_golden(text, "src/golden.jsonl")
    assert caught.value.message.startswith("src/golden.jsonl line 2: ")
    assert says in caught.value.message
    assert "one JSON object" in caught.value.fix


def test_a_file_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    (tmp_path / GOLDEN_FILE).write_text(json.dumps(NO_SOURCE) + "\n", encoding="utf-8-sig")
    assert read_golden(tmp_path / GOLDEN_FILE)[0].expect == "no_source"


def test_an_empty_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="holds no golden questions"):
        parse_golden("\n \n")
    (tmp_path / GOLDEN_FILE).write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(KnowledgeError, match="not UTF-8"):
        read_golden(tmp_path / GOLDEN_FILE)


@pytest.mark.slow
def test_a_bad_golden_file_stops_the_build_before_anything_is_written(
    tmp_path: Path, embedder: Any
) -> None:
    src = write_source(tmp_path / "src", [ANSWERED])
    (src / GOLDEN_FILE).write_text('{"question": "Q?", "expect": "maybe"}\n', encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"golden\.jsonl line 1"):
        build_pack(src, tmp_path / "pack", embedder, pack_id="p")
    assert not (tmp_path / "pack").exists()


# --- building and running --------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[Path, Any]:
    """A pack with one golden question per expectation, and one that cannot pass."""
    tmp = tmp_path_factory.mktemp("golden")
    missing = {**LOCKER, "article": "delivery/not-in-the-pack.md"}
    src = write_source(tmp / "src", [ANSWERED, NO_SOURCE, ROUTE, LOCKER, missing])
    report = build_pack(src, tmp / "pack", embedder, pack_id="gold", golden_threshold=0.75)
    return tmp / "pack", report


@pytest.mark.slow
def test_the_build_records_the_pass_rate_and_threshold_in_the_manifest(
    built: tuple[Path, Any],
) -> None:
    pack, report = built
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["golden"] == {"total": 5, "passed": 4, "pass_rate": 0.8, "threshold": 0.75}
    results = {r["question"]: r for r in report.golden["results"]}
    assert all(results[q["question"]]["passed"] for q in (ANSWERED, NO_SOURCE, ROUTE))
    failed = [r for r in report.golden["results"] if not r["passed"]]
    assert [r["line"] for r in failed] == [5]
    assert "delivery/not-in-the-pack.md is not among the sources" in failed[0]["reason"]
    assert report.golden_shortfall == ""  # 80% >= 75%
    stored = json.loads((pack / "build-report.json").read_text(encoding="utf-8"))
    assert stored["golden"]["results"][4]["passed"] is False


@pytest.mark.slow
def test_golden_jsonl_is_shipped_and_checksummed_but_never_indexed(built: tuple[Path, Any]) -> None:
    pack, _ = built
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    source = (pack.parent / "src" / GOLDEN_FILE).read_bytes()
    assert (pack / GOLDEN_FILE).read_bytes() == source
    assert GOLDEN_FILE in manifest["files"]
    documents = json.loads((pack / "documents.json").read_text(encoding="utf-8"))
    assert sorted(d["source"] for d in documents) == sorted(ARTICLES)
    assert manifest["documents"] == len(ARTICLES)


@pytest.mark.slow
def test_the_run_judges_every_expectation_over_the_real_pipeline(
    built: tuple[Path, Any], embedder: Any
) -> None:
    pack, _ = built
    wrong = [
        {**ANSWERED, "fact": "TANGERINE"},  # the article answers, the fact is not there
        {**ANSWERED, "article": "devices/router-lights.md"},  # another article answers
        {**NO_SOURCE, "question": ANSWERED["question"]},  # it is answered
        {**ROUTE, "topic": "fraud"},  # routed for another topic
        {**ROUTE, "question": NO_SOURCE["question"]},  # not sensitive
    ]
    questions = parse_golden("\n".join(json.dumps(q) for q in wrong))
    from desktop.core.knowledge.golden import run_golden

    report = run_golden(pack, questions, embedder)
    reasons = [r.reason for r in report.results]
    assert report.passed == 0, reasons
    assert "does not contain 'TANGERINE'" in reasons[0]
    assert "devices/router-lights.md is not among the sources" in reasons[1]
    assert reasons[2] == "expected no_source, got answered"
    assert reasons[3] == "routed for the topic 'bereavement', not 'fraud'"
    assert reasons[4].startswith("expected route_to_human, got no_source")


@pytest.mark.slow
def test_the_run_never_loads_a_model_even_when_generation_is_on(
    built: tuple[Path, Any], embedder: Any, tmp_path: Path
) -> None:
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("generation.enabled", True)
    settings.set("model.path", str(tmp_path / "no-such-model.gguf"))  # would fail if loaded
    outcome = check_pack(built[0], embedder, paths, settings)
    assert outcome is not None
    report, threshold = outcome
    assert (report.passed, report.total, threshold) == (4, 5, 0.75)


@pytest.mark.slow
def test_a_new_threshold_reruns_the_questions_of_an_unchanged_folder(
    built: tuple[Path, Any], embedder: Any, tmp_path: Path
) -> None:
    import shutil

    pack = tmp_path / "pack"
    shutil.copytree(built[0], pack)
    shutil.copytree(built[0].with_name(".pack.vectors"), pack.with_name(".pack.vectors"))
    src = built[0].parent / "src"
    same = build_pack(src, pack, embedder, pack_id="gold", golden_threshold=0.75)
    assert same.unchanged and same.golden is not None and same.golden["passed"] == 4
    stricter = build_pack(src, pack, embedder, pack_id="gold", golden_threshold=0.9)
    assert not stricter.unchanged and stricter.embedded_chunks == 0
    assert "4 of 5 passed (80%), below the threshold 90%" in stricter.golden_shortfall
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["golden"]["threshold"] == 0.9


@pytest.mark.slow
def test_pack_build_below_the_threshold_writes_the_pack_and_exits_1(
    built: tuple[Path, Any], tmp_path: Path
) -> None:
    """The CLI, as a knowledge admin runs it: the pack is there to inspect, the exit code is 1."""
    src = built[0].parent / "src"
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "desktop", "pack", "build", str(src), "--out"]
    done = subprocess.run(
        [*command, str(out), "--id", "gold", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr
    assert "Golden questions: 4 of 5 passed (80%; threshold 90%)" in done.stdout
    assert "failed (line 5)" in done.stdout
    assert "below the threshold 90%. Do not publish this pack" in done.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["golden"]["pass_rate"] == 0.8
    ok = subprocess.run(
        [*command, str(out), "--id", "gold", "--golden-threshold", "0.8", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["refused"] == ""
