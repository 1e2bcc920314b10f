"""Where Deskmate keeps its files.

Everything lives under platformdirs' per-user locations unless ``DESKMATE_HOME`` is set, in which
case all data, settings, cache and logs move below that one folder (tests use ``tmp_path``).

Machine policy lives in a system folder that users cannot write (``/etc/deskmate/policies``, with
``managed/`` and ``recommended/``; see :mod:`desktop.core.managed`). ``DESKMATE_POLICY_DIR`` may
point at another folder of the same shape for tests and development, and is honoured only when
no machine policy exists: the environment can never weaken or replace one. (``DESKMATE_POLICY``,
the 0.x single-file override, is no longer read.)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_DIR_NAME = "deskmate"


POLICY_DIR_ENV = "DESKMATE_POLICY_DIR"


def system_policy_dir() -> Path:
    """The machine-wide policy folder IT deploys (``managed/`` and ``recommended/`` in it)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
        return base / "Deskmate" / "policies"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/Deskmate/policies")
    return Path("/etc/deskmate/policies")


def legacy_policy_file() -> Path:
    """Where Deskmate 0.x read its single policy file; still read, as mandatory policy."""
    return system_policy_dir().parent / "policy.json"


def machine_policy_exists() -> bool:
    """Whether IT deployed a policy folder or the 0.x policy file (links count: never skip one)."""
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
    def from_env(cls) -> Paths:
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
        import platformdirs

        return cls(
            data=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
            config=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)),
            logs=Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False)),
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
