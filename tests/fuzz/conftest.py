"""Fuzzing (issue 13): hypothesis profiles and the guards every property test runs under.

``HYPOTHESIS_PROFILE=ci`` (the default) runs few examples, derandomized, so CI is reproducible
and ``tests/fuzz`` takes about a minute on 2 cores. ``HYPOTHESIS_PROFILE=deep`` runs many more
with a random seed (and keeps failing examples in ``.hypothesis/``); add
``--hypothesis-show-statistics`` to see how many examples each parser ran.

Every property asserts the same three things of a parser that reads outside input: it returns
normally or raises only its documented user error (``only_documented``), it finishes within
a hard time limit (``time_box``, a SIGALRM that interrupts even a regex), and it allocates
memory in proportion to its input at most (``memory_box``, tracemalloc's peak); the
guards are in ``fuzzkit.py``. Each failure found became a named ``test_regression_*`` test
beside its property.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

_COMMON: dict[str, Any] = {
    # Each example writes a file into the test's tmp_path (overwritten by the next example).
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "deadline": timedelta(seconds=4),
    # No "explain" phase: it traces every line the parser runs (sys.settrace, 10-50 times
    # slower), so a large input that passes in 0.5 s trips the time limit there.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
}
settings.register_profile("ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("deep", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A failing example of 100 kB is reported with a warning about its long repr; under
    # filterwarnings=error that warning would replace the failure it reports.
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore:Generating overly large repr"))
