"""Managed policy (issue 16): mandatory and recommended sources, precedence, fail closed, and
every way an agent could unlock what IT locked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from desktop.core import managed
from desktop.core import paths as paths_module
from desktop.core.context import AppContext
from desktop.core.doctor import check_index, check_policy
from desktop.core.errors import ModelError, SyncError
from desktop.core.managed import REG_DWORD, REG_QWORD, REG_SZ, Trust
from desktop.core.paths import Paths
from desktop.core.settings import SCHEMA, Settings

ME = frozenset({0, os.getuid()})


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand in for /etc/deskmate/policies (its files owned by this test's user)."""
    root = tmp_path / "etc" / "deskmate" / "policies"
    (root / "managed").mkdir(parents=True)
    (root / "recommended").mkdir()
    monkeypatch.setattr(paths_module, "system_policy_dir", lambda: root)
    return root


def write(folder: Path, name: str, data: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def load(trust: frozenset[int] = ME) -> Settings:
    return Settings.load(Paths.from_env(), Trust(trust))


def dev() -> Path:
    return Path(os.environ["DESKMATE_POLICY_DIR"])


def assert_fail_safe(settings: Settings) -> None:
    for key, value in managed.SAFE.items():
        assert settings.is_locked(key) and settings[key] == value, key


# --- the environment cannot replace or weaken a machine policy -------------------------------


def test_an_empty_policy_via_the_environment_does_not_remove_machine_locks(
    system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(system / "managed", "it.json", {"generation.enabled": False})
    (tmp_path / "empty.json").write_text("{}")
    monkeypatch.setenv("DESKMATE_POLICY", str(tmp_path / "empty.json"))  # the 0.x override
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(tmp_path / "mine"))
    (tmp_path / "mine" / "managed").mkdir(parents=True)

    settings = load()

    assert settings.is_locked("generation.enabled") and settings["generation.enabled"] is False
    assert Paths.from_env().policy_dir == system
    text = " ".join(settings.problems)
    assert "DESKMATE_POLICY_DIR is ignored" in text and "DESKMATE_POLICY is no longer read" in text


def test_the_legacy_single_file_still_locks_after_an_upgrade(system: Path) -> None:
    (system.parent / "policy.json").write_text(json.dumps({"settings": {"model.threads": 2}}))
    assert load().is_locked("model.threads")


def test_a_development_folder_applies_when_there_is_no_machine_policy() -> None:
    write(dev() / "managed", "policy.json", {"model.threads": 3})
    settings = Settings.load(Paths.from_env())  # its owner: this user
    assert settings["model.threads"] == 3 and settings.is_locked("model.threads")


# --- owners, permissions, links --------------------------------------------------------------


def test_a_world_writable_policy_file_is_refused_and_fails_closed() -> None:
    path = write(dev() / "managed", "policy.json", {"generation.enabled": True, "model.threads": 2})
    path.chmod(0o666)
    settings = load()
    assert not settings.is_locked("model.threads")
    assert_fail_safe(settings)
    assert any("other users" in p and str(path) in p for p in settings.problems)


def test_a_policy_file_owned_by_another_user_is_refused() -> None:
    write(dev() / "managed", "policy.json", {"generation.enabled": True})
    settings = load(frozenset({os.getuid() + 1}))
    assert any("owned by user id" in p for p in settings.problems)
    assert_fail_safe(settings)


def test_a_symlinked_policy_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere, "policy.json", {"generation.enabled": True})
    (dev() / "managed").rmdir()
    (dev() / "managed").symlink_to(elsewhere)
    settings = load()
    assert any("symbolic link" in p for p in settings.problems)
    assert_fail_safe(settings)


def test_a_symlinked_policy_file_is_refused(tmp_path: Path) -> None:
    real = write(tmp_path, "real.json", {"generation.enabled": True})
    (dev() / "managed" / "policy.json").symlink_to(real)
    settings = load()
    assert any("symbolic link" in p for p in settings.problems)
    assert settings["generation.enabled"] is False


# --- broken content: keep every lock that can still be read -----------------------------------


def test_a_5001_digit_number_loses_only_its_own_key() -> None:
    text = '{"model.threads": 1' + "0" * 5000 + ', "listen.follow_clipboard": false}'
    write(dev() / "managed", "policy.json", text.encode())
    settings = load()
    assert not settings.is_locked("model.threads")
    assert settings.is_locked("listen.follow_clipboard")
    assert any("model.threads" in p for p in settings.problems)


