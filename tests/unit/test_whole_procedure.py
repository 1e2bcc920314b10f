"""A draft keeps a procedure whole when the pack cut it between passages: the passage is widened
to the article's whole numbered list, read from the pack's copy of the article."""

from __future__ import annotations

import re

import pytest

from desktop.core import compose
from desktop.core.assist import extractive_draft
from desktop.core.knowledge.index import Hit, Pack, build_pack
from desktop.core.knowledge.search import search

ACTIONS = [
    "Log in to the Cloud Control Panel with the account that owns the servers",
    "In the top navigation bar, select Networking and then choose Load Balancers",
    "Click Create Load Balancer and wait for the creation form to open",
    "In the Identification section, enter a name for the balancer and pick its region",
    "In the Configuration section, choose whether the virtual address is public or private",
    "Choose the protocol and the port that the balancer listens on for traffic",
    "Choose the algorithm, for example round robin or least connections, for spreading requests",
    "In the Add Nodes section, click Add Cloud Servers and tick the web servers to balance",
    "Click Create Load Balancer at the bottom of the form to finish creating the balancer",
]
STEPS = "\n\n".join(
    f"{n}. {action}, then check that the page shows what you expect before you go on."
    for n, action in enumerate(ACTIONS, start=1)
)
ARTICLE = f"""---
title: Create a load balancer
---
# Create a load balancer

A load balancer spreads incoming web traffic across several cloud servers. Follow these steps:

{STEPS}

# Billing

Load balancers are billed by the hour from the moment they are created.
"""


def _numbers(draft: str) -> list[int]:
    return [int(n) for n in re.findall(r"(?m)^(\d+)\. ", draft)]


def test_a_passage_starting_at_a_later_step_gets_the_steps_before_and_after() -> None:
    lines = ["Intro:", "", "1. One.", "   more of one.", "", "2. Two.", "3. Three.", "", "After."]
    document = "\n".join(lines)
    start = document.index("2. Two.")
    cut = Hit("p", "a.md", "A", "", start, start + len("2. Two."), "2. Two.", 1.0)

    whole = compose.whole_procedures(cut, lambda hit: document)

    assert whole.text == "1. One.\n   more of one.\n\n2. Two.\n3. Three."
    assert document[whole.start : whole.end] == whole.text
    # A passage that cuts no procedure is kept, and its article is not even read.
    intro = Hit("p", "a.md", "A", "", 0, 6, "Intro:", 1.0)
    assert compose.whole_procedures(intro, lambda hit: pytest.fail("read")) is intro
    # Text that is not the article's at those offsets (an edited article) is kept as it is.
    assert compose.whole_procedures(cut, lambda hit: document.replace("Two", "2")) is cut


def test_a_procedure_longer_than_the_limit_is_not_widened() -> None:
    document = "\n".join(f"{n}. {'word ' * 100}" for n in range(1, 12))
    last = document.rindex("11. ")
    cut = Hit("p", "a.md", "A", "", last, len(document), document[last:], 1.0)
    assert compose.whole_procedures(cut, lambda hit: document) is cut


def test_another_list_after_the_procedure_is_not_taken() -> None:
    document = "1. One.\n2. Two.\n\n1. Another list.\n"
    cut = Hit("p", "a.md", "A", "", 0, 7, "1. One.", 1.0)
    assert compose.whole_procedures(cut, lambda hit: document).text == "1. One.\n2. Two."


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, embedder) -> Pack:  # type: ignore[no-untyped-def]
    src = tmp_path_factory.mktemp("src")
    (src / "load-balancer.md").write_text(ARTICLE, encoding="utf-8")
    dest = tmp_path_factory.mktemp("pack") / "lb"
    build_pack(src, dest, embedder, pack_id="lb")
    return Pack(dest, embedder)


@pytest.mark.slow
def test_a_procedure_the_pack_cut_in_two_is_drafted_whole_and_in_order(pack, embedder) -> None:  # type: ignore[no-untyped-def]
    question = "How do I add cloud servers to a new load balancer and finish creating it?"
    hits = search([pack], embedder, question)
    passages = [h for h in hits if h.source == "load-balancer.md"]
    # The pack holds the procedure in two passages, and the search ranks a later step's first.
    assert len(passages) >= 2 and not passages[0].text.lstrip().startswith("1."), passages

    draft, sources = extractive_draft(question, hits, embedder, packs=[pack])

    assert _numbers(draft) == list(range(1, len(ACTIONS) + 1)), draft
    # One source: the widened passages were merged, and it points at the article's own text.
    steps = [s for s in sources if s.source == "load-balancer.md"]
    assert len(steps) == 1
    assert pack.document_text("load-balancer.md")[steps[0].start : steps[0].end] == steps[0].text
    # The later passage alone (no other passage of the article to read) is widened too; without
    # the pack's copy of the article, the draft starts where that passage does.
    later = passages[:1]
    assert _numbers(extractive_draft(question, later, packs=[pack])[0]) == _numbers(draft)
    assert _numbers(extractive_draft(question, later, packs=[])[0])[0] > 1


def test_nested_items_do_not_count_as_steps() -> None:
    steps = "\n".join(f"{n}. Step {n} does thing {n} now.\n    - detail {n}." for n in range(1, 8))
    found = compose.pieces(steps, 0, "a")
    at = next(p for p in found if p.text.startswith("7."))
    kept = compose.procedure(found, at)
    # Seven steps with a nested item each: 14 list lines, all kept (MAX_STEPS counts steps).
    assert [p.text.split(".")[0] for p in kept if p.indent == 0] == [str(n) for n in range(1, 8)]
    assert len(kept) == 14


def test_a_step_s_note_does_not_end_the_procedure() -> None:
    """Rackspace writes a step's note as an indented paragraph: the steps after it are still
    the same procedure, kept with it (the note too)."""
    text = (
        "1. Log in to the panel.\n\n"
        "2. Select Load Balancers.\n\n"
        "    The Load Balancers page appears.\n\n"
        "3. Choose the algorithm. Click Next when done.\n\n"
        "    **Note**: This is an important attribute to set.\n\n"
        "4. Click Create Load Balancer.\n"
    )
    found = compose.pieces(text, 0, "a")
    at = next(p for p in found if p.text.startswith("4."))
    kept = [p.text for p in compose.procedure(found, at)]
    assert kept[0].startswith("1.") and kept[-1].startswith("4."), kept
    assert "The Load Balancers page appears." in kept
    assert "Click Next when done." in kept


def test_a_long_bulleted_list_is_not_a_procedure() -> None:
    """A list of 30 countries (bullets, nested under regions) is cut to MAX_LIST_LINES lines
    around the one asked about, not kept whole."""
    countries = [f"Country {n}" for n in range(30)]
    text = "- Regions\n" + "".join(f"    - {c}\n" for c in countries)
    found = compose.pieces(text, 0, "a")
    at = next(p for p in found if p.text.endswith("Country 20"))
    kept = compose.procedure(found, at)
    assert len(kept) == compose.MAX_LIST_LINES and at in kept
