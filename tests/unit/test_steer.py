"""The agent's choices steer a draft (desktop.core.steer) and what the window says stays plain
(render: model names, scores, rules)."""

from __future__ import annotations

from pathlib import Path

from desktop.core import compose, render
from desktop.core.knowledge.index import Hit
from desktop.core.steer import Steer


def _hit(pack: str, source: str, text: str, score: float = 0.5) -> Hit:
    return Hit(pack, source, source.title(), "", 0, len(text), text, score, rank_score=score)


A1 = _hit("acme", "a.md", "Return a damaged item within 30 days for a full refund.", 0.9)
A2 = _hit("acme", "a.md", "Pack the damaged item in its box before you return it.", 0.8)
B = _hit("other", "b.md", "Damaged items are refunded to your card in 5 days.", 0.7)
C = _hit("acme", "c.md", "Refunds for returned items take up to 5 working days.", 0.6)


def test_the_pack_filter_keeps_only_its_packs_and_the_lead_comes_first() -> None:
    assert Steer().ordered([A1, B, C]) == [A1, B, C]
    assert Steer(("acme",)).ordered([A1, B, C]) == [A1, C]
    assert Steer((), C).ordered([A1, A2, B, C]) == [C, A1, A2, B]
    # A lead the search did not find is put first itself.
    lead = _hit("acme", "d.md", "Exchange an item in store.")
    assert Steer((), lead).ordered([A1, B]) == [lead, A1, B]
    assert Steer((), A1).article == "acme/a.md" and Steer().article == ""


def test_a_lead_outside_the_filter_is_dropped_unless_the_agent_chose_it() -> None:
    assert Steer.from_choices("acme", B) == Steer(("acme",))
    assert Steer.from_choices("acme", B, chosen=True) == Steer(("other",), B)
    assert Steer.from_choices("", B) == Steer((), B)


def test_an_extractive_draft_starts_with_the_lead_article() -> None:
    question = "How do I return a damaged item for a refund?"
    _, plain = compose.extractive(question, [A1, B, C])
    assert plain[0] is A1
    draft, led = compose.extractive(question, [A1, B, C], lead="other/b.md")
    assert led[0] is B and draft.startswith("Damaged items are refunded")


def test_what_the_agent_reads_is_plain() -> None:
    assert render.agent_text('"x" reads as fraud (0.77)') == '"x" reads as fraud'
    assert render.agent_text("not its meaning (similarity 0.42).") == "not its meaning."
    assert render.rule_text("Rule: Transfer the call.") == "Transfer the call."
    smol = Path("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert render.model_label("Smollm2 135M 8k Lc100K Mix1 Ep2", smol) == "SmolLM2 135M Instruct"
    qwen = Path("qwen05.gguf")
    assert render.model_label("Qwen2.5 Coder 0.5B Instruct AWQ", qwen) == (
        "Qwen2.5 Coder 0.5B Instruct"
    )
