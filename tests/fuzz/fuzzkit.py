"""Guards for the fuzz tests: a hard time limit, a memory limit and the documented-error check."""

from __future__ import annotations

import contextlib
import signal
import tracemalloc
from collections.abc import Callable, Iterator
from typing import TypeVar

from hypothesis import strategies as st

from desktop.core.errors import UserError

T = TypeVar("T")

HARD_SECONDS = 10.0  # far above any honest parse of a fuzz input; a hang trips it


class Hang(AssertionError):
    """A parser ran past the hard time limit on one input."""


@contextlib.contextmanager
def time_box(seconds: float = HARD_SECONDS) -> Iterator[None]:
    """Fail with :class:`Hang` when the block runs over *seconds* (wall clock, main thread)."""

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"the parser ran for over {seconds} s on one input")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def memory_box(run: Callable[[], T], limit: int) -> T:
    """*run*'s result; fails if it allocated more than *limit* bytes at its peak (Python heap)."""
    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= limit, f"the parser allocated {peak:,} bytes, over the {limit:,} allowed"
    return result


def only_documented(
    run: Callable[[], T], *errors: type[Exception], seconds: float = HARD_SECONDS
) -> T | Exception:
    """*run*'s result, or the documented error it raised (checked to be a usable message).

    Any other exception is a bug and propagates, so hypothesis shrinks it to a minimal input.
    """
    with time_box(seconds):
        try:
            return run()
        except errors as exc:
            assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
            if isinstance(exc, UserError):
                assert exc.message.strip(), f"{type(exc).__name__} with an empty message"
            return exc


def has_fix(error: object) -> bool:
    """Whether *error* is a UserError that says what to do about it."""
    return isinstance(error, UserError) and bool(error.fix.strip())


# --- strategies shared by the test modules ---------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, original: bytes, max_edits: int = 8) -> bytes:
    """*original* with a few bytes flipped, inserted or deleted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
    return bytes(data)


def repeated(pieces: st.SearchStrategy[str], most: int) -> st.SearchStrategy[str]:
    """One hostile piece repeated up to *most* times: the input that finds quadratic work."""
    return st.builds(lambda piece, times: piece * times, pieces, st.integers(0, most))
