"""SIGKILL in the middle of five operations: the next start finds the old or the new state.

A few kills per operation, at random delays over the operation's measured duration (seeded), plus
one kill at each named crash point the operation passes. ``benchmarks/crash_safety.py`` runs the
same trials 50 times per operation. Every trial then runs a fresh ``deskmate search --json``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import crashkit
import pytest

# Random kills per operation in CI (each costs a search start, ~7 s); the builds also get one
# kill at their named crash point. DESKMATE_CRASH_KILLS=N runs N per operation instead.
KILLS = {"pack_build": 1, "index_rebuild": 1}
DEFAULT_KILLS = 2
SEED = int(os.environ.get("DESKMATE_CRASH_SEED", "13"))


def _kills(name: str) -> int:
    wanted = os.environ.get("DESKMATE_CRASH_KILLS")
    return int(wanted) if wanted else KILLS.get(name, DEFAULT_KILLS)


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="session")
def measured() -> dict[str, crashkit.Operation]:
    """Each operation, once its old state is built and its unkilled duration measured."""
    return {}


def _operation(name: str, shared: Path, embedder: Any, cache: dict[str, Any]) -> Any:
    if name not in cache:
        op = crashkit.OPERATIONS[name](shared, embedder)
        op.duration = crashkit.run_to_end(op, shared / f"run-{name}")  # asserts it reaches NEW
        cache[name] = op
    return cache[name]


def _check(trials: list[crashkit.Trial]) -> None:
    for t in trials:
        assert t.state in (crashkit.OLD, crashkit.NEW), t
        assert t.search_ok, t


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(crashkit.OPERATIONS))
def test_random_kills_leave_the_old_or_the_new_state(
    name: str, shared: Path, embedder: Any, measured: dict[str, Any]
) -> None:
    op = _operation(name, shared, embedder, measured)
    trials = crashkit.random_trials(op, shared / f"run-{name}", _kills(name), SEED)
    _check(trials)
    assert all(0.0 <= t.delay <= op.duration for t in trials)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "point"),
    [(n, p) for n, points in crashkit.CRASH_POINTS.items() for p in points if p == "build.swap"],
)
def test_kill_between_the_two_renames_of_a_pack_switch_is_finished_on_the_next_start(
    name: str, point: str, shared: Path, embedder: Any, measured: dict[str, Any]
) -> None:
    """Regression: a build killed after moving the old pack aside and before moving the new one
    in left no pack at all (``deskmate search`` failed); the next start now finishes the switch."""
    op = _operation(name, shared, embedder, measured)
    found = crashkit.trial(op, shared / f"run-{name}", 600.0, crash_at=point)
    assert found.killed, "the crash point was not reached"
    assert found.left == crashkit.CORRUPT  # the window the fix covers: no pack on disk
    assert found.state == crashkit.NEW, found  # the complete new pack was switched in
    assert found.search_ok, found


@pytest.mark.slow
def test_a_rating_killed_just_after_its_write_is_kept(
    shared: Path, embedder: Any, measured: dict[str, Any]
) -> None:
    """A random kill never lands in the rating's single write() (the process is mostly start-up);
    killed at the named point just after it, before the fsync, the rating is there and whole."""
    op = _operation("feedback_write", shared, embedder, measured)
    found = crashkit.trial(op, shared / "run-feedback-point", 600.0, crash_at="feedback.write")
    assert found.killed, "the crash point was not reached"
    assert found.left == crashkit.NEW and found.state == crashkit.NEW, found
    assert found.search_ok, found


def test_the_feedback_driver_and_classifier_tell_old_new_and_torn_apart(tmp_path: Path) -> None:
    """The harness itself: a torn or merged feedback line is judged corrupt, never old or new."""
    from desktop.core import feedback

    data = tmp_path / "data"
    for _ in range(crashkit.FEEDBACK_OLD):
        feedback.record(data, crashkit._answer(), "down")
    assert crashkit.feedback_state(data)[0] == crashkit.OLD
    assert crashkit.main(["feedback", str(data)]) == 0
    assert crashkit.feedback_state(data)[0] == crashkit.NEW
    file = feedback.feedback_file(data)
    file.write_bytes(file.read_bytes()[:-7])
    assert crashkit.feedback_state(data)[0] == crashkit.CORRUPT
