"""Settings: the schema, the three layers (default < user < policy) and bad-file handling."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from desktop.core.errors import SettingError
from desktop.core.paths import Paths
from desktop.core.settings import SCHEMA, Setting, Settings, lookup


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(tmp_path / "etc" / "policies"))
    return Paths.from_env()


def write_user(paths: Paths, data: object) -> None:
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(json.dumps(data), encoding="utf-8")


def write_policy(paths: Paths, data: object) -> None:
    paths.policy.parent.mkdir(parents=True, exist_ok=True)
    paths.policy.write_text(json.dumps(data), encoding="utf-8")


def problems_about(settings: Settings, text: str) -> list[str]:
    return [problem for problem in settings.problems if text in problem]


# The schema


@pytest.mark.parametrize("setting", SCHEMA, ids=lambda setting: setting.key)
def test_every_default_is_valid_for_its_own_setting(setting: Setting) -> None:
    assert type(setting.default) is setting.type
    assert setting.validate(setting.default) == setting.default


def test_schema_keys_are_unique_dotted_and_documented() -> None:
    keys = [setting.key for setting in SCHEMA]
    assert len(keys) == len(set(keys))
    for setting in SCHEMA:
        assert "." in setting.key
        assert setting.label.strip()
        assert setting.description.strip()
        assert setting.type in (str, int, float, bool)


def test_schema_cannot_be_changed_at_runtime() -> None:
    assert isinstance(SCHEMA, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEMA[0].default = "changed"  # type: ignore[misc]


def test_schema_matches_the_issue() -> None:
    assert lookup("model.context_size").minimum == 512
    assert lookup("model.context_size").maximum == 131072
    assert lookup("generation.enabled").default is True
    assert not lookup("search.limit").lockable
    assert not lookup("ui.font_scale").lockable
    assert lookup("search.min_score").lockable


def test_allowed_describes_the_valid_values() -> None:
    assert lookup("model.context_size").allowed() == "a whole number from 512 to 131072"
    assert lookup("generation.enabled").allowed() == "true or false"


def test_choices_are_enforced() -> None:
    setting = Setting("ui.theme", str, "light", "Theme", "Colours.", choices=("light", "dark"))
    assert setting.coerce("dark") == "dark"
    with pytest.raises(SettingError, match="one of"):
        setting.coerce("purple")


# Layers


def test_without_files_every_setting_has_its_default(paths: Paths) -> None:
    settings = Settings.load(paths)
    assert settings.problems == []
    for setting in SCHEMA:
        assert settings[setting.key] == setting.default
        assert settings.source(setting.key) == "default"
        assert not settings.is_locked(setting.key)


def test_user_value_overrides_default(paths: Paths) -> None:
    write_user(paths, {"model.threads": 4, "model.temperature": 1})
    settings = Settings.load(paths)
    assert settings.get("model.threads") == 4
    assert settings.source("model.threads") == "user"
    # A whole number is fine for a decimal setting, and comes back as a float.
    assert settings.get("model.temperature") == 1.0
    assert type(settings.get("model.temperature")) is float
    assert settings.problems == []


def test_policy_overrides_user_and_locks(paths: Paths) -> None:
    write_user(paths, {"model.path": "/home/me/mine.gguf", "model.threads": 4})
    write_policy(paths, {"settings": {"model.path": "/opt/it.gguf"}})
    settings = Settings.load(paths)
    assert settings["model.path"] == "/opt/it.gguf"
    assert settings.source("model.path") == "policy"
    assert settings.is_locked("model.path")
    assert not settings.is_locked("model.threads")
    assert settings.problems == []


def test_flat_policy_object_is_accepted(paths: Paths) -> None:
    write_policy(paths, {"generation.enabled": False})
    settings = Settings.load(paths)
    assert settings["generation.enabled"] is False
    assert settings.is_locked("generation.enabled")


def test_other_policy_sections_are_reported_as_unknown(paths: Paths) -> None:
    write_policy(paths, {"settings": {"search.min_score": 0.5}, "packs": {"allow": ["x"]}})
    settings = Settings.load(paths)
    assert settings["search.min_score"] == 0.5
    [problem] = settings.problems
    assert "'packs'" in problem and "ignored" in problem


def test_set_on_locked_key_raises_and_names_it(paths: Paths) -> None:
    write_policy(paths, {"settings": {"model.threads": 2}})
    settings = Settings.load(paths)
    with pytest.raises(SettingError, match="IT department") as caught:
        settings.set("model.threads", 8)
    assert str(paths.policy_dir) in str(caught.value)
    assert settings["model.threads"] == 2


def test_effective_lists_every_setting_with_source_and_lock(paths: Paths) -> None:
    write_user(paths, {"search.limit": 20})
    write_policy(paths, {"settings": {"model.max_tokens": 100}})
    rows = {row.setting.key: row for row in Settings.load(paths).effective()}
    assert list(rows) == [setting.key for setting in SCHEMA]
    assert tuple(rows["model.max_tokens"])[1:] == (100, "policy", True)
    assert tuple(rows["search.limit"])[1:] == (20, "user", False)
    assert tuple(rows["ui.font_scale"])[1:] == (1.0, "default", False)


# Bad machine policy


def test_unknown_policy_key_is_reported_with_suggestion_and_not_applied(paths: Paths) -> None:
    write_policy(paths, {"settings": {"model.pth": "/opt/it.gguf"}})
    settings = Settings.load(paths)
    [problem] = settings.problems
    assert "model.pth" in problem
    assert "did you mean model.path?" in problem
    assert str(paths.policy) in problem
    assert settings["model.path"] == ""
    assert not settings.is_locked("model.path")


@pytest.mark.parametrize(
    ("key", "value", "user_value"),
    [
        ("model.context_size", "8192", 2048),  # text, not a number
        ("model.context_size", 100, 2048),  # below the minimum
        ("model.context_size", 8192.0, 2048),  # a decimal, not a whole number
        ("model.temperature", 2.5, 0.7),  # above the maximum
        ("model.threads", True, 4),  # a bool is not a number here
        ("generation.enabled", "no", False),
        ("generation.enabled", 0, False),
        ("model.path", 3, "/home/me/mine.gguf"),
        ("search.min_score", None, 0.5),
    ],
)
def test_invalid_policy_value_is_reported_and_ignored(
    paths: Paths, key: str, value: object, user_value: object
) -> None:
    write_user(paths, {key: user_value})
    write_policy(paths, {"settings": {key: value}})
    settings = Settings.load(paths)
    [problem] = settings.problems
    assert key in problem
    assert "ask IT" in problem
    if key == "generation.enabled":  # a loosening setting: its broken lock fails closed
        assert settings[key] is False and settings.is_locked(key)
        return
    assert settings[key] == user_value
    assert settings.source(key) == "user"
    assert not settings.is_locked(key)
    # A broken model.path may have named the only allowed model: no drafts until fixed.
    assert settings.is_locked("generation.enabled") == (key == "model.path")


def test_huge_number_in_policy_is_reported_not_fatal(paths: Paths) -> None:
    paths.policy.parent.mkdir(parents=True)
    text = '{"search.min_score": 1' + "0" * 5000 + ', "model.threads": 2}'
    paths.policy.write_text(text, encoding="utf-8")
    settings = Settings.load(paths)
    assert problems_about(settings, "search.min_score")
    assert settings["search.min_score"] == 0.3
    assert settings.is_locked("model.threads")  # the rest of the file still applies


def test_non_lockable_key_in_policy_is_reported_and_ignored(paths: Paths) -> None:
    write_user(paths, {"search.limit": 20})
    write_policy(paths, {"settings": {"search.limit": 3, "model.threads": 2}})
    settings = Settings.load(paths)
    [problem] = settings.problems
    assert "search.limit" in problem
    assert settings["search.limit"] == 20
    assert not settings.is_locked("search.limit")
    assert settings.set("search.limit", 5) == 5
    # The rest of the policy still applies.
    assert settings.is_locked("model.threads")


@pytest.mark.parametrize("text", ["{not json", '["model.path"]', '{"settings": 3}', "\xff"])
def test_malformed_policy_is_reported_and_fails_closed(paths: Paths, text: str) -> None:
    write_user(paths, {"model.threads": 4, "generation.enabled": True})
    paths.policy.parent.mkdir(parents=True)
    paths.policy.write_bytes(text.encode("latin-1"))
    settings = Settings.load(paths)
    assert all(str(paths.policy) in problem for problem in settings.problems)
    assert "ask IT" in settings.problems[0] or "IT must repair" in settings.problems[0]
    assert settings["model.threads"] == 4
    # Nobody can tell what the broken file locked: the loosening settings are locked safe.
    assert settings.is_locked("generation.enabled")
    assert settings["generation.enabled"] is False
    assert settings["sync.url"] == ""


def test_unreadable_policy_is_reported_not_fatal(paths: Paths) -> None:
    paths.policy.mkdir(parents=True)  # reading a directory fails, even as root
    settings = Settings.load(paths)
    [problem] = settings.problems
    assert str(paths.policy) in problem
    assert "folder" in problem or "denied" in problem or "regular file" in problem
    assert settings["model.path"] == ""
    assert settings["generation.enabled"] is False


def test_malformed_user_file_is_kept_aside_and_reported(paths: Paths) -> None:
    broken_text = '{"model.threads": 4,,,'
    paths.settings_file.parent.mkdir(parents=True)
    paths.settings_file.write_text(broken_text, encoding="utf-8")
    settings = Settings.load(paths)
    [kept] = paths.config.glob("settings.json.broken-*")
    assert kept.read_text(encoding="utf-8") == broken_text
    assert not paths.settings_file.exists()
    [problem] = settings.problems
    assert kept.name in problem
    assert settings["model.threads"] == 0
    settings.set("model.threads", 2)
    settings.save()
    assert kept.read_text(encoding="utf-8") == broken_text


def test_a_second_broken_user_file_does_not_replace_the_first(paths: Paths) -> None:
    paths.settings_file.parent.mkdir(parents=True)
    for text in ("first {", "second ["):
        paths.settings_file.write_text(text, encoding="utf-8")
        Settings.load(paths)
    kept = sorted(path.read_text(encoding="utf-8") for path in paths.config.glob("*.broken-*"))
    assert kept == ["first {", "second ["]


def test_user_file_that_is_not_an_object_is_kept_aside(paths: Paths) -> None:
    write_user(paths, ["model.threads", 4])
    settings = Settings.load(paths)
    assert len(list(paths.config.glob("settings.json.broken-*"))) == 1
    assert problems_about(settings, "not a JSON object")


def test_unknown_user_key_is_reported_and_kept_on_save(paths: Paths) -> None:
    write_user(paths, {"future.feature": {"nested": [1, 2]}, "model.threads": 4})
    settings = Settings.load(paths)
    [problem] = settings.problems
    assert "future.feature" in problem
    with pytest.raises(SettingError):
        settings.get("future.feature")
    settings.set("ui.font_scale", 1.5)
    settings.save()
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved == {"future.feature": {"nested": [1, 2]}, "model.threads": 4, "ui.font_scale": 1.5}


def test_invalid_user_value_is_ignored_but_kept_until_set(paths: Paths) -> None:
    write_user(paths, {"model.threads": -1})
    settings = Settings.load(paths)
    assert problems_about(settings, "model.threads")
    assert settings["model.threads"] == 0
    assert settings.source("model.threads") == "default"
    settings.save()
    assert json.loads(paths.settings_file.read_text(encoding="utf-8")) == {"model.threads": -1}
    settings.set("model.threads", 3)
    settings.save()
    assert json.loads(paths.settings_file.read_text(encoding="utf-8")) == {"model.threads": 3}


# Changing and saving


def test_save_round_trips_only_user_values(paths: Paths) -> None:
    write_policy(paths, {"settings": {"model.path": "/opt/it.gguf"}})
    settings = Settings.load(paths)
    settings.set("model.threads", 6)
    settings.set("generation.enabled", False)
    settings.set("ui.font_scale", 1.25)
    settings.save()
    saved = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert saved == {"generation.enabled": False, "model.threads": 6, "ui.font_scale": 1.25}
    again = Settings.load(paths)
    assert again.problems == []
    for key, value in saved.items():
        assert again[key] == value
        assert again.source(key) == "user"
    assert again["model.path"] == "/opt/it.gguf"


def test_save_is_atomic(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    write_user(paths, {"model.threads": 4})
    before = paths.settings_file.read_text(encoding="utf-8")
    settings = Settings.load(paths)
    settings.set("model.threads", 8)

    def crash(src: object, dst: object) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SettingError, match="disk vanished"):
        settings.save()
    assert paths.settings_file.read_text(encoding="utf-8") == before
    assert [path.name for path in paths.config.iterdir()] == ["settings.json"]


def test_reset_removes_the_user_value(paths: Paths) -> None:
    write_user(paths, {"model.threads": 4, "search.limit": 20})
    settings = Settings.load(paths)
    settings.reset("model.threads")
    assert settings["model.threads"] == 0
    assert settings.source("model.threads") == "default"
    settings.save()
    assert json.loads(paths.settings_file.read_text(encoding="utf-8")) == {"search.limit": 20}


def test_reset_drops_an_unknown_key_kept_from_the_file(paths: Paths) -> None:
    write_user(paths, {"future.feature": 1})
    settings = Settings.load(paths)
    settings.reset("future.feature")
    settings.save()
    assert json.loads(paths.settings_file.read_text(encoding="utf-8")) == {}


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("model.threads", "3", 3),
        ("model.threads", " 12 ", 12),
        ("model.temperature", "0.5", 0.5),
        ("model.temperature", "1", 1.0),
        ("generation.enabled", "false", False),
        ("generation.enabled", "TRUE", True),
        ("generation.enabled", "off", False),
        ("generation.enabled", "yes", True),
        ("model.path", "/models/a.gguf", "/models/a.gguf"),
        ("model.path", "123", "123"),
    ],
)
def test_set_coerces_text(paths: Paths, key: str, text: str, expected: object) -> None:
    settings = Settings(paths)
    assert settings.set(key, text) == expected
    assert settings[key] == expected
    assert type(settings[key]) is type(expected)
    assert settings.source(key) == "user"


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("model.threads", "three", "whole number from 0 to 256"),
        ("model.threads", "2.5", "whole number"),
        ("model.threads", 2.5, "whole number"),
        ("model.threads", True, "whole number"),
        ("model.context_size", "100", "from 512 to 131072"),
        ("model.context_size", 200000, "from 512 to 131072"),
        ("model.temperature", "nan", "number from 0.0 to 2.0"),
        ("model.temperature", "inf", "number from 0.0 to 2.0"),
        ("generation.enabled", "maybe", "true or false"),
        ("generation.enabled", 1, "true or false"),
        ("model.path", 3, "text"),
    ],
)
def test_set_rejects_invalid_values(paths: Paths, key: str, value: object, hint: str) -> None:
    settings = Settings(paths)
    with pytest.raises(SettingError, match=hint) as caught:
        settings.set(key, value)
    assert key in caught.value.message
    assert caught.value.fix
    assert settings[key] == lookup(key).default
    assert settings.source(key) == "default"


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("model.thread", "model.threads"), ("modle.path", "model.path"), ("limit", "search.limit")],
)
def test_unknown_key_suggests_the_closest(paths: Paths, typo: str, meant: str) -> None:
    settings = Settings(paths)
    with pytest.raises(SettingError, match=f"did you mean {meant}\\?"):
        settings.set(typo, 1)
    with pytest.raises(SettingError, match=f"did you mean {meant}\\?"):
        settings.get(typo)


def test_unknown_key_without_a_near_match_has_no_suggestion() -> None:
    with pytest.raises(SettingError) as caught:
        lookup("zzzzzz")
    assert "did you mean" not in str(caught.value)
