"""Fuzzing the settings file, the machine policy (settings and ``sensitive_topics``) and the
command line's ``config set``.

``Settings.load`` promises never to raise for a bad file: it reports problems and applies only
valid values. ``Settings.set`` parses text and raises :class:`SettingError` (with the default
as its fix) for anything invalid. ``policy.sensitive_topics`` reports and never raises.
"""

from __future__ import annotations

import json
from pathlib import Path

from fuzzkit import has_fix, memory_box, mutated, only_documented, time_box
from hypothesis import given
from hypothesis import strategies as st

from desktop.core import policy
from desktop.core.errors import SettingError
from desktop.core.paths import Paths
from desktop.core.settings import SCHEMA, Settings, lookup

KEYS = st.one_of(st.sampled_from([s.key for s in SCHEMA]), st.text(max_size=20))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=30),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TOPIC = st.fixed_dictionaries(
    {},
    optional={
        "rule": st.one_of(st.text(max_size=20), JSON),
        "triggers": st.one_of(st.lists(st.one_of(st.text(max_size=8), JSON), max_size=4), JSON),
        "examples": st.one_of(st.lists(st.text(max_size=20), max_size=3), JSON),
        "disabled": st.one_of(st.booleans(), JSON),
    },
)
POLICY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "settings": st.one_of(st.dictionaries(KEYS, JSON, max_size=6), JSON),
            "sensitive_topics": st.one_of(
                st.dictionaries(st.text(max_size=12), st.one_of(TOPIC, JSON), max_size=4), JSON
            ),
        },
    ),
    st.dictionaries(KEYS, JSON, max_size=6),
)


def as_file(value: object, raw: bytes | None) -> bytes:
    return raw if raw is not None else json.dumps(value).encode()


@st.composite
def documents(draw: st.DrawFn, values: st.SearchStrategy[object]) -> bytes:
    """A JSON document, sometimes damaged, nested absurdly deep, or not UTF-8."""
    text = json.dumps(draw(values)).encode()
    kind = draw(st.sampled_from(["json", "mutated", "deep", "bytes"]))
    if kind == "mutated":
        return draw(mutated(text))
    if kind == "deep":
        depth = draw(st.integers(1, 100_000))
        return b'{"model.threads": ' + b"[" * depth + b"]" * depth + b"}"
    return draw(st.binary(max_size=200)) if kind == "bytes" else text


def load(raw_user: bytes, raw_policy: bytes) -> Settings:
    paths = Paths.from_env()
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_bytes(raw_user)
    paths.policy.write_bytes(raw_policy)
    return memory_box(
        lambda: only_documented(lambda: Settings.load(paths)),  # type: ignore[arg-type]
        limit=100 * (len(raw_user) + len(raw_policy)) + 5_000_000,
    )


@given(documents(st.dictionaries(KEYS, JSON, max_size=8)), documents(POLICY))
def test_settings_and_policy_files_never_break_loading(raw_user: bytes, raw_policy: bytes) -> None:
    settings = load(raw_user, raw_policy)
    assert all(isinstance(p, str) and p.strip() for p in settings.problems)
    for row in settings.effective():
        assert row.setting.validate(row.value) == row.value  # only valid values are in effect
        assert row.locked == (row.source == "policy")
    settings.save()  # what was kept from the file can be written back
    assert isinstance(json.loads(Paths.from_env().settings_file.read_text("utf-8")), dict)


@given(POLICY)
def test_sensitive_topics_report_and_never_raise(document: object) -> None:
    with time_box(5):
        topics, problems = policy.sensitive_topics(document, Path("policy.json"))
    for topic in topics:
        assert topic.disabled or (topic.rule.strip() and (topic.triggers or topic.examples))
        assert all(policy.usable_trigger(t) for t in topic.triggers)
    assert all(p.startswith("Machine policy policy.json:") for p in problems)


@given(KEYS, st.one_of(st.text(max_size=40), JSON))
def test_config_set_takes_a_valid_value_or_says_why(key: str, value: object) -> None:
    settings = Settings(Paths.from_env())
    result = only_documented(lambda: settings.set(key, value), SettingError)
    if isinstance(result, SettingError):
        assert has_fix(result), result
    else:
        assert lookup(key).validate(result) == result == settings.get(key)
