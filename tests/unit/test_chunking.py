"""Splitting documents into passages: exact spans, sections respected, token budget kept."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop.core.knowledge.chunking import Chunk, chunk_document, estimate_tokens
from desktop.core.knowledge.documents import Document, load_document
from desktop.core.knowledge.embedder import Embedder

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def demo_documents() -> list[Document]:
    paths = sorted(
        p for p in DEMO.rglob("*") if p.suffix in (".md", ".html") and p.name != "README.md"
    )
    assert len(paths) >= 30
    return [load_document(p, DEMO) for p in paths]


def markdown(tmp_path: Path, text: str) -> Document:
    path = tmp_path / "article.md"
    path.write_text(text, encoding="utf-8")
    return load_document(path, tmp_path)


def plain(text: str) -> Document:
    return Document("giant.txt", "Giant", text, "text")


def assert_well_formed(
    doc: Document, chunks: list[Chunk], budget: int, count: Callable[[str], int]
) -> None:
    """The invariants every chunking must keep, whatever the document."""
    assert chunks
    heading_starts = [h.start for h in doc.headings]
    previous_end = 0
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end].strip()
        assert chunk.text, chunk
        assert chunk.start >= previous_end, "chunks overlap or are out of order"
        previous_end = chunk.end
        assert not any(chunk.start <= h < chunk.end for h in heading_starts), (
            f"chunk crosses a heading: {chunk.text[:80]!r}"
        )
        assert count(chunk.text) <= budget, (count(chunk.text), chunk.text[:80])
        assert chunk.heading == doc.heading_path(chunk.start)
        assert chunk.source == doc.source and chunk.title == doc.title
    # Nothing is lost: every character outside the headings is inside some chunk.
    covered = [False] * len(doc.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    for heading in doc.headings:
        end = heading.start + len(heading.text)
        covered[heading.start : end] = [True] * (end - heading.start)
    lost = "".join(
        ch for ch, ok in zip(doc.text, covered, strict=True) if not ok and not ch.isspace()
    )
    assert lost == ""


@pytest.mark.parametrize("budget", [200, 60])
def test_demo_articles_chunk_with_estimated_tokens(budget: int) -> None:
    for doc in demo_documents():
        assert_well_formed(doc, chunk_document(doc, budget), budget, estimate_tokens)


@pytest.mark.slow
@pytest.mark.parametrize("budget", [200, 60])
def test_demo_articles_chunk_within_the_real_tokenizer_budget(
    embedder: Embedder, budget: int
) -> None:
    for doc in demo_documents():
        chunks = chunk_document(doc, budget, embedder.count_tokens)
        assert_well_formed(doc, chunks, budget, embedder.count_tokens)


def test_short_paragraphs_in_one_section_are_packed_together(tmp_path: Path) -> None:
    paragraphs = "\n\n".join(f"Paragraph {n} about roaming charges." for n in range(6))
    doc = markdown(tmp_path, f"# Roaming\n\n## Charges\n\n{paragraphs}\n\n## Caps\n\nA cap.\n")

    chunks = chunk_document(doc)

    assert [c.heading for c in chunks] == ["Charges", "Caps"]
    assert chunks[0].text == paragraphs
    assert chunks[1].text == "A cap."


def test_chunks_never_cross_a_heading_even_when_the_budget_allows(tmp_path: Path) -> None:
    doc = markdown(
        tmp_path,
        "---\ntitle: Guide\n---\nIntro.\n\n# A\n\nOne.\n\n## B\n\nTwo.\n\n"
        "### C\n\nThree.\n\n## D\n\nFour.\n",
    )

    chunks = chunk_document(doc, budget=500)

    assert [(c.text, c.heading) for c in chunks] == [
        ("Intro.", ""),
        ("One.", "A"),
        ("Two.", "A > B"),
        ("Three.", "A > B > C"),
        ("Four.", "A > D"),
    ]


def test_chunk_heading_path_leaves_out_the_title_heading(tmp_path: Path) -> None:
    doc = markdown(
        tmp_path,
        "---\ntitle: Port your number\n---\n\n# Port your number\n\n"
        "Text one.\n\n## Get a PAC\n\nText 6.\n",
    )

    chunks = chunk_document(doc)

    assert [(c.heading, c.text) for c in chunks] == [("", "Text one."), ("Get a PAC", "Text 6.")]
    assert chunks[1].embedding_text() == "Port your number > Get a PAC\nText 6."


def test_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentences = [f"Step {n} is to check the cable in port {n} of the router." for n in range(60)]
    doc = plain(" ".join(sentences) + "\n")

    chunks = chunk_document(doc, budget=50)

    assert len(chunks) > 1
    assert_well_formed(doc, chunks, 50, estimate_tokens)
    for chunk in chunks:
        assert chunk.text.startswith("Step ") and chunk.text.endswith("router."), chunk.text


GIANT_WORDS = [
    "router,",
    "firmware",
    "reconfiguration",
    "(WAN)",
    "IPv6-prefix",
    "DHCP/DNS",
    "don't",
    "£4.99",
    "x86_64",
    "https://northwind.example/help?id=42",
    "and",
    "the",
]


def giant_paragraph(words: int) -> str:
    rng = random.Random(7)
    return " ".join(rng.choice(GIANT_WORDS) for _ in range(words)) + "\n"


@pytest.mark.parametrize("budget", [200, 40])
def test_giant_paragraph_without_sentence_ends_is_cut_within_budget(budget: int) -> None:
    doc = plain(giant_paragraph(3000))

    chunks = chunk_document(doc, budget)

    assert len(chunks) > 3000 * 1.3 / budget
    assert_well_formed(doc, chunks, budget, estimate_tokens)


@pytest.mark.slow
@pytest.mark.parametrize("budget", [200, 40])
def test_giant_paragraph_is_cut_within_the_real_tokenizer_budget(
    embedder: Embedder, budget: int
) -> None:
    doc = plain(giant_paragraph(3000))

    chunks = chunk_document(doc, budget, embedder.count_tokens)

    assert_well_formed(doc, chunks, budget, embedder.count_tokens)
    # Cut near the budget, not into crumbs.
    sizes = [embedder.count_tokens(c.text) for c in chunks]
    assert sum(sizes) / len(sizes) > budget / 2


def test_a_single_word_longer_than_the_budget_is_kept_whole() -> None:
    blob = "A" * 5000
    doc = plain(f"Key: {blob} end\n")

    chunks = chunk_document(doc, budget=3, count=lambda text: len(text) // 10 + 1)

    assert blob in [c.text for c in chunks]
    assert re.sub(r"\s+", " ", " ".join(c.text for c in chunks)) == f"Key: {blob} end"


def test_estimate_tokens_grows_with_words() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("one two three four five six seven eight nine ten") == 14
