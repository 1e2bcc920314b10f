"""Incremental, resumable pack builds and the manifest, with the real embedder and LanceDB."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from desktop.core.knowledge import build
from desktop.core.knowledge.build import build_pack
from desktop.core.knowledge.index import Pack
from desktop.core.knowledge.search import hybrid_search


class Interrupted(Exception):
    pass


def _write_articles(folder: Path, count: int, words: int = 120) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        body = " ".join(f"topic{number} detail{i % 17} word{i}" for i in range(words // 3))
        (folder / f"article-{number:03d}.md").write_text(
            f"---\ntitle: Article {number}\n---\n# Article {number}\n\n{body}.\n", encoding="utf-8"
        )


@pytest.mark.slow
def test_manifest_records_model_counts_and_file_checksums(tmp_path: Path, embedder) -> None:
    src = tmp_path / "src"
    _write_articles(src, 3)
    report = build_pack(src, tmp_path / "pack", embedder, pack_id="kb", title="KB", version="7")
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert manifest["id"] == "kb" and manifest["title"] == "KB" and manifest["version"] == "7"
    assert manifest["schema_version"] == build.SCHEMA_VERSION
    assert manifest["embedding"]["model"] == embedder.model_id
    assert manifest["embedding"]["dimension"] == 384
    assert manifest["embedding"]["weights_sha256"] == embedder.weights_hash()
    assert manifest["documents"] == 3 and manifest["chunks"] == report.chunks
    expected = hashlib.sha256((src / "article-001.md").read_bytes()).hexdigest()
    assert manifest["files"]["article-001.md"] == expected
    saved = json.loads((tmp_path / "pack" / "build-report.json").read_text())
    assert saved["chunks"] == report.chunks and set(saved["phases"]) == {
        "read_and_chunk_s",
        "embed_s",
        "write_and_index_s",
    }


@pytest.mark.slow
def test_unchanged_rebuild_does_no_work_and_changed_file_alone_is_embedded(
    tmp_path: Path, embedder
) -> None:
    src, dest = tmp_path / "src", tmp_path / "pack"
    _write_articles(src, 4)
    first = build_pack(src, dest, embedder, pack_id="kb")
    assert first.embedded_chunks == first.chunks and first.reused_chunks == 0

    again = build_pack(src, dest, embedder, pack_id="kb")
    assert again.unchanged and again.chunks == first.chunks

    (src / "article-002.md").write_text("---\ntitle: Refunds\n---\nRefunds take 5 days.\n")
    changed = build_pack(src, dest, embedder, pack_id="kb")
    assert not changed.unchanged
    assert changed.embedded_chunks == 1  # only the edited article
    assert changed.reused_chunks == changed.chunks - 1
    hits = hybrid_search([Pack(dest, embedder)], embedder, "how long until my refund?")
    assert hits[0].source == "article-002.md"


@pytest.mark.slow
def test_interrupted_build_resumes_without_redoing_finished_work(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dest = tmp_path / "src", tmp_path / "pack"
    _write_articles(src, 12, words=600)
    monkeypatch.setattr(build, "EMBED_BLOCK", 8)  # several blocks, so it can stop half-way

    def stop_after_first_block(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done < total:
            raise Interrupted

    with pytest.raises(Interrupted):
        build_pack(src, dest, embedder, pack_id="kb", progress=stop_after_first_block)
    assert not dest.exists()  # nothing half-written where readers look

    resumed = build_pack(src, dest, embedder, pack_id="kb")
    assert 0 < resumed.reused_chunks < resumed.chunks
    assert resumed.embedded_chunks == resumed.chunks - resumed.reused_chunks
    assert Pack(dest, embedder).manifest["chunks"] == resumed.chunks


def test_pack_build_cli_reports_skipped_files_and_is_fast_when_unchanged(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    src = tmp_path / "src"
    _write_articles(src, 2)
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    command = [
        sys.executable,
        "-m",
        "desktop",
        "pack",
        "build",
        str(src),
        "--out",
        str(tmp_path / "out"),
        "--title",
        "Test pack",
        "--json",
    ]
    env = dict(os.environ)
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["documents"] == 2 and not report["unchanged"]
    assert report["skipped"] == [{"source": "broken.pdf", "reason": report["skipped"][0]["reason"]}]
    assert "damaged" in report["skipped"][0]["reason"]
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert json.loads(second.stdout)["unchanged"] is True
    info = subprocess.run(
        [sys.executable, "-m", "desktop", "pack", "info", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(info.stdout)["title"] == "Test pack"


@pytest.mark.slow
def test_pack_built_with_other_embedding_weights_is_refused(tmp_path: Path, embedder) -> None:
    from desktop.core.errors import KnowledgeError

    src = tmp_path / "src"
    _write_articles(src, 1)
    build_pack(src, tmp_path / "pack", embedder, pack_id="kb")
    manifest_path = tmp_path / "pack" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedding"]["weights_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(KnowledgeError, match="different weights"):
        Pack(tmp_path / "pack", embedder)
