"""Where Deskmate keeps its files.

Everything lives under platformdirs' per-user locations unless ``DESKMATE_HOME`` is set, in which
case all data, settings, cache and logs move below that one folder (tests use ``tmp_path``).
The machine policy file lives in a system location that users cannot write; ``DESKMATE_POLICY``
points elsewhere (tests, and IT staging a policy).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_DIR_NAME = "deskmate"


def default_policy_path() -> Path:
    """The machine-wide policy file IT deploys."""
    env = os.environ.get("DESKMATE_POLICY")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
        return base / "Deskmate" / "policy.json"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/Deskmate/policy.json")
    return Path("/etc/deskmate/policy.json")


@dataclass(frozen=True)
class Paths:
    """The folders and files one Deskmate installation uses."""

    data: Path
    config: Path
    cache: Path
    logs: Path
    policy: Path

    @classmethod
    def from_env(cls) -> Paths:
        home = os.environ.get("DESKMATE_HOME")
        policy = default_policy_path()
        if home:
            root = Path(home)
            return cls(
                data=root / "data",
                config=root / "config",
                cache=root / "cache",
                logs=root / "logs",
                policy=policy,
            )
        import platformdirs

        return cls(
            data=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
            config=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)),
            logs=Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False)),
            policy=policy,
        )

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
