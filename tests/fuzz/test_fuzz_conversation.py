"""Fuzzing the conversation parser (``turns``) and the listen panel's ``customer_need``.

Both read whatever the agent pastes or the clipboard holds, on every keystroke: they must never
raise, and their work must stay linear in the text (a pasted log of 100,000 lines included).
"""

from __future__ import annotations

import time
from datetime import timedelta

from fuzzkit import memory_box, repeated, time_box
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.core.conversation import ROLES, turns
from desktop.core.listen import MAX_QUERY_CHARS, customer_need

LABELS = ["Customer", "Agent", "You", "Me", "Rep", "C", "A", "Note", "Order #5", "caller ", "  "]
PIECES = st.sampled_from(
    [f"{label}:" for label in LABELS]
    + [": ", "::", "\n", "\r\n", "\r", "\x85", "\u2028", "\x00", "\ufeff", " ", "\t", "x" * 40]
)
LINES = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=40).map("".join)
HOSTILE = st.one_of(
    LINES,
    st.text(),
    repeated(st.sampled_from(["plain words\n", "Customer: hi\n", ":\n", "x" * 30 + "\n"]), 100_000),
    st.builds(
        lambda a, b: a + b, st.sampled_from(["Customer: hi\n", ""]), repeated(PIECES, 50_000)
    ),
)


def check_turns(text: str) -> None:
    with time_box(5):  # timed without tracemalloc, which makes each allocation several times slower
        found = turns(text)
    with time_box(30):
        memory_box(lambda: turns(text), limit=32 * len(text) + 2_000_000)  # a Turn per short line
    for turn in found:
        assert turn.speaker in ROLES
        assert turn.text and turn.text == turn.text.strip()
        assert "\n" not in turn.text


@settings(deadline=timedelta(seconds=20))  # the memory check runs the parser again, traced
@given(HOSTILE)
def test_turns_never_raise_stay_linear_and_bounded(text: str) -> None:
    check_turns(text)


@given(HOSTILE)
def test_customer_need_never_raises_and_is_bounded(text: str) -> None:
    with time_box(5):
        need = customer_need(text)
    assert len(need.query) <= MAX_QUERY_CHARS
    assert need.empty == (not need.query)
    for turn in need.turns:
        assert turn.speaker in ROLES


def test_regression_turns_many_unlabelled_lines_is_linear() -> None:
    """A pasted log of 200,000 unlabelled lines after one label: each line used to be appended
    by copying the whole turn so far, which took minutes (found by the fuzzer)."""
    text = "Customer: hi\n" + "x" * 30 + "\n" * 1 + ("x" * 30 + "\n") * 200_000
    started = time.perf_counter()
    with time_box(10):
        found = turns(text)
    assert len(found) == 1 and found[0].text.count("x" * 30) == 200_001
    assert time.perf_counter() - started < 2.0
