"""Machine policy the way Chrome and Edge manage it: mandatory and recommended sources, fail closed.

Sources (readers, one per platform; each returns :class:`RawSource` objects):

* Linux (and any POSIX system): ``/etc/deskmate/policies/managed/*.json`` (mandatory, locked)
  and ``/etc/deskmate/policies/recommended/*.json`` (a default the user may change). Each file is a
  JSON object of setting keys to values, ``{"generation.enabled": false}``. The reserved key
  ``sensitive_topics`` holds the sensitive-topics section (:mod:`desktop.core.policy`; mandatory
  files only). The 0.x form ``{"settings": {...}, "sensitive_topics": {...}}`` is still read, and
  so is the 0.x single file ``/etc/deskmate/policy.json`` (as a mandatory source), so that an
  upgrade never drops a lock. Files and folders must be owned by root, not writable by group or
  others, and not symlinks; otherwise they are refused with the reason.
* Windows: ``HKLM`` then ``HKCU`` ``SOFTWARE\\Policies\\Deskmate`` (mandatory) and its
  ``\\Recommended`` subkey (REG_DWORD for true/false and whole numbers, REG_SZ for text and
  decimals), through :class:`RegistryAccess`.
* macOS: the managed preferences ``com.deskmate.Deskmate`` (mandatory), through a plist reader.

Precedence is Chrome's: mandatory > user > recommended > default. Within one level, sources are
read in a fixed order (files by name; HKCU before HKLM) and a later source wins; a key set to
different values by two sources of one level is reported as a conflict.

Failing closed: a key whose value is unusable (wrong type, out of range, a 5,001-digit number, a
duplicate key) is reported and never applied; a source that cannot be read at all (bad JSON,
invalid UTF-8, refused for its owner or permissions) is reported and every other source still
applies. Because nobody can tell what an unreadable mandatory source locked, the settings that
loosen control (:data:`SAFE`) are then locked to their safe value unless another mandatory
source sets them validly: no model drafts, no sync, no clipboard following, no customer text in
the log, no user or demo packs, until IT fixes the source. A broken key of one of those settings
locks its safe value the same way (:data:`GUARDS`).

Under a machine policy ``knowledge.allow_user_packs`` and ``knowledge.demo_enabled`` are locked
off unless the mandatory level sets them (:data:`MANAGED_DEFAULTS`).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from desktop.core.context import AppContext

Level = Literal["mandatory", "recommended"]
Status = Literal["applied", "unknown", "invalid", "overridden", "conflict", "fail-safe"]
Validate = Callable[[Level, str, object], object]  # the value as applied, or raises ValueError

TOPICS_KEY = "sensitive_topics"
LEGACY_KEY = "settings"
MAX_NUMBER_DIGITS = 100  # any real setting needs far fewer; 5,001 digits is an attack on int()
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32

SAFE: Mapping[str, object] = MappingProxyType(
    {
        "generation.enabled": False,
        "sync.url": "",
        "listen.follow_clipboard": False,
        "log.customer_text": False,
        "knowledge.allow_user_packs": False,
        "knowledge.demo_enabled": False,
    }
)
# A broken key on the left locks the safe values on the right.
GUARDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "generation.enabled": ("generation.enabled",),
        "model.path": ("generation.enabled",),
        "model.allowed_sha256": ("generation.enabled",),
        "sync.url": ("sync.url",),
        "sync.root": ("sync.url",),
        "listen.follow_clipboard": ("listen.follow_clipboard",),
        "log.customer_text": ("log.customer_text",),
        "knowledge.allow_user_packs": ("knowledge.allow_user_packs",),
        "knowledge.demo_enabled": ("knowledge.demo_enabled",),
        LEGACY_KEY: tuple(SAFE),  # the 0.x file's whole "settings" object is unusable
    }
)
MANAGED_DEFAULTS: Mapping[str, object] = MappingProxyType(
    {"knowledge.allow_user_packs": False, "knowledge.demo_enabled": False}
)


class PolicyError(ValueError):
    """One policy entry or source that cannot be used, with the reason."""


@dataclass
class RawSource:
    """What one policy source holds: its entries as read, the keys broken while reading (with the
    reason) and, when nothing could be read, why."""

    level: Level
    name: str
    entries: dict[str, object] = field(default_factory=dict)
    broken_keys: dict[str, str] = field(default_factory=dict)
    broken: str = ""


@dataclass(frozen=True)
class PolicyRow:
    """One line of ``deskmate policy``: a key one source sets, and what became of it."""

    key: str
    value: object
    level: Level
    source: str
    status: Status
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "value": self.value,
            "level": self.level,
            "source": self.source,
            "status": self.status,
            "message": self.message,
        }


@dataclass
class MachinePolicy:
    """The policy in force: locked and recommended values, every row, and every problem."""

    mandatory: dict[str, object] = field(default_factory=dict)
    recommended: dict[str, object] = field(default_factory=dict)
    rows: list[PolicyRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sources: list[RawSource] = field(default_factory=list)
    topics: list[tuple[str, object]] = field(default_factory=list)  # (source, section)

    @property
    def managed(self) -> bool:
        """Whether any mandatory source exists (readable or not): a managed install."""
        return any(source.level == "mandatory" for source in self.sources)

    def refused(self) -> list[RawSource]:
        return [source for source in self.sources if source.broken]


# --- JSON files ----------------------------------------------------------------------------------


class _TooLong:
    """A number with more digits than any setting uses; never a valid value."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<a number with {len(self.text)} digits>"