@pytest.mark.parametrize(
    "raw",
    [b'{"generation.enabled": false, "x": "\xff"}', b"{not json", b"[1]", b'{"settings": 3}'],
    ids=["invalid-utf8", "bad-json", "not-an-object", "settings-wrong-type"],
)
def test_an_unreadable_file_keeps_the_other_files_locks_and_fails_closed(raw: bytes) -> None:
    write(dev() / "managed", "10-broken.json", raw)
    write(dev() / "managed", "20-good.json", {"model.threads": 2, "sync.url": "https://x.test"})
    settings = load()
    assert settings.is_locked("model.threads") and settings["model.threads"] == 2
    assert settings["sync.url"] == "https://x.test"  # set validly elsewhere: kept
    assert settings["generation.enabled"] is False and settings.is_locked("generation.enabled")
    assert any("10-broken.json" in p for p in settings.problems)


@pytest.mark.parametrize(
    ("key", "value"),
    [("generation.enabled", "no"), ("listen.follow_clipboard", 1), ("model.allowed_sha256", 5)],
)
def test_a_setting_of_the_wrong_type_locks_its_safe_value(key: str, value: object) -> None:
    write(dev() / "managed", "policy.json", {key: value})
    settings = load()
    guarded = managed.GUARDS[key][0]
    assert settings.is_locked(guarded) and settings[guarded] == managed.SAFE[guarded]
    assert any(key in p for p in settings.problems)


def test_duplicate_keys_are_reported_and_never_pick_the_looser_value() -> None:
    raw = b'{"generation.enabled": false, "model.threads": 2, "generation.enabled": true}'
    write(dev() / "managed", "policy.json", raw)
    settings = load()
    assert settings["generation.enabled"] is False and settings.is_locked("generation.enabled")
    assert any("more than once" in p for p in settings.problems)
    assert settings.is_locked("model.threads")


# --- levels, precedence, conflicts ------------------------------------------------------------


def test_precedence_is_mandatory_then_user_then_recommended_then_default() -> None:
    write(dev() / "recommended", "r.json", {"model.threads": 3, "search.limit": 7})
    write(dev() / "managed", "m.json", {"model.threads": 2})
    settings = load()
    assert settings["model.threads"] == 2 and settings.source("model.threads") == "policy"
    assert settings["search.limit"] == 7 and settings.source("search.limit") == "recommended"
    assert not settings.is_locked("search.limit")
    settings.set("search.limit", 9)  # recommended: the user may change it
    assert settings["search.limit"] == 9 and settings.source("search.limit") == "user"


def test_a_conflict_between_two_files_is_reported_and_the_later_file_wins() -> None:
    write(dev() / "managed", "10-a.json", {"model.threads": 2})
    write(dev() / "managed", "20-b.json", {"model.threads": 4})
    settings = load()
    assert settings["model.threads"] == 4
    assert any("conflict" in p and "10-a.json" in p for p in settings.problems)
    statuses = {(r.source.rsplit("/", 1)[-1], r.status) for r in settings.machine.rows}
    assert {("10-a.json", "conflict"), ("20-b.json", "conflict")} <= statuses


def test_unknown_keys_and_recommended_sensitive_topics_are_reported_not_applied() -> None:
    write(dev() / "recommended", "r.json", {"model.pth": "x", "sensitive_topics": {}})
    settings = load()
    rows = {r.key: r.status for r in settings.machine.rows}
    assert rows["model.pth"] == "unknown"
    assert any("only read from mandatory" in p for p in settings.problems)
    assert not settings.machine.managed


# --- Windows registry and macOS managed preferences (injected readers) -----------------------


class FakeRegistry:
    def __init__(self, keys: dict[tuple[str, str], list[tuple[str, object, int]]]) -> None:
        self.keys = keys

    def values(self, hive: str, key: str) -> list[tuple[str, object, int]]:
        return self.keys.get((hive, key), [])


KINDS = {s.key: s.type for s in SCHEMA}
KEY = managed.REGISTRY_KEY


def _resolve(sources: list[managed.RawSource]) -> managed.MachinePolicy:
    from desktop.core.settings import _validate_policy

    return managed.resolve(sources, _validate_policy)


def test_registry_values_map_to_schema_types_and_hklm_wins() -> None:
    registry = FakeRegistry(
        {
            ("HKLM", KEY): [
                ("generation.enabled", 0, REG_DWORD),
                ("model.threads", 4, REG_QWORD),
                ("search.min_score", "0.5", REG_SZ),
                ("sync.url", "https://packs.example", REG_SZ),
            ],
            ("HKCU", KEY): [("model.threads", 8, REG_DWORD)],
            ("HKLM", KEY + "\\Recommended"): [("search.limit", 7, REG_DWORD)],
        }
    )
    policy = _resolve(managed.read_registry(registry, KINDS))
    assert policy.mandatory["generation.enabled"] is False
    assert policy.mandatory["model.threads"] == 4  # HKLM over HKCU
    assert policy.mandatory["search.min_score"] == 0.5
    assert policy.recommended == {"search.limit": 7}
    assert any("conflict" in p and "HKCU" in p for p in policy.problems)


