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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from desktop.core.policy_sources import (
    LEGACY_KEY,
    REG_DWORD,
    REG_QWORD,
    REG_SZ,
    REGISTRY_KEY,
    TOPICS_KEY,
    Level,
    RawSource,
    RegistryAccess,
    Trust,
    development_trust,
    machine_trust,
    parse_policy_json,
    plain,
    platform_sources,
    read_plist,
    read_policy_dir,
    read_registry,
)

if TYPE_CHECKING:
    from desktop.core.context import AppContext
    from desktop.core.paths import Paths

__all__ = [
    "LEGACY_KEY",
    "REGISTRY_KEY",
    "REG_DWORD",
    "REG_QWORD",
    "REG_SZ",
    "TOPICS_KEY",
    "Level",
    "RawSource",
    "RegistryAccess",
    "Trust",
    "development_trust",
    "machine_trust",
    "parse_policy_json",
    "platform_sources",
    "read_plist",
    "read_policy_dir",
    "read_registry",
]

Status = Literal["applied", "unknown", "invalid", "overridden", "conflict", "fail-safe"]
Validate = Callable[[Level, str, object], object]  # the value as applied, or raises ValueError

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


# --- loading -------------------------------------------------------------------------------------


def load(
    paths: Paths, validate: Validate, kinds: Mapping[str, type], trust: Trust | None = None
) -> MachinePolicy:
    """The machine policy of *paths*: its folder (and the 0.x file), then the OS's own sources.

    *trust* says who may own policy files (default: root for the machine folder, also this user
    for a development folder; tests inject others)."""
    from desktop.core import policy, policy_sources
    from desktop.core.paths import POLICY_DIR_ENV, legacy_policy_file

    if trust is None:
        trust = machine_trust() if paths.machine_policy else development_trust()
    legacy = legacy_policy_file() if paths.machine_policy else None
    store = policy_sources.os_policy()
    folder = read_policy_dir(paths.policy_dir, trust, legacy) if store.reads_policy_folders else []
    machine = resolve(folder + store.sources(kinds), validate)
    if not store.reads_policy_folders and os.path.lexists(paths.policy_dir):
        machine.problems.append(
            f"{paths.policy_dir} is not read: on Windows, machine policy is the registry "
            f"(HKLM\\{REGISTRY_KEY}, set by Group Policy with the ADMX templates or by the "
            "MSI's properties). Move its settings there and delete the folder."
        )
    for where, section in machine.topics:
        found = policy.sensitive_topics({policy.SECTION: section}, Path(where))[1]
        machine.problems.extend(found)
    if paths.machine_policy and os.environ.get(POLICY_DIR_ENV):
        machine.problems.append(
            f"{POLICY_DIR_ENV} is ignored: this machine has a machine policy "
            f"({paths.policy_dir}), which the environment cannot replace."
        )
    if os.environ.get("DESKMATE_POLICY"):
        machine.problems.append(
            "DESKMATE_POLICY is no longer read. IT places policy files in "
            f"{paths.policy_dir}/managed/ ({POLICY_DIR_ENV} for tests and development)."
        )
    return machine


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
        return PolicyRow(key, plain(value), source.level, source.name, "unknown", str(err))
    except ValueError as err:
        return PolicyRow(key, plain(value), source.level, source.name, "invalid", str(err))
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


def _lock(
    policy: MachinePolicy, key: str, value: object, source: str, status: Status, why: str
) -> None:
    """Lock *key* to *value* at the mandatory level, with a row saying why."""
    policy.mandatory[key] = value
    policy.rows.append(PolicyRow(key, value, "mandatory", source, status, why))


def _fail_safe(policy: MachinePolicy, keys: set[str], validate: Validate) -> None:
    for key in sorted(keys - set(policy.mandatory)):
        value = validate("mandatory", key, SAFE[key])
        why = "locked to its safe value because a mandatory policy source is broken"
        _lock(policy, key, value, "(fail-safe)", "fail-safe", why)


def _managed_defaults(policy: MachinePolicy) -> None:
    for key, value in MANAGED_DEFAULTS.items():
        if key not in policy.mandatory:
            why = "off in a managed install unless the mandatory policy turns it on"
            _lock(policy, key, value, "(managed install)", "applied", why)


def _topics(policy: MachinePolicy, source: RawSource, value: object) -> None:
    if source.level != "mandatory":
        policy.problems.append(
            f"Policy {source.name}: {TOPICS_KEY} is only read from mandatory policy. Not applied."
        )
        return
    policy.topics.append((source.name, value))
    policy.rows.append(PolicyRow(TOPICS_KEY, plain(value), source.level, source.name, "applied"))


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
