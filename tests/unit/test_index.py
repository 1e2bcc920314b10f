"""Knowledge packs on disk (real LanceDB) and hybrid search with the real embedding model."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import NoReturn

import pytest

from desktop.core.errors import KnowledgeError
from desktop.core.knowledge.embedder import Embedder
from desktop.core.knowledge.index import BuildReport, Hit, Pack, build_pack
from desktop.core.knowledge.search import hybrid_search

LATE_FEES_MD = """\
---
title: Late payment fees
category: billing
tags: [billing, fees]
---

# Late payment fees

Your payment is due 14 days after your bill date.

## When the fee is charged

If we have not received the full amount 7 days after the due date, we add a £4.99
late-payment fee to your next bill. We charge at most one late-payment fee per bill.

## Getting a fee removed

We may remove the fee once in any 12-month period if it was the first time you paid late.
"""

ROUTER_HTML = """\
<!DOCTYPE html>
<html><head><title>Router lights | Northwind Help</title>
<meta name="category" content="devices"></head>
<body>
<nav><a href="/">Home</a> <a href="/billing">Billing</a></nav>
<main><article>
<h1>What the router lights mean</h1>
<p>A solid white light means the router is connected to the internet.</p>
<h2>Amber light</h2>
<p>A flashing amber light means the router has lost its broadband signal. Check that the grey
cable is in the port marked DSL, then turn the router off for 30 seconds.</p>
<h2>Factory reset</h2>
<p>Press and hold the pinhole reset button on the back for 15 seconds to restore the factory
settings. Your Wi-Fi name and password go back to the ones on the sticker.</p>
</article></main>
<footer>Copyright Northwind</footer>
</body></html>
"""

HOURS_TXT = """\
Northwind stores are open from 9am to 6pm, Monday to Saturday.
On Sundays and bank holidays our stores open from 10am to 4pm.
"""


SmallPack = tuple[Path, BuildReport]


def write_sources(folder: Path) -> Path:
    files = {
        "billing/late-fees.md": LATE_FEES_MD,
        "devices/router-lights.html": ROUTER_HTML,
        "stores/opening-hours.txt": HOURS_TXT,
        "README.md": "# About this folder\n\nNot an article.\n",
        ".drafts/unfinished.md": "# Draft\n\nNot published.\n",
        "empty.md": "",
    }
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "billing" / "scan.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return folder


@pytest.fixture(scope="module")
def small_pack(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[Path, BuildReport]:
    """A pack built once from three good documents and two bad files."""
    root = tmp_path_factory.mktemp("small")
    report = build_pack(
        write_sources(root / "src"),
        root / "packs" / "small",
        embedder,
        pack_id="small",
        title="Small pack",
    )
    return root / "packs" / "small", report


@pytest.fixture
def pack(small_pack: SmallPack, embedder: Embedder) -> Pack:
    return Pack(small_pack[0], embedder)


def top_sources(pack: Pack, embedder: Embedder, query: str, **kwargs: int) -> list[str]:
    return [hit.source for hit in hybrid_search([pack], embedder, query, **kwargs)]


def assert_hits_point_into_their_documents(pack: Pack, hits: list[Hit]) -> None:
    for hit in hits:
        text = pack.document_text(hit.source)
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end].strip() == hit.text, hit


# Building


@pytest.mark.slow
def test_build_report_lists_bad_files_with_reasons_and_builds_the_rest(
    small_pack: SmallPack,
) -> None:
    path, report = small_pack

    assert report.documents == 3
    assert report.chunks >= 3
    skipped = dict(report.skipped)
    assert set(skipped) == {"billing/scan.md", "empty.md"}
    assert "binary" in skipped["billing/scan.md"]
    assert "empty" in skipped["empty.md"]
    # The report is saved with the pack, and the manifest agrees with it.
    saved = json.loads((path / "build-report.json").read_text(encoding="utf-8"))
    assert {s["source"] for s in saved["skipped"]} == set(skipped)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["id"], manifest["title"]) == ("small", "Small pack")
    assert (manifest["documents"], manifest["chunks"]) == (report.documents, report.chunks)


@pytest.mark.slow
def test_pack_holds_the_readable_documents_only(pack: Pack) -> None:
    assert pack.id == "small" and pack.title == "Small pack"
    assert pack.document_text("stores/opening-hours.txt") == HOURS_TXT
    assert "Factory reset" in pack.document_text("devices/router-lights.html")
    assert "Copyright" not in pack.document_text("devices/router-lights.html")
    assert pack.document_meta("billing/late-fees.md")["tags"] == ["billing", "fees"]
    for left_out in ("README.md", ".drafts/unfinished.md", "empty.md", "billing/scan.md"):
        with pytest.raises(KnowledgeError, match="No document"):
            pack.document_text(left_out)


@pytest.mark.slow
def test_missing_source_folder_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(KnowledgeError, match="No folder at"):
        build_pack(tmp_path / "nowhere", tmp_path / "pack", embedder, pack_id="x")
    assert not (tmp_path / "pack").exists()


# Searching


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("What do you charge if my bill is paid a week late?", "billing/late-fees.md"),
        ("My broadband box is blinking orange, what's wrong?", "devices/router-lights.html"),
        ("When can I visit a shop on a Sunday?", "stores/opening-hours.txt"),
    ],
)
def test_paraphrased_question_finds_the_right_document_first(
    pack: Pack,
    embedder: Embedder,
    question: str,
    source: str,
) -> None:
    hits = hybrid_search([pack], embedder, question)

    assert hits and hits[0].source == source
    assert hits[0].pack == "small"
    assert_hits_point_into_their_documents(pack, hits)


@pytest.mark.slow
def test_hit_carries_title_heading_and_category(pack: Pack, embedder: Embedder) -> None:
    [hit, *_] = hybrid_search([pack], embedder, "How do I restore the router's factory settings?")

    assert (hit.source, hit.title, hit.heading, hit.category) == (
        "devices/router-lights.html",
        "What the router lights mean",
        "Factory reset",
        "devices",
    )
    assert "pinhole reset button" in hit.text
    assert 0.3 <= hit.score <= 1.0
    assert hit.to_json()["start"] == hit.start


@pytest.mark.slow
@pytest.mark.parametrize("query", ["chocolate cake recipe", "Who won the football world cup?"])
def test_question_about_something_absent_returns_nothing(
    pack: Pack, embedder: Embedder, query: str
) -> None:
    assert hybrid_search([pack], embedder, query) == []


@pytest.mark.slow
@pytest.mark.parametrize("query", ["", "   ", "?!"])
def test_empty_or_wordless_query_does_not_fail(pack: Pack, embedder: Embedder, query: str) -> None:
    assert hybrid_search([pack], embedder, query) == []


@pytest.mark.slow
def test_hits_per_document_are_capped(demo_pack: Path, embedder: Embedder) -> None:
    pack = Pack(demo_pack, embedder)
    query = "late payment fee"

    uncapped = Counter(top_sources(pack, embedder, query, limit=20, per_document=20))
    capped = Counter(top_sources(pack, embedder, query, limit=20, per_document=2))
    single = Counter(top_sources(pack, embedder, query, limit=20, per_document=1))

    assert max(uncapped.values()) > 2, "the query must match one document several times"
    assert max(capped.values()) == 2
    assert max(single.values()) == 1
    assert len(single) > 1


@pytest.mark.slow
def test_limit_caps_the_number_of_hits(demo_pack: Path, embedder: Embedder) -> None:
    pack = Pack(demo_pack, embedder)

    assert len(hybrid_search([pack], embedder, "How do I pay my bill?", limit=3)) == 3


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("How much is the late payment fee?", "billing/late-payment-fees.html"),
        (
            "What's the excess for a cracked screen on Device Cover?",
            "devices/device-insurance-claims.html",
        ),
        (
            "The customer forgot their password and can't log in",
            "account-access/reset-your-password.md",
        ),
        ("Can I keep my number if I switch to Northwind?", "plans/port-your-number.md"),
    ],
)
def test_demo_questions_find_their_article_first(
    demo_pack: Path,
    embedder: Embedder,
    question: str,
    source: str,
) -> None:
    pack = Pack(demo_pack, embedder)

    hits = hybrid_search([pack], embedder, question)

    assert hits[0].source == source
    assert_hits_point_into_their_documents(pack, hits)


@pytest.mark.slow
def test_demo_hits_carry_the_article_category(demo_pack: Path, embedder: Embedder) -> None:
    pack = Pack(demo_pack, embedder)

    [hit, *_] = hybrid_search([pack], embedder, "How much is the late payment fee?")

    assert hit.category == "billing"
    assert "£4.99" in hit.text


@pytest.mark.slow
def test_search_spans_several_packs(
    small_pack: SmallPack, demo_pack: Path, embedder: Embedder
) -> None:
    packs = [Pack(small_pack[0], embedder), Pack(demo_pack, embedder)]

    hits = hybrid_search(packs, embedder, "When are the stores open on Sundays?")

    assert (hits[0].pack, hits[0].source) == ("small", "stores/opening-hours.txt")


@pytest.mark.slow
def test_hybrid_keeps_the_right_passage_when_keywords_point_elsewhere(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """An error code also used as an accessory code: keyword search alone is fooled by it."""
    articles = {
        "hub-fault.md": (
            "Hub fault NX-4417",
            "If the hub display shows NX-4417, the fibre line "
            "to your home is down. Wait 30 minutes, then restart the hub.",
        ),
        "accessory-codes.md": (
            "Accessory codes",
            "Accessory code NX-4417 is the wall mount kit. "
            "Order NX-4417 with code NX-4417 at checkout.",
        ),
        "no-internet.md": (
            "No internet connection",
            "If your broadband stops working and the "
            "connection keeps dropping, restart your router and check the cables.",
        ),
        "sim.md": ("SIM cards", "A replacement SIM card arrives in two working days."),
    }
    src = tmp_path / "src"
    src.mkdir()
    for name, (title, body) in articles.items():
        (src / name).write_text(f"---\ntitle: {title}\n---\n\n{body}\n", encoding="utf-8")
    build_pack(src, tmp_path / "pack", embedder, pack_id="codes")
    pack = Pack(tmp_path / "pack", embedder)
    query = "My internet is down and the box says NX-4417"

    keyword_only = [row["source"] for row in pack.keyword_search(query, 10)]
    hybrid = top_sources(pack, embedder, query)

    assert keyword_only[0] == "accessory-codes.md"
    assert hybrid[0] == "hub-fault.md"


# Rebuilding


@pytest.mark.slow
def test_rebuild_replaces_the_pack_and_leaves_no_staging_behind(
    tmp_path: Path, embedder: Embedder
) -> None:
    src = write_sources(tmp_path / "src")
    dest = tmp_path / "packs" / "p"
    build_pack(src, dest, embedder, pack_id="p")
    (src / "stores" / "opening-hours.txt").write_text(
        "Stores now open from 8am to 8pm every day, including Sundays.\n", encoding="utf-8"
    )
    (src / "devices" / "router-lights.html").unlink()

    report = build_pack(src, dest, embedder, pack_id="p", version="2")

    assert report.documents == 2
    pack = Pack(dest, embedder)
    assert pack.version == "2"
    assert "8am to 8pm" in pack.document_text("stores/opening-hours.txt")
    hits = hybrid_search([pack], embedder, "When are the stores open on Sundays?")
    assert hits[0].source == "stores/opening-hours.txt" and "8am to 8pm" in hits[0].text
    assert "devices/router-lights.html" not in top_sources(pack, embedder, "router amber light")
    leftovers = {p.name for p in dest.parent.iterdir()} - {"p"}
    assert not any(name.endswith((".building", ".old")) for name in leftovers), leftovers


@pytest.mark.slow
def test_failed_rebuild_leaves_the_existing_pack_intact(
    small_pack: SmallPack, tmp_path: Path, embedder: Embedder
) -> None:
    dest = tmp_path / "small"
    shutil.copytree(small_pack[0], dest)
    manifest_before = (dest / "manifest.json").read_bytes()
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "empty.md").write_text("")
    (unreadable / "photo.md").write_bytes(b"\x00\x01\x02binary")
    (unreadable / "manual.pdf.bak").write_text("not a supported type")

    with pytest.raises(KnowledgeError, match="No readable documents"):
        build_pack(unreadable, dest, embedder, pack_id="small")

    assert (dest / "manifest.json").read_bytes() == manifest_before
    pack = Pack(dest, embedder)
    assert (
        top_sources(pack, embedder, "When can I visit a shop on a Sunday?")[0]
        == "stores/opening-hours.txt"
    )


class _BrokenEmbedder:
    """The real embedder, except that embedding fails (as a crash or full disk would)."""

    def __init__(self, real: Embedder) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def embed(self, texts: list[str], batch_size: int = 64) -> NoReturn:
        raise RuntimeError("embedding failed part-way")


@pytest.mark.slow
def test_build_failing_part_way_leaves_the_existing_pack_intact(
    small_pack: SmallPack, tmp_path: Path, embedder: Embedder
) -> None:
    dest = tmp_path / "packs" / "small"
    shutil.copytree(small_pack[0], dest)
    src = write_sources(tmp_path / "src")
    (src / "stores" / "new-article.md").write_text("# Gift cards\n\nGift cards never expire.\n")

    with pytest.raises(RuntimeError, match="part-way"):
        build_pack(src, dest, _BrokenEmbedder(embedder), pack_id="small")

    pack = Pack(dest, embedder)
    assert (
        top_sources(pack, embedder, "When can I visit a shop on a Sunday?")[0]
        == "stores/opening-hours.txt"
    )
    with pytest.raises(KnowledgeError):
        pack.document_text("stores/new-article.md")


# Opening damaged or incompatible packs


def edit_manifest(pack: Path, **changes: object) -> None:
    path = pack / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.slow
def test_pack_built_with_another_embedding_model_is_refused(
    pack_copy: Path, embedder: Embedder
) -> None:
    edit_manifest(pack_copy, embedding={"model": "BAAI/bge-small-en-v1.5", "dimension": 384})

    with pytest.raises(KnowledgeError) as caught:
        Pack(pack_copy, embedder)

    message = str(caught.value)
    assert "embedding model" in message
    assert "BAAI/bge-small-en-v1.5" in message and embedder.model_id in message
    assert "Rebuild" in caught.value.fix


@pytest.mark.slow
def test_pack_with_another_schema_version_is_refused(pack_copy: Path, embedder: Embedder) -> None:
    edit_manifest(pack_copy, schema_version=99)

    with pytest.raises(KnowledgeError, match="format version 99"):
        Pack(pack_copy, embedder)


@pytest.mark.slow
def test_pack_without_manifest_names_the_folder(pack_copy: Path, embedder: Embedder) -> None:
    (pack_copy / "manifest.json").unlink()

    with pytest.raises(KnowledgeError, match=re.escape("manifest.json is missing")) as caught:
        Pack(pack_copy, embedder)

    assert str(pack_copy) in caught.value.message


@pytest.mark.slow
@pytest.mark.parametrize("content", ['{"id": "demo", ', "", "\x00\x01"])
def test_pack_with_unreadable_manifest_names_the_folder(
    pack_copy: Path, embedder: Embedder, content: str
) -> None:
    (pack_copy / "manifest.json").write_text(content, encoding="utf-8")

    with pytest.raises(KnowledgeError, match="damaged") as caught:
        Pack(pack_copy, embedder)

    assert str(pack_copy) in caught.value.message
    assert "manifest.json" in caught.value.message


@pytest.mark.slow
def test_pack_with_manifest_that_is_not_an_object_is_refused(
    pack_copy: Path, embedder: Embedder
) -> None:
    (pack_copy / "manifest.json").write_text("[1, 2, 3]", encoding="utf-8")

    with pytest.raises(KnowledgeError, match=re.escape("malformed manifest.json")) as caught:
        Pack(pack_copy, embedder)

    assert str(pack_copy) in caught.value.message


@pytest.mark.slow
def test_pack_with_malformed_embedding_entry_is_refused(
    pack_copy: Path, embedder: Embedder
) -> None:
    edit_manifest(pack_copy, embedding="all-MiniLM-L6-v2")

    with pytest.raises(KnowledgeError, match="embedding"):
        Pack(pack_copy, embedder)


@pytest.mark.slow
def test_pack_without_lance_folder_names_the_folder(pack_copy: Path, embedder: Embedder) -> None:
    shutil.rmtree(pack_copy / "lance")

    with pytest.raises(KnowledgeError, match="damaged") as caught:
        Pack(pack_copy, embedder)

    assert str(pack_copy) in caught.value.message


@pytest.mark.slow
def test_rebuild_repairs_a_pack_whose_lance_folder_was_lost(
    tmp_path: Path, embedder: Embedder
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hours.txt").write_text(HOURS_TXT, encoding="utf-8")
    dest = tmp_path / "pack"
    build_pack(src, dest, embedder, pack_id="hours")
    shutil.rmtree(dest / "lance")
    with pytest.raises(KnowledgeError, match="damaged"):
        Pack(dest, embedder)

    # What the error message tells people to do:
    build_pack(src, dest, embedder, pack_id="hours")

    pack = Pack(dest, embedder)
    assert top_sources(pack, embedder, "Are stores open on Sunday?") == ["hours.txt"]


@pytest.mark.slow
def test_pack_without_documents_list_names_the_folder(pack_copy: Path, embedder: Embedder) -> None:
    (pack_copy / "documents.json").unlink()

    with pytest.raises(KnowledgeError, match=re.escape("documents.json is missing")) as caught:
        Pack(pack_copy, embedder)

    assert str(pack_copy) in caught.value.message


@pytest.mark.slow
def test_missing_pack_folder_names_it(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(KnowledgeError, match="No knowledge pack at") as caught:
        Pack(tmp_path / "not-a-pack", embedder)

    assert str(tmp_path / "not-a-pack") in caught.value.message