@pytest.mark.parametrize(
    ("key", "data", "reg_type"),
    [
        ("generation.enabled", "false", REG_SZ),
        ("generation.enabled", 2, REG_DWORD),
        ("model.threads", "4", REG_SZ),
        ("sync.url", 1, REG_DWORD),
    ],
)
def test_a_registry_value_of_the_wrong_type_is_reported_and_never_loosens(
    key: str, data: object, reg_type: int
) -> None:
    registry = FakeRegistry({("HKLM", KEY): [(key, data, reg_type)]})
    policy = _resolve(managed.read_registry(registry, KINDS))
    assert any(key in p and "registry type" in p for p in policy.problems)
    for guarded in managed.GUARDS.get(key, ()):
        assert policy.mandatory[guarded] == managed.SAFE[guarded]
    if key == "model.threads":
        assert "model.threads" not in policy.mandatory


def test_macos_managed_preferences_are_mandatory() -> None:
    sources = managed.read_plist({"generation.enabled": False}, "com.deskmate.Deskmate")
    policy = _resolve(sources)
    assert policy.mandatory["generation.enabled"] is False and policy.managed
    assert managed.read_plist(None, "x") == []


# --- sanctioned knowledge ---------------------------------------------------------------------


def _packs(home: Path) -> Path:
    packs = home / "data" / "packs"
    for name in ("demo", "mine", "synced"):
        (packs / name).mkdir(parents=True)
        (packs / name / "manifest.json").write_text("{}")
    (packs / "synced" / "current").write_text(json.dumps({"current": "v1"}))
    (packs / "synced" / "versions" / "v1").mkdir(parents=True)
    return packs


def test_a_user_dropped_pack_and_the_demo_are_not_served_under_a_managed_policy(
    deskmate_home: Path,
) -> None:
    _packs(deskmate_home)
    write(dev() / "managed", "policy.json", {"sync.url": "https://packs.example"})
    paths = Paths.from_env()
    context = AppContext(paths, Settings.load(paths))
    assert [p.parent.parent.name for p in context.pack_dirs()] == ["synced"]
    skipped = {p.pack: p.message for p in context.skipped_packs()}
    assert set(skipped) == {"demo", "mine"}
    assert "not installed by signed sync" in skipped["mine"] and "machine policy" in skipped["mine"]


def test_without_a_managed_policy_every_pack_is_served(deskmate_home: Path) -> None:
    _packs(deskmate_home)
    context = AppContext.from_env()
    assert {p.name for p in context.pack_dirs()} == {"demo", "mine", "v1"}
    assert context.skipped_packs() == []


def test_policy_can_allow_user_packs_and_the_demo_explicitly(deskmate_home: Path) -> None:
    _packs(deskmate_home)
    write(
        dev() / "managed",
        "policy.json",
        {"knowledge.allow_user_packs": True, "knowledge.demo_enabled": True},
    )
    assert {p.name for p in AppContext.from_env().pack_dirs()} == {"demo", "mine", "v1"}


def test_the_user_cannot_turn_user_packs_back_on_under_a_managed_policy() -> None:
    write(dev() / "managed", "policy.json", {"model.threads": 2})
    settings = load()
    assert settings.is_locked("knowledge.allow_user_packs")
    assert settings["knowledge.demo_enabled"] is False


# --- the sync trust root ----------------------------------------------------------------------