def _number(kind: Callable[[str], object]) -> Callable[[str], object]:
    def parse(text: str) -> object:
        return _TooLong(text) if len(text) > MAX_NUMBER_DIGITS else kind(text)

    return parse


def _pairs(duplicates: list[str]) -> Callable[[list[tuple[str, object]]], dict[str, object]]:
    def hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        seen: dict[str, object] = {}
        for key, value in pairs:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    return hook


def parse_policy_json(raw: bytes, level: Level, name: str) -> RawSource:
    """A policy file's bytes as a source; broken keys and a broken file are reported, not raised."""
    source = RawSource(level, name)
    duplicates: list[str] = []
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_pairs(duplicates),
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=lambda word: _TooLong(word),
        )
    except UnicodeDecodeError as err:
        source.broken = f"it is not UTF-8 text ({err.reason} at byte {err.start})"
        return source
    except RecursionError:
        source.broken = "it is nested absurdly deep"
        return source
    except ValueError as err:
        source.broken = f"it is not valid JSON ({err})"
        return source
    if not isinstance(data, dict):
        source.broken = "it is not a JSON object of setting keys and values"
        return source
    if _depth(data) > MAX_DEPTH:
        source.broken = f"it is nested more than {MAX_DEPTH} levels deep"
        return source
    _flatten(data, source)
    for key in dict.fromkeys(duplicates):
        source.broken_keys[key] = (
            "is set more than once in the file, so which value IT meant is unknown"
        )
    return source


