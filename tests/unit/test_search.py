"""Search options on real packs: filters, near-duplicate collapse, exact codes, ranking modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core.knowledge import search as search_module
from desktop.core.knowledge.index import Pack, build_pack
from desktop.core.knowledge.search import SearchOptions, query_coverage, search, where_clause

RETURNS = """---
title: Returns
category: {category}
locale: {locale}
---
# Returns

Report damage within 48 hours of delivery under Account > Orders > Report a problem.

# Unrelated section

Our offices are painted blue and the coffee machine is on the second floor.
"""

WIFI = """---
title: Wi-Fi errors
category: devices
locale: en-GB
---
# Error NX-4417

The code appears when the router firmware is out of date; restart the router to update it.
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, embedder) -> Pack:
    src = tmp_path_factory.mktemp("src")
    (src / "returns-uk.md").write_text(RETURNS.format(category="delivery", locale="en-GB"))
    # The same article copied into another section: a near-duplicate passage.
    (src / "returns-copy.md").write_text(RETURNS.format(category="archive", locale="en-GB"))
    (src / "returns-fr.md").write_text(
        RETURNS.format(category="delivery", locale="fr-FR").replace(
            "Report damage", "Signalez les dommages"
        )
    )
    (src / "wifi.md").write_text(WIFI)
    dest = tmp_path_factory.mktemp("pack") / "p"
    build_pack(src, dest, embedder, pack_id="p")
    return Pack(dest, embedder)


QUESTION = "How long do I have to report a damaged delivery?"


def _sources(pack: Pack, embedder, query: str = QUESTION, **options) -> list[str]:
    return [h.source for h in search([pack], embedder, query, SearchOptions(**options))]


@pytest.mark.slow
def test_near_duplicate_passages_are_collapsed(pack: Pack, embedder) -> None:
    hits = search([pack], embedder, QUESTION, SearchOptions(locale="en-GB"))
    sources = [h.source for h in hits]
    # Only one of the two identical articles is shown; the other is named as a duplicate.
    assert sorted(set(sources) & {"returns-uk.md", "returns-copy.md"}) in (
        ["returns-uk.md"],
        ["returns-copy.md"],
    )
    assert {"returns-uk.md", "returns-copy.md"} == {hits[0].source, *hits[0].duplicates}


@pytest.mark.slow
def test_without_collapse_both_copies_are_listed(pack: Pack, embedder) -> None:
    sources = _sources(pack, embedder, locale="en-GB", collapse_above=1.01)
    assert {"returns-uk.md", "returns-copy.md"} <= set(sources)


@pytest.mark.slow
def test_category_filter(pack: Pack, embedder) -> None:
    sources = _sources(pack, embedder, categories=("archive",))
    assert sources and set(sources) == {"returns-copy.md"}


@pytest.mark.slow
def test_locale_filter_matches_language_and_keeps_unlabelled(pack: Pack, embedder) -> None:
    assert "returns-fr.md" not in _sources(pack, embedder, locale="en", collapse_above=1.01)
    assert "returns-fr.md" in _sources(pack, embedder, locale="fr", min_score=0.0)
    assert where_clause(SearchOptions(categories=("it's",))) == "category IN ('it''s')"


@pytest.mark.slow
def test_exact_code_passes_the_relevance_floor(pack: Pack, embedder) -> None:
    # A bare code has little meaning for the embedding model, so its similarity is low...
    hits = search([pack], embedder, "NX-4417", SearchOptions(min_score=0.9))
    assert [h.source for h in hits] == ["wifi.md"]
    # ...while an unrelated query with the same floor finds nothing.
    assert search([pack], embedder, "router firmware", SearchOptions(min_score=0.9)) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_every_mode_ranks_the_answer_first(pack: Pack, embedder, mode: str) -> None:
    assert _sources(pack, embedder, "router firmware out of date", mode=mode)[0] == "wifi.md"


@pytest.mark.slow
def test_unknown_mode_is_refused(pack: Pack, embedder) -> None:
    with pytest.raises(ValueError, match="mode"):
        search([pack], embedder, "x", SearchOptions(mode="magic"))


@pytest.mark.slow
def test_hits_carry_category_and_offsets(pack: Pack, embedder, tmp_path: Path) -> None:
    hit = search(
        [pack], embedder, QUESTION, SearchOptions(categories=("delivery",), locale="en-GB")
    )[0]
    assert hit.category == "delivery"
    assert pack.document_text(hit.source)[hit.start : hit.end].strip() == hit.text


VPN_ARTICLES = {
    "locations.md": "---\ntitle: VPN server locations\n---\n# VPN server locations\n\nWe offer "
    "VPN server locations worldwide, so you can choose a location close to you for the best "
    "speed.\n",
    "servers.md": "---\ntitle: Our servers\n---\n# Our servers\n\nOur servers run in Zurich, "
    "Switzerland, in Frankfurt, Germany, and in London, United Kingdom.\n",
    "speed.md": "---\ntitle: VPN speed\n---\n# VPN speed\n\nA VPN location far away from you "
    "makes browsing slower. Pick a nearby location.\n",
}


@pytest.mark.slow
def test_the_passage_with_the_telling_word_ranks_first(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "kb"
    source.mkdir()
    for name, text in VPN_ARTICLES.items():
        (source / name).write_text(text)
    build_pack(source, tmp_path / "pack", embedder, pack_id="vpn")
    vpn = Pack(tmp_path / "pack", embedder)
    question = "Is there a VPN server in Switzerland?"

    hits = search([vpn], embedder, question)

    # Only servers.md names Switzerland: it ranks first although the general article reads
    # closer to the question...
    assert [h.source for h in hits][:2] == ["servers.md", "locations.md"]
    # ...and the relevance a hit reports (what the floors apply to) is not inflated by it.
    assert hits[0].rank_score < hits[1].rank_score
    monkeypatch.setattr(search_module, "COVERAGE_WEIGHT", 0.0)
    assert search([vpn], embedder, question)[0].source == "locations.md"


def test_query_coverage_weighs_words_rare_among_the_candidates() -> None:
    rows = [
        {"title": "VPN locations", "heading": "", "text": "Pick a VPN location near you."},
        {"title": "Servers", "heading": "", "text": "Our VPN servers run in Switzerland."},
        {"title": "VPN speed", "heading": "", "text": "A distant VPN location is slower."},
    ]

    shares = query_coverage("VPN location in Switzerland?", rows)

    # "switzerland" occurs in one candidate, "location" in two, "vpn" in all three.
    assert shares[1] > shares[0] == shares[2] > 0
    assert query_coverage("the and of", rows) == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_article_passages_reads_only_that_article_best_first(pack: Pack, embedder) -> None:
    first = search([pack], embedder, "Where is the coffee machine?")[0]

    found = search_module.article_passages([pack], embedder, QUESTION, first, 5)

    # Every passage of the article the hit came from, the one answering the question first;
    # nothing of the other articles (the copy of the same text included).
    assert {h.source for h in found} == {first.source}
    assert "48 hours" in found[0].text and len(found) == 2
    assert search_module.article_passages([pack], embedder, QUESTION, first, 1) == found[:1]
    assert search_module.article_passages([], embedder, QUESTION, first, 5) == []
