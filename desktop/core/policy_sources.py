"""Readers of machine policy sources: JSON policy folders (owner and permission checks), the
Windows registry and macOS managed preferences. Each returns :class:`RawSource` objects, which
:mod:`desktop.core.managed` validates and merges; see there for the rules."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Level = Literal["mandatory", "recommended"]

TOPICS_KEY = "sensitive_topics"
LEGACY_KEY = "settings"
MAX_NUMBER_DIGITS = 100  # any real setting needs far fewer; 5,001 digits is an attack on int()
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32


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


MAC_PLIST = Path("/Library/Managed Preferences/com.deskmate.Deskmate.plist")


@dataclass(frozen=True)
class OSPolicy:
    """The OS's own policy store: the registry on Windows, managed preferences on macOS (none on
    Linux). Tests inject a platform and a registry (:func:`os_policy` is the one to patch)."""

    platform: str = sys.platform
    registry: RegistryAccess | None = None  # default: winreg
    plist: Path = MAC_PLIST

    @property
    def reads_policy_folders(self) -> bool:
        """Whether JSON policy folders and a ``root.json`` beside them are trusted here. Not on
        Windows: owner and mode bits say nothing there (every file is "owned by uid 0"), and
        standard users may create folders in %ProgramData%; machine policy is the registry,
        which only administrators can write (HKLM and HKCU ``SOFTWARE\\Policies`` alike)."""
        return self.platform != "win32"

    def _registry(self) -> RegistryAccess:
        return self.registry if self.registry is not None else _WinReg()

    def exists(self) -> bool:
        """Whether this store holds any Deskmate policy (a managed machine)."""
        if self.platform == "win32":
            keys = (REGISTRY_KEY, REGISTRY_KEY + "\\Recommended")
            access = self._registry()
            return any(access.values(hive, key) for hive in ("HKLM", "HKCU") for key in keys)
        if self.platform == "darwin":
            return os.path.lexists(self.plist)
        return False

    def sources(self, kinds: Mapping[str, type]) -> list[RawSource]:
        """The store's policy sources, in read order."""
        if self.platform == "win32":
            return read_registry(self._registry(), kinds)
        if self.platform == "darwin":
            return _read_mac(self.plist)
        return []


def os_policy() -> OSPolicy:
    return OSPolicy()


def platform_sources(kinds: Mapping[str, type]) -> list[RawSource]:
    """The registry or managed preferences of this machine (nothing on Linux)."""
    return os_policy().sources(kinds)


def _read_mac(path: Path) -> list[RawSource]:
    import plistlib

    try:
        data = plistlib.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        return [RawSource("mandatory", str(path), broken=f"it cannot be read ({err})")]
    if not isinstance(data, dict):
        return [RawSource("mandatory", str(path), broken="it is not a dictionary of settings")]
    return read_plist(data, str(path))


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


def plain(value: object) -> object:
    """*value* as JSON can show it (a number too long to read is described, not shown)."""
    return repr(value) if isinstance(value, _TooLong) else value