def _depth(data: object) -> int:
    deepest, pending = 0, [(data, 1)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH and isinstance(value, (dict, list)):
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _flatten(data: dict[str, object], source: RawSource) -> None:
    legacy = data.pop(LEGACY_KEY, None)
    if legacy is not None and not isinstance(legacy, dict):
        source.broken_keys[LEGACY_KEY] = '"settings" is not a JSON object of setting keys'
    elif isinstance(legacy, dict):
        for key, value in legacy.items():
            if key in data:
                source.broken_keys[key] = 'is set both inside and outside "settings"'
            data[key] = value
    source.entries = data


@dataclass(frozen=True)
class Trust:
    """Who may own policy files and folders. The machine folder trusts root only; a development
    folder (``DESKMATE_POLICY_DIR``) also its own user. Tests inject other owners."""

    owners: frozenset[int]

    def problem(self, info: os.stat_result, what: str) -> str:
        """Why a file or folder with *info* must not be trusted, or ''."""
        if stat.S_ISLNK(info.st_mode):
            return f"{what} is a symbolic link (links are refused: they can point anywhere)"
        if info.st_uid not in self.owners:
            return f"{what} is owned by user id {info.st_uid}, not by root"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{what} can be changed by other users (mode {stat.S_IMODE(info.st_mode):o})"
        return ""


def machine_trust() -> Trust:
    return Trust(frozenset({0}))


def development_trust() -> Trust:
    return Trust(frozenset({0, os.getuid()})) if hasattr(os, "getuid") else Trust(frozenset({0}))


def read_folder(folder: Path, level: Level, trust: Trust) -> list[RawSource]:
    """The ``*.json`` files of *folder* in name order; [] when it does not exist."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return []
    except OSError as err:
        return [RawSource(level, str(folder), broken=f"the folder cannot be read ({err})")]
    refused = trust.problem(info, "the folder")
    if not refused and not stat.S_ISDIR(info.st_mode):
        refused = "it is not a folder"
    if refused:
        return [RawSource(level, str(folder), broken=refused)]
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    except OSError as err:
        return [RawSource(level, str(folder), broken=f"the folder cannot be listed ({err})")]
    return [read_file(folder / name, level, trust) for name in names]


def read_file(path: Path, level: Level, trust: Trust) -> RawSource:
    """One policy file, opened without following links and checked on the open file itself."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        refused = trust.problem(path.lstat(), "the file") if path.is_symlink() else ""
        return RawSource(level, str(path), broken=refused or f"it cannot be read ({err.strerror})")
    try:
        info = os.fstat(fd)
        refused = trust.problem(info, "the file")
        if not refused and not stat.S_ISREG(info.st_mode):
            refused = "it is not a regular file"
        raw = b"" if refused else os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as err:
        refused = f"it cannot be read ({err.strerror})"
    finally:
        os.close(fd)
    if refused:
        return RawSource(level, str(path), broken=refused)
    if len(raw) > MAX_FILE_BYTES:
        return RawSource(level, str(path), broken=f"it is larger than {MAX_FILE_BYTES} bytes")
    return parse_policy_json(raw, level, str(path))


def read_policy_dir(root: Path, trust: Trust, legacy: Path | None = None) -> list[RawSource]:
    """Mandatory then recommended sources under *root* (and the 0.x file *legacy*, if any)."""
    sources: list[RawSource] = []
    if legacy is not None and os.path.lexists(legacy):
        sources.append(read_file(legacy, "mandatory", trust))
    if os.path.lexists(root):
        refused = trust.problem(root.lstat(), "the policy folder")
        if refused:
            return [*sources, RawSource("mandatory", str(root), broken=refused)]
    sources += read_folder(root / "managed", "mandatory", trust)
    sources += read_folder(root / "recommended", "recommended", trust)
    return sources


# --- Windows registry and macOS managed preferences ------------------------------------------

REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD = 1, 2, 4, 11
REGISTRY_KEY = r"SOFTWARE\Policies\Deskmate"


class RegistryAccess(Protocol):
    """Reads one registry key's values as (name, data, type); [] when the key does not exist."""

    def values(self, hive: str, key: str) -> list[tuple[str, object, int]]: ...


def registry_value(kind: type | None, data: object, reg_type: int) -> object:
    """A registry value as the schema type *kind* takes it; PolicyError for a wrong type."""
    if kind is bool and reg_type == REG_DWORD and data in (0, 1):
        return bool(data)
    if kind is int and reg_type in (REG_DWORD, REG_QWORD) and isinstance(data, int):
        return data
    if kind is str and reg_type in (REG_SZ, REG_EXPAND_SZ) and isinstance(data, str):
        return data
    if kind is float and reg_type == REG_SZ and isinstance(data, str):
        try:
            return float(data)
        except ValueError:
            raise PolicyError(f"{data!r} is not a decimal number") from None
    if kind is float and reg_type == REG_DWORD and isinstance(data, int):
        return float(data)
    wanted = {bool: "REG_DWORD 0 or 1", int: "REG_DWORD", str: "REG_SZ", float: "REG_SZ"}
    use = wanted.get(kind, "a known setting") if kind is not None else "a known setting"
    raise PolicyError(f"has registry type {reg_type}; use {use}")


def read_registry(access: RegistryAccess, kinds: Mapping[str, type]) -> list[RawSource]:
    """HKCU then HKLM (HKLM wins), mandatory then ``\\Recommended``."""
    sources = []
    levels: tuple[tuple[Level, str], ...] = (("mandatory", ""), ("recommended", "\\Recommended"))
    for level, sub in levels:
        for hive in ("HKCU", "HKLM"):
            values = access.values(hive, REGISTRY_KEY + sub)
            if values:
                sources.append(
                    _registry_source(level, f"{hive}\\{REGISTRY_KEY}{sub}", values, kinds)
                )
    return sources


def _registry_source(
    level: Level, name: str, values: Iterable[tuple[str, object, int]], kinds: Mapping[str, type]
) -> RawSource:
    source = RawSource(level, name)
    for key, data, reg_type in values:
        if key == TOPICS_KEY and reg_type == REG_SZ and isinstance(data, str):
            inner = parse_policy_json(data.encode("utf-8"), level, name)
            source.entries[key] = inner.entries if not inner.broken else {}
            continue
        try:
            source.entries[key] = registry_value(kinds.get(key), data, reg_type)
        except PolicyError as err:
            source.broken_keys[key] = str(err)
    return source


def read_plist(data: Mapping[str, object] | None, name: str) -> list[RawSource]:
    """macOS managed preferences (already parsed by plistlib); plist types map directly."""
    if data is None:
        return []
    return [RawSource("mandatory", name, entries=dict(data))]


def platform_sources(kinds: Mapping[str, type]) -> list[RawSource]:  # pragma: no cover - per OS
    """The registry or managed preferences of this machine (nothing on Linux)."""
    if sys.platform == "win32":
        return read_registry(_WinReg(), kinds)
    if sys.platform == "darwin":
        import plistlib

        path = Path("/Library/Managed Preferences/com.deskmate.Deskmate.plist")
        try:
            return read_plist(plistlib.loads(path.read_bytes()), str(path))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as err:
            return [RawSource("mandatory", str(path), broken=f"it cannot be read ({err})")]
    return []


class _WinReg:  # pragma: no cover - Windows only
    def values(self, hive: str, key: str) -> list[tuple[str, object, int]]:
        import importlib

        winreg: Any = importlib.import_module("winreg")

        root = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}[hive]
        try:
            handle = winreg.OpenKey(root, key)
        except OSError:
            return []
        found: list[tuple[str, object, int]] = []
        with handle:
            index = 0
            while True:
                try:
                    name, data, kind = winreg.EnumValue(handle, index)
                except OSError:
                    return found
                found.append((str(name), data, int(kind)))
                index += 1