def test_root_json_beside_an_env_policy_is_not_trusted_under_a_machine_policy(
    system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.core.sync.client import trusted_root

    write(system / "managed", "it.json", {"sync.url": "https://packs.example"})
    mine = tmp_path / "mine"
    write(mine, "root.json", {"signed": "by me"})
    write(mine / "sync", "root.json", {"signed": "by me"})
    monkeypatch.setenv("DESKMATE_POLICY_DIR", str(mine))
    monkeypatch.setenv("DESKMATE_RESOURCES", str(mine))
    paths = Paths.from_env()
    settings = Settings.load(paths, Trust(ME))
    settings.set("sync.root", str(mine / "root.json"))  # the user's own value: not trusted

    with pytest.raises(SyncError, match="no trusted root"):
        trusted_root(paths, settings)
    (system / "root.json").write_text('{"signed": "by IT"}')
    assert trusted_root(paths, settings) == (system / "root.json", b'{"signed": "by IT"}')


# --- doctor -----------------------------------------------------------------------------------


def test_doctor_names_a_refused_source_and_the_fix() -> None:
    path = write(dev() / "managed", "policy.json", {"model.threads": 2})
    path.chmod(0o666)
    paths = Paths.from_env()
    check = check_policy(AppContext(paths, Settings.load(paths)))
    assert check.status == "error" and str(path) in check.message
    assert "chmod 644" in check.fix


@pytest.mark.slow
def test_doctor_says_which_packs_were_skipped(deskmate_home: Path, demo_pack: Path) -> None:
    import shutil

    packs = _packs(deskmate_home)
    shutil.rmtree(packs / "synced")
    shutil.copytree(demo_pack, packs / "synced" / "versions" / "v1")
    (packs / "synced" / "current").write_text(json.dumps({"current": "v1"}))
    write(dev() / "managed", "policy.json", {"model.threads": 2})
    check = check_index(AppContext.from_env())
    assert check.status == "warning" and "'mine'" in check.message
    assert "demo pack is off" in check.message


# --- the model allow-list ---------------------------------------------------------------------


def _forge_cache(paths: Paths, model: Path, digest: str) -> None:
    """What Deskmate 0.x trusted: one line in the user's own cache/model-sha256.json."""
    info = model.stat()
    key = f"{model.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    paths.cache.mkdir(parents=True, exist_ok=True)
    (paths.cache / "model-sha256.json").write_text(json.dumps({key: digest}))


def test_a_forged_hash_cache_does_not_pass_the_allow_list(tmp_path: Path) -> None:
    approved = "ab" * 32
    write(dev() / "managed", "policy.json", {"model.allowed_sha256": approved})
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"GGUF" + b"\0" * 64)
    paths = Paths.from_env()
    _forge_cache(paths, mine, approved)
    context = AppContext(paths, Settings.load(paths), model_path=mine)
    with pytest.raises(ModelError, match="not one of the models your IT department allows"):
        context.engine()


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="sealed copies are Linux-only")
def test_the_checked_bytes_are_kept_sealed_so_a_swap_after_the_check_is_not_loaded(
    tmp_path: Path,
) -> None:
    import hashlib

    from desktop.core.generation.engine import check_allowed

    model = tmp_path / "model.gguf"
    model.write_bytes(b"approved weights" * 1000)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    fd = check_allowed(model, f"{'0' * 64},{digest}", keep=True)
    assert fd is not None
    try:
        model.write_bytes(b"other weights")  # the agent swaps the file after the check
        loaded = Path(f"/proc/self/fd/{fd}").read_bytes()
        assert hashlib.sha256(loaded).hexdigest() == digest
        with pytest.raises(PermissionError):
            os.write(fd, b"x")  # sealed: not even this process can change it
    finally:
        os.close(fd)
    assert check_allowed(model, "") is None


@pytest.mark.slow
def test_the_engine_loads_the_allowed_bytes_even_if_the_file_changes(
    tmp_path: Path, smollm2_path: Path
) -> None:
    import shutil

    from desktop.core.generation.engine import file_sha256

    model = tmp_path / "model.gguf"
    shutil.copyfile(smollm2_path, model)
    write(dev() / "managed", "policy.json", {"model.allowed_sha256": file_sha256(model)})
    paths = Paths.from_env()
    engine = AppContext(paths, Settings.load(paths), model_path=model).engine()
    assert engine is not None
    with model.open("r+b") as handle:  # cut short in place after the check: unloadable by path
        handle.truncate(4096)
    engine.load()
    assert engine.count_tokens("hello world") > 0 and engine.verified_fd is None


def test_without_a_machine_policy_the_users_own_sync_root_is_used(tmp_path: Path) -> None:
    from desktop.core.sync.client import trusted_root

    mine = write(tmp_path, "root.json", {"signed": "by me"})
    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("sync.root", str(mine))
    assert trusted_root(paths, settings)[0] == mine


def test_resources_cannot_be_redirected_under_a_machine_policy(
    system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.core.context import installed_resources_dir, resources_dir

    monkeypatch.setenv("DESKMATE_RESOURCES", str(tmp_path / "no-safety-rules"))
    assert resources_dir() == installed_resources_dir()
    system.rename(tmp_path / "gone")  # no machine policy: development may redirect them
    assert resources_dir() == tmp_path / "no-safety-rules"
