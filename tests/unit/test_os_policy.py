"""Windows and macOS code paths of machine policy and folders (issue 16), through an injected OS
policy store and platformdirs: the registry is Windows' machine policy (no folder in %ProgramData%
is trusted: any user may create one there), managed preferences are macOS's, and each makes the
machine managed, so the environment can no longer replace or add to it."""

from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest

from desktop.core import paths as paths_module
from desktop.core import policy_sources
from desktop.core.errors import SyncError
from desktop.core.managed import REG_DWORD, REG_SZ, REGISTRY_KEY, Trust
from desktop.core.paths import Paths, machine_policy_exists
from desktop.core.policy_sources import OSPolicy
from desktop.core.settings import Settings


class FakeRegistry:
    def __init__(self, keys: dict[tuple[str, str], list[tuple[str, object, int]]]) -> None:
        self.keys = keys

    def values(self, hive: str, key: str) -> list[tuple[str, object, int]]:
        return self.keys.get((hive, key), [])


@pytest.fixture
def program_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """%ProgramData%\\Deskmate\\policies, made by a standard user (allowed on Windows)."""
    root = tmp_path / "ProgramData" / "Deskmate" / "policies"
    (root / "managed").mkdir(parents=True)
    (root / "managed" / "mine.json").write_text(
        json.dumps({"knowledge.allow_user_packs": True, "sync.url": "https://mine.example"})
    )
    (root / "root.json").write_text(json.dumps({"signed": "by the user"}))
    monkeypatch.setattr(paths_module, "system_policy_dir", lambda: root)
    return root


def windows(monkeypatch: pytest.MonkeyPatch, values: list[tuple[str, object, int]]) -> None:
    registry = FakeRegistry({("HKLM", REGISTRY_KEY): values}) if values else FakeRegistry({})
    monkeypatch.setattr(policy_sources, "os_policy", lambda: OSPolicy("win32", registry))


def load() -> Settings:
    me = Trust(frozenset({0, __import__("os").getuid()}))  # the folder would pass as root's
    return Settings.load(Paths.from_env(), me)


def test_windows_reads_the_registry_and_never_a_programdata_folder(
    program_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows(monkeypatch, [("sync.interval_minutes", 60, REG_DWORD)])
    assert machine_policy_exists() and Paths.from_env().machine_policy
    settings = load()
    assert settings["sync.interval_minutes"] == 60 and settings.is_locked("sync.interval_minutes")
    # a user's folder in %ProgramData% adds no lock and loosens none
    assert settings["knowledge.allow_user_packs"] is False
    assert settings.is_locked("knowledge.allow_user_packs")
    assert settings["sync.url"] != "https://mine.example"
    assert any("is not read: on Windows" in p for p in settings.problems)


def test_on_windows_the_environment_cannot_replace_registry_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows(monkeypatch, [("generation.enabled", 0, REG_DWORD)])
    mine = tmp_path / "mine"
    (mine / "managed").mkdir(parents=True)
    (mine / "managed" / "p.json").write_text(json.dumps({"knowledge.allow_user_packs": True}))
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(mine))
    settings = load()
    assert settings["generation.enabled"] is False and settings.is_locked("generation.enabled")
    assert settings["knowledge.allow_user_packs"] is False  # managed: off unless IT turns it on
    assert any("DESKMATE_POLICY_DIR is ignored" in p for p in settings.problems)


def test_on_windows_a_root_json_planted_in_programdata_is_not_trusted(
    program_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.core.sync.client import trusted_root

    windows(monkeypatch, [("sync.url", "https://packs.example", REG_SZ)])
    paths = Paths.from_env()
    try:
        found = trusted_root(paths, Settings.load(paths))[0]
    except SyncError as err:
        assert str(program_data) not in err.message
    else:
        assert program_data not in found.parents


def test_an_empty_registry_is_not_a_managed_windows_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    windows(monkeypatch, [])
    assert not machine_policy_exists()
    store = OSPolicy(
        "win32", FakeRegistry({("HKCU", REGISTRY_KEY + "\\Recommended"): [("x", 1, 4)]})
    )
    assert store.exists()  # a recommended value in HKCU is policy too


def test_macos_managed_preferences_make_a_managed_machine(tmp_path: Path) -> None:
    plist = tmp_path / "com.deskmate.Deskmate.plist"
    store = OSPolicy("darwin", plist=plist)
    assert not store.exists() and store.sources({}) == []
    plist.write_bytes(plistlib.dumps({"generation.enabled": False}))
    (source,) = store.sources({})
    assert store.exists() and source.level == "mandatory"
    assert source.entries == {"generation.enabled": False}
    plist.write_bytes(plistlib.dumps(["not", "a", "dict"]))
    (broken,) = store.sources({})
    assert "not a dictionary" in broken.broken
    assert store.reads_policy_folders  # /Library/Application Support/Deskmate/policies


# As imported, before conftest points this process's machine folder at one that does not exist.
SYSTEM_POLICY_DIR = paths_module.system_policy_dir


def test_policy_folders_per_os(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAMDATA", "D:\\Data")
    assert SYSTEM_POLICY_DIR("win32") == Path("D:\\Data") / "Deskmate" / "policies"
    mac = SYSTEM_POLICY_DIR("darwin")
    assert mac == Path("/Library/Application Support/Deskmate/policies")
    assert SYSTEM_POLICY_DIR("linux") == Path("/etc/deskmate/policies")


def test_user_folders_on_windows_are_local_not_roaming(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs.windows as win

    monkeypatch.delenv("DESKMATE_HOME")
    monkeypatch.setenv("LOCALAPPDATA", "/Users/a/AppData/Local")
    monkeypatch.setenv("APPDATA", "/Users/a/AppData/Roaming")
    monkeypatch.setattr(win, "_RESOLVE_WIN_FOLDER", win.get_win_folder_from_env_vars)
    paths = Paths.from_env(win.Windows("deskmate", appauthor=False))
    local = Path("/Users/a/AppData/Local/deskmate")
    assert paths.data == local and paths.config == local  # models and packs never roam
    assert paths.cache == local / "Cache" and paths.logs == local / "Logs"


def test_user_folders_on_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs.macos as mac

    monkeypatch.delenv("DESKMATE_HOME")
    monkeypatch.setenv("HOME", "/Users/a")
    paths = Paths.from_env(mac.MacOS("deskmate", appauthor=False))
    assert paths.data == Path("/Users/a/Library/Application Support/deskmate")
    assert paths.cache == Path("/Users/a/Library/Caches/deskmate")
    assert paths.logs == Path("/Users/a/Library/Logs/deskmate")