# --- merging -------------------------------------------------------------------------------------


def resolve(sources: list[RawSource], validate: Validate) -> MachinePolicy:
    """Merge *sources* (in order; later wins within a level) into the policy in force."""
    policy = MachinePolicy(sources=sources)
    chosen: dict[tuple[Level, str], PolicyRow] = {}
    broken_mandatory = False
    guarded: set[str] = set()
    for source in sources:
        if source.broken:
            policy.problems.append(_refused(source))
            broken_mandatory |= source.level == "mandatory"
            continue
        for key, value in source.entries.items():
            if key in source.broken_keys:
                continue  # reported below; which value IT meant is unknown
            if key == TOPICS_KEY:
                _topics(policy, source, value)
                continue
            row = _row(source, key, value, validate)
            if row.status == "invalid":
                policy.problems.append(_ignored(source, row.message))
                if source.level == "mandatory":
                    guarded.update(GUARDS.get(key, ()))
                policy.rows.append(row)
                continue
            if row.status == "unknown":
                policy.problems.append(_ignored(source, row.message))
                policy.rows.append(row)
                continue
            _place(policy, chosen, row)
        for key, reason in source.broken_keys.items():
            policy.rows.append(PolicyRow(key, None, source.level, source.name, "invalid", reason))
            policy.problems.append(_ignored(source, f"{key} {reason}."))
            if source.level == "mandatory":
                guarded.update(GUARDS.get(key, ()))
    policy.rows.extend(chosen.values())
    for (level, key), row in chosen.items():
        (policy.mandatory if level == "mandatory" else policy.recommended)[key] = row.value
    _fail_safe(policy, set(SAFE) if broken_mandatory else guarded, validate)
    if policy.managed:
        _managed_defaults(policy)
    return policy


def _row(source: RawSource, key: str, value: object, validate: Validate) -> PolicyRow:
    try:
        applied = validate(source.level, key, value)
    except LookupError as err:
        return PolicyRow(key, _plain(value), source.level, source.name, "unknown", str(err))
    except ValueError as err:
        return PolicyRow(key, _plain(value), source.level, source.name, "invalid", str(err))
    return PolicyRow(key, applied, source.level, source.name, "applied")


