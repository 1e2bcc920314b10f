"""A synced version is put in service only if its golden questions still pass on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from synckit import (
    ARTICLES,
    DEMO,
    LOYALTY_QUESTION,
    V1_WORD,
    Workstation,
    loyalty_article,
    roaming_article,
)

from desktop.core.knowledge.build import build_pack
from desktop.core.sync.install import POINTER, resolve_pack_dir
from desktop.core.sync.repo import Repository
from desktop.core.sync.retire import retire_document
from desktop.core.sync.state import packs_root, sync_status

PACK = "goldwind"
LOYALTY = "billing/loyalty-voucher.md"
GOLDEN = [
    {"question": LOYALTY_QUESTION, "article": LOYALTY, "fact": V1_WORD},
    {"question": "What is the capital city of Peru?", "expect": "no_source"},
    {
        "question": "My father passed away last month and I need to close his account.",
        "expect": "route_to_human",
        "topic": "bereavement",
    },
]


def _build(tmp: Path, embedder: Any, version: str, loyalty: bool, roaming: bool) -> Any:
    src = tmp / f"src-{version}"
    for article in ARTICLES:
        (src / article).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO / article, src / article)
    if loyalty:
        (src / LOYALTY).write_text(loyalty_article(V1_WORD), encoding="utf-8")
    if roaming:
        (src / "plans").mkdir(exist_ok=True)
        (src / "plans" / "airship-roaming.md").write_text(roaming_article(), encoding="utf-8")
    (src / "golden.jsonl").write_text("\n".join(json.dumps(q) for q in GOLDEN), encoding="utf-8")
    dest = tmp / f"pack-{version}" / PACK
    report = build_pack(src, dest, embedder, pack_id=PACK, version=version)
    return dest, report


@pytest.fixture(scope="module")
def golden_packs(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> dict[str, Path]:
    """v1 answers its golden questions; v2 lost the article that answers one of them; v3 is v1
    plus an article."""
    tmp = tmp_path_factory.mktemp("golden-packs")
    built = {
        "1": _build(tmp, embedder, "1", loyalty=True, roaming=False),
        "2": _build(tmp, embedder, "2", loyalty=False, roaming=False),
        "3": _build(tmp, embedder, "3", loyalty=True, roaming=True),
    }
    assert built["1"][1].golden["passed"] == 3 and not built["1"][1].golden_shortfall
    assert built["2"][1].golden["passed"] == 2 and built["2"][1].golden_shortfall  # still written
    assert built["3"][1].golden["passed"] == 3
    return {version: folder for version, (folder, _) in built.items()}


def _sync_json() -> tuple[int, dict[str, Any]]:
    """``deskmate sync --json`` as a separate process, in this test's home and policy."""
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "sync", "--json", "--no-progress"],
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    return done.returncode, json.loads(done.stdout)


def _target(report: dict[str, Any], pack: str) -> dict[str, Any]:
    return next(t for t in report["targets"] if t["pack"] == pack)


@pytest.mark.slow
def test_a_version_failing_its_golden_questions_is_refused_and_the_old_one_kept(
    repo: Repository, workstation: Workstation, golden_packs: dict[str, Path]
) -> None:
    repo.publish(golden_packs["1"])
    first = workstation.sync()
    assert first.ok, first.error
    assert workstation.served()[PACK] == "1"

    repo.publish(golden_packs["2"])
    code, report = _sync_json()
    assert code == 1
    target = _target(report, PACK)
    assert (target["version"], target["status"]) == ("2", "refused")
    assert "golden questions: 2 of 3 passed (67%), below the pack's 90%" in target["reason"]
    assert LOYALTY_QUESTION in target["reason"]  # the failed question is named
    assert "The version in service is unchanged" in target["reason"]
    assert report["refused"] == [PACK] and _target(report, "northwind")["status"] == "current"

    assert workstation.served()[PACK] == "1"  # the old version stays in service
    assert V1_WORD in workstation.answer()
    versions = sorted(p.name for p in (packs_root(workstation.paths) / PACK / "versions").iterdir())
    assert len(versions) == 1 and versions[0].startswith("1-")  # no staging left behind
    status = sync_status(workstation.paths, workstation.settings())
    assert "golden questions: 2 of 3 passed" in status.last_error

    repo.publish(golden_packs["3"])
    fixed = workstation.sync()
    assert fixed.ok, fixed.error
    assert [(t.version, t.status) for t in fixed.targets if t.pack == PACK] == [("3", "installed")]
    assert workstation.served()[PACK] == "3"


@pytest.mark.slow
def test_a_good_new_version_installs(
    repo: Repository, workstation: Workstation, golden_packs: dict[str, Path]
) -> None:
    repo.publish(golden_packs["1"])
    assert workstation.sync().ok
    repo.publish(golden_packs["3"])
    report = workstation.sync()
    assert report.ok, report.error
    assert workstation.served()[PACK] == "3"


@pytest.mark.slow
def test_a_refused_first_install_leaves_nothing_behind(
    repo: Repository, workstation: Workstation, golden_packs: dict[str, Path]
) -> None:
    repo.publish(golden_packs["2"])
    report = workstation.sync()
    (target,) = [t for t in report.targets if t.pack == PACK]
    assert target.status == "refused" and "below the pack's 90%" in target.reason
    assert not (packs_root(workstation.paths) / PACK).exists()
    assert PACK not in workstation.served()
    assert workstation.served()["northwind"] == "1"  # the other pack is unaffected


@pytest.mark.slow
def test_a_stricter_workstation_policy_is_what_refuses(
    repo: Repository, workstation: Workstation, golden_packs: dict[str, Path]
) -> None:
    """The questions run with this machine's settings: a search floor IT raised so high that
    nothing is relevant makes the answered question fail here, though it passed at the build."""
    workstation.policy["answer.min_score"] = 0.99
    workstation.set_policy()
    repo.publish(golden_packs["1"])
    report = workstation.sync()
    (target,) = [t for t in report.targets if t.pack == PACK]
    assert target.status == "refused"
    assert "expected answered, got no_source" in target.reason
    assert not (packs_root(workstation.paths) / PACK / POINTER).exists()


@pytest.mark.slow
def test_retiring_the_answering_document_drops_its_questions_so_the_version_installs(
    repo: Repository, workstation: Workstation, golden_packs: dict[str, Path]
) -> None:
    repo.publish(golden_packs["1"])
    assert workstation.sync().ok
    retire_document(repo, PACK, LOYALTY)
    report = workstation.sync()
    assert report.ok, report.error
    assert workstation.served()[PACK] == "2"
    folder = resolve_pack_dir(packs_root(workstation.paths) / PACK)
    assert folder is not None
    golden = [json.loads(line) for line in (folder / "golden.jsonl").read_text().splitlines()]
    assert [q["expect"] for q in golden] == ["no_source", "route_to_human"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["golden"] == {"total": 2, "threshold": 0.9, "retired_questions": 1}
