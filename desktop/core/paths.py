"""Where Deskmate keeps its files.

Everything lives under platformdirs' per-user locations unless ``DESKMATE_HOME`` is set, in which
case all data, settings, cache and logs move below that one folder (tests use ``tmp_path``).

Machine policy lives in a system folder that users cannot write (``/etc/deskmate/policies``, with
``managed/`` and ``recommended/``; see :mod:`desktop.core.managed`); on Windows it is the registry
only (``HKLM\\SOFTWARE\\Policies\\Deskmate``: no folder is trusted there). ``DESKMATE_POLICY_DIR``
may point at another folder of the same shape for tests and development, and is honoured only
when no machine policy exists: the environment can never weaken or replace one.
(``DESKMATE_POLICY``, the 0.x single-file override, is no longer read.)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APP_DIR_NAME = "deskmate"


POLICY_DIR_ENV = "DESKMATE_POLICY_DIR"


def system_policy_dir(platform: str = sys.platform) -> Path:
    """The machine-wide policy folder IT deploys (``managed/`` and ``recommended/`` in it). On
    Windows only its name is used (messages): no folder there is trusted (see policy_sources)."""
    if platform == "win32":
        base = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
        return base / "Deskmate" / "policies"
    if platform == "darwin":
        return Path("/Library/Application Support/Deskmate/policies")
    return Path("/etc/deskmate/policies")


def legacy_policy_file() -> Path:
    """Where Deskmate 0.x read its single policy file; still read, as mandatory policy."""
    return system_policy_dir().parent / "policy.json"


def machine_policy_exists() -> bool:
    """Whether IT deployed machine policy: in the OS's store (the registry on Windows, managed
    preferences on macOS), or a policy folder or the 0.x policy file where those are trusted
    (links count: never skip one)."""
    from desktop.core import policy_sources

    store = policy_sources.os_policy()
    if store.exists():
        return True
    if not store.reads_policy_folders:
        return False
    return os.path.lexists(system_policy_dir()) or os.path.lexists(legacy_policy_file())


def default_policy_dir() -> tuple[Path, bool]:
    """The policy folder in force and whether it is the machine's (else a development folder)."""
    env = os.environ.get(POLICY_DIR_ENV)
    if env and not machine_policy_exists():
        return Path(env), False
    return system_policy_dir(), True


@dataclass(frozen=True)
class Paths:
    """The folders and files one Deskmate installation uses."""

    data: Path
    config: Path
    cache: Path
    logs: Path
    policy_dir: Path
    machine_policy: bool = True  # policy_dir is the system folder (root-owned files only)

    @classmethod
    def from_env(cls, dirs: Any = None) -> Paths:
        """The folders for this user; *dirs* is a platformdirs object (default: this OS's one,
        per user and not roaming: %LOCALAPPDATA% on Windows, ~/Library on macOS)."""
        home = os.environ.get("DESKMATE_HOME")
        policy, machine = default_policy_dir()
        if home:
            root = Path(home)
            return cls(
                data=root / "data",
                config=root / "config",
                cache=root / "cache",
                logs=root / "logs",
                policy_dir=policy,
                machine_policy=machine,
            )
        if dirs is None:
            import platformdirs

            dirs = platformdirs.PlatformDirs(APP_DIR_NAME, appauthor=False)
        return cls(
            data=Path(dirs.user_data_dir),
            config=Path(dirs.user_config_dir),
            cache=Path(dirs.user_cache_dir),
            logs=Path(dirs.user_log_dir),
            policy_dir=policy,
            machine_policy=machine,
        )

    @property
    def policy(self) -> Path:
        """The mandatory policy file Deskmate names to IT (any ``managed/*.json`` counts)."""
        return self.policy_dir / "managed" / "policy.json"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def index_dir(self) -> Path:
        """The LanceDB index of the built-in demo knowledge."""
        return self.data / "index"

    def ensure(self) -> None:
        for folder in (self.data, self.config, self.cache, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
