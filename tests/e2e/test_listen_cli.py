"""`deskmate listen --text FILE`: per customer turn, the need, articles and any route, as the
listen panel works them out (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CONVERSATION = (
    "Customer: hi, my phone arrived with a cracked screen, can I send it back?\n"
    "Agent: I'm sorry. If you ever feel you want to end it all, please tell us.\n"
    "Customer: thanks. Honestly I've lost my job and I don't see the point in going on any more.\n"
)


@pytest.mark.slow
def test_listen_prints_need_articles_and_route_per_customer_turn(
    deskmate: Any, demo_pack: Path, tmp_path: Path
) -> None:
    path = tmp_path / "call.txt"
    path.write_text(CONVERSATION, encoding="utf-8")
    result = deskmate("listen", "--text", str(path), "--pack", str(demo_pack), "--json")
    assert result.returncode == 0, result.stderr
    turns = json.loads(result.stdout)
    assert [t["turn"] for t in turns] == [1, 2]
    first, second = turns
    assert "cracked screen" in first["need"] and first["route"] is None  # the agent's line: no
    assert "delivery-returns/return-damaged-or-faulty-item.md" in [
        a["source"] for a in first["articles"]
    ]
    assert second["route"]["topic"] == "self_harm"

    text = deskmate("listen", "--text", str(path), "--pack", str(demo_pack))
    assert text.returncode == 0, text.stderr
    assert "Turn 2:" in text.stdout and "ROUTE TO A PERSON" in text.stdout
    assert text.stdout.count("ROUTE TO A PERSON") == 1


def test_listen_without_customer_turns_says_what_to_give(deskmate: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("Agent: hello?\n", encoding="utf-8")
    result = deskmate("listen", "--text", str(path))
    assert result.returncode != 0
    assert "no customer turns" in result.stderr and "Customer:" in result.stderr
