"""Mid-call safety in core (issue 14): the generation guard, what Copy puts on the clipboard,
and a rewrite's added links and numbers. Fast: no model is loaded."""

from __future__ import annotations

import pytest

from desktop.core import render
from desktop.core.assist import Answer, new_contacts
from desktop.core.generation import guard, verify

ORDINARY = (
    "To return a damaged item, open Orders and choose Return [1]. You will get a prepaid label "
    "by email within 24 hours [1]. Refunds reach your card within 5 working days [2]. If the "
    "item was a gift, the refund goes to the person who paid [2]. Keep the box until the "
    "refund arrives [1]. Call 0800 123 4567 if the label does not come [3]."
)


@pytest.mark.parametrize(
    "text",
    [
        "Please call us. " * 8,
        "the item the item the item the item the item the item the item the item",
        "Sure! " + "!" * 30,
        "abcabcabcabcabcabcabcabc",
        "You can return it [1]. " + "and then you can return and then you can return " * 4,
    ],
)
def test_loops_are_caught(text: str) -> None:
    assert guard.repeating(text)


@pytest.mark.parametrize(
    "text",
    [
        ORDINARY,
        "Reason: parcel missing. Action: redelivery booked. Next step: none. Customer: waiting.",
        "Your plan costs £8 a month [1]. Your new plan costs £12 a month [1].",
        "1. Open Settings. 2. Open Network. 3. Choose Reset. 4. Restart the router [1].",
    ],
)
def test_ordinary_replies_are_not_loops(text: str) -> None:
    assert not guard.repeating(text)


class Stream:
    """A model's stream: *pieces*, one per tick of a fake clock; records being closed."""

    def __init__(self, pieces: list[str], clock: list[float], tick: float) -> None:
        self.pieces, self.clock, self.tick, self.closed = iter(pieces), clock, tick, False

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        self.clock[0] += self.tick
        return next(self.pieces)

    def close(self) -> None:
        self.closed = True


def run(pieces: list[str], budget: float, tick: float) -> tuple[str, guard.Guard, Stream]:
    clock = [0.0]
    stream = Stream(pieces, clock, tick)
    limit = guard.Guard(budget, clock=lambda: clock[0])
    return "".join(limit.guarded(stream)), limit, stream


def test_a_looping_stream_is_stopped_early_and_closed() -> None:
    pieces = ["Hello. "] + ["We can help you today. "] * 200
    out, limit, stream = run(pieces, budget=30, tick=0.01)
    assert limit.reason == guard.REPETITION
    assert stream.closed  # the engine's stream is closed: decoding stops there
    assert out.count("We can help you today.") < 10
    assert "repeating" in limit.message()


def test_the_time_budget_ends_a_slow_stream_and_says_so() -> None:
    words = [f"word{i} " for i in range(100)]  # no loop: only the budget can end it
    out, limit, stream = run(words, budget=3, tick=1.0)
    assert limit.reason == guard.TIME_BUDGET and stream.closed
    assert out.split() == ["word0", "word1", "word2"]
    assert limit.message() == "Stopped after 3 s: check before sending."


def test_no_budget_and_no_loop_lets_everything_through() -> None:
    words = [f"word{i} " for i in range(100)]
    out, limit, _ = run(words, budget=0, tick=1.0)
    assert limit.reason == "" and len(out.split()) == 100


# --- copy -------------------------------------------------------------------------------------


def _answer(draft: str, verdicts: list[str], **kwargs: object) -> Answer:
    sentences = [verify.Sentence(f"s{i}", [1], v) for i, v in enumerate(verdicts)]
    return Answer(status="answered", question="q", draft=draft, sentences=sentences, **kwargs)  # type: ignore[arg-type]


def test_markup_never_reaches_the_clipboard() -> None:
    answer = _answer(
        "You can return it [1].</script> <b>Refunds</b> take 5 days &lt;script&gt;x&lt;/script&gt;"
        " <!-- note -->and 3 < 4.",
        ["supported"],
    )
    text = render.copy_text(answer)
    assert "<" not in text.replace("3 < 4", "") and ">" not in text
    assert "You can return it [1]." in text and "Refunds take 5 days" in text and "3 < 4" in text


def test_copy_warns_about_flagged_stopped_and_cut_short_drafts() -> None:
    assert render.copy_warning(_answer("ok [1].", ["supported", "supported"])) == ""
    flagged = render.copy_warning(_answer("x", ["unsupported", "supported", "no_citation"]))
    assert "2 of its 3 sentences are not verified" in flagged
    assert "stopped" in render.copy_warning(_answer("x", ["supported"], stopped=True))
    assert "cut short" in render.copy_warning(_answer("x", ["supported"], limit="time_budget"))


def test_a_rewrite_that_adds_links_or_numbers_is_caught() -> None:
    source = "Call us on 0800 123 4567 or see example.com/help. Refunds take 5 days."
    assert new_contacts("Call 0800 123 4567 today.", source) == []
    assert new_contacts("Visit https://example.com/help for more.", source) == [
        "https://example.com/help"
    ]  # the source gives no link to open: an added scheme is an added link
    assert new_contacts("Visit https://refunds-now.io/claim today.", source) == [
        "https://refunds-now.io/claim"
    ]
    assert new_contacts("Ring +44 20 7946 0958 or mail help@shop.test.", source) == [
        "+44 20 7946 0958",
        "help@shop.test",
    ]