def _place(
    policy: MachinePolicy, chosen: dict[tuple[Level, str], PolicyRow], row: PolicyRow
) -> None:
    earlier = chosen.get((row.level, row.key))
    if earlier is None:
        chosen[(row.level, row.key)] = row
        return
    status: Status = "conflict" if earlier.value != row.value else "overridden"
    note = f"set again by {row.source}, which wins (later in the read order)"
    policy.rows.append(PolicyRow(row.key, earlier.value, row.level, earlier.source, status, note))
    if status == "conflict":
        policy.problems.append(
            f"Policy conflict: {row.key} is {_show(earlier.value)} in {earlier.source} but "
            f"{_show(row.value)} in {row.source}; {row.source} wins. Set it in one file only."
        )
        row = PolicyRow(row.key, row.value, row.level, row.source, "conflict", "wins the conflict")
    chosen[(row.level, row.key)] = row


def _fail_safe(policy: MachinePolicy, keys: set[str], validate: Validate) -> None:
    for key in sorted(keys - set(policy.mandatory)):
        value = validate("mandatory", key, SAFE[key])
        policy.mandatory[key] = value
        policy.rows.append(
            PolicyRow(
                key,
                value,
                "mandatory",
                "(fail-safe)",
                "fail-safe",
                "locked to its safe value because a mandatory policy source is broken",
            )
        )


def _managed_defaults(policy: MachinePolicy) -> None:
    for key, value in MANAGED_DEFAULTS.items():
        if key not in policy.mandatory:
            policy.mandatory[key] = value
            policy.rows.append(
                PolicyRow(
                    key,
                    value,
                    "mandatory",
                    "(managed install)",
                    "applied",
                    "off in a managed install unless the mandatory policy turns it on",
                )
            )


def _topics(policy: MachinePolicy, source: RawSource, value: object) -> None:
    if source.level != "mandatory":
        policy.problems.append(
            f"Policy {source.name}: {TOPICS_KEY} is only read from mandatory policy. Not applied."
        )
        return
    policy.topics.append((source.name, value))
    policy.rows.append(PolicyRow(TOPICS_KEY, _plain(value), source.level, source.name, "applied"))


def _ignored(source: RawSource, message: str) -> str:
    return f"Machine policy {source.name}: {message} It is ignored; ask IT to fix the policy."


def _refused(source: RawSource) -> str:
    return (
        f"Policy source {source.name} is refused: {source.broken}. Its settings are not applied"
        + (
            " and the safe values are locked until it is fixed"
            if source.level == "mandatory"
            else ""
        )
        + ". Fix: IT must repair it (valid JSON, owned by root, `chmod 644`, no links) "
        "or remove it."
    )


def _plain(value: object) -> object:
    return repr(value) if isinstance(value, _TooLong) else value


def _show(value: object) -> str:
    return json.dumps(value) if isinstance(value, (str, int, float, bool)) else repr(value)


# --- the report (``deskmate policy`` and the Policies page) ----------------------------------


def report(context: AppContext) -> dict[str, object]:
    """Every policy source and key with its level, source and status, the problems, and the
    packs policy leaves out: what ``deskmate policy --json`` prints and the window shows."""
    paths, machine = context.paths, context.settings.machine
    return {
        "policy_dir": str(paths.policy_dir),
        "machine_policy": paths.machine_policy,
        "managed": machine.managed,
        "sources": [
            {
                "name": s.name,
                "level": s.level,
                "status": "refused" if s.broken else "read",
                "reason": s.broken,
            }
            for s in machine.sources
        ],
        "policies": [
            _overridden(row, context).to_json() for row in sorted(machine.rows, key=_row_order)
        ],
        "problems": list(context.settings.problems),
        "skipped_packs": [
            {"pack": p.pack, "message": p.message, "fix": p.fix} for p in context.skipped_packs()
        ],
    }


def _overridden(row: PolicyRow, context: AppContext) -> PolicyRow:
    """A recommended value that mandatory policy or the user's own setting replaces."""
    if row.level != "recommended" or row.status not in ("applied", "conflict"):
        return row
    source = context.settings.source(row.key)
    if source == "recommended":
        return row
    by = "mandatory policy" if source == "policy" else "your own setting"
    return PolicyRow(row.key, row.value, row.level, row.source, "overridden", f"{by} wins")


def _row_order(row: PolicyRow) -> tuple[str, int, str]:
    return (row.key, 0 if row.level == "mandatory" else 1, row.source)
