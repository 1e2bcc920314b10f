"""The explicit application context: settings, paths, knowledge packs and the model.

One object, created by the composition root (``desktop.app`` or the CLI) and passed down; no
module-level state. Everything heavy (the embedding model, LanceDB, llama.cpp) is created on
first use, so building a context is instant and the window can appear before any of it loads.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.core.errors import KnowledgeError, ModelError
from desktop.core.paths import Paths
from desktop.core.settings import Settings

if TYPE_CHECKING:
    from desktop.core.generation.engine import LlamaEngine
    from desktop.core.knowledge.build import BuildReport
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import Pack
    from desktop.core.sensitive import SensitiveDetector

DEMO_PACK_ID = "demo"


def resources_dir() -> Path:
    """The ``resources/`` folder shipped beside the package (or inside a frozen build)."""
    override = os.environ.get("DESKMATE_RESOURCES")
    if override:
        return Path(override)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def demo_source_dir() -> Path:
    return resources_dir() / "demo"


class AppContext:
    """Settings, paths and lazily created heavy components for one Deskmate process."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        pack_dirs: list[Path] | None = None,
        model_path: Path | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self._pack_dirs = pack_dirs
        self._model_override = model_path
        self._embedder: Embedder | None = embedder
        self._packs: list[Pack] | None = None
        self._packs_from: list[Path] = []  # the folders self._packs were opened from
        self._engine: LlamaEngine | None = None
        self._sensitive: SensitiveDetector | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_env(
        cls, pack_dirs: list[Path] | None = None, model_path: Path | None = None
    ) -> AppContext:
        paths = Paths.from_env()
        return cls(paths, Settings.load(paths), pack_dirs, model_path)

    # --- knowledge ------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from desktop.core.knowledge.embedder import Embedder

                self._embedder = Embedder()
            return self._embedder

    @property
    def demo_pack_dir(self) -> Path:
        return self.paths.data / "packs" / DEMO_PACK_ID

    def pack_dirs(self) -> list[Path]:
        if self._pack_dirs is not None:
            return list(self._pack_dirs)
        root = self.paths.data / "packs"
        found = (
            sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            if root.is_dir()
            else []
        )
        if not self.settings.get("knowledge.demo_enabled"):
            found = [p for p in found if p.name != DEMO_PACK_ID]
        from desktop.core.sync.install import resolve_pack_dir

        # A synced pack's folder names its current version in a pointer file (see sync.install).
        return [d for d in map(resolve_pack_dir, found) if d is not None]

    def demo_pack_stale(self) -> bool:
        """True when the demo pack is missing or was built from other demo content."""
        import json

        from desktop.core.knowledge.build import BUILDER_VERSION, file_checksums

        manifest = self.demo_pack_dir / "manifest.json"
        try:
            built = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return True
        return bool(
            built.get("files") != file_checksums(demo_source_dir())
            or built.get("builder_version") != BUILDER_VERSION
        )

    def build_demo_pack(self) -> BuildReport:
        from desktop.core.knowledge.build import build_pack

        src = demo_source_dir()
        with self._lock:
            self._sensitive = None
            report = build_pack(
                src,
                self.demo_pack_dir,
                self.embedder,
                pack_id=DEMO_PACK_ID,
                title="Northwind Mobile help centre (demo)",
            )
            self._packs = None
        return report

    def ensure_demo_pack_needed(self) -> bool:
        if self._pack_dirs is not None or not self.settings.get("knowledge.demo_enabled"):
            return False
        return self.demo_pack_stale()

    def ensure_demo_pack(self) -> BuildReport | None:
        """Build the demo pack on first run (or after the demo content changed)."""
        return self.build_demo_pack() if self.ensure_demo_pack_needed() else None

    def packs(self) -> list[Pack]:
        """The installed packs, opened. Raises KnowledgeError when none can be used."""
        with self._lock:
            dirs = self.pack_dirs()
            if self._packs is None or dirs != self._packs_from:
                from desktop.core.knowledge.index import Pack

                self._sensitive = None  # a sync switched a pack: its topics may differ
                if not dirs:
                    raise KnowledgeError(
                        "No knowledge pack is installed.",
                        "Run `deskmate index rebuild` to build the demo pack, or ask your "
                        "knowledge admin to publish one.",
                    )
                self._packs = [Pack(d, self.embedder) for d in dirs]
                self._packs_from = dirs
            return self._packs

    def reload_packs(self) -> None:
        with self._lock:
            self._packs = None
            self._sensitive = None

    def sensitive_detector(self) -> SensitiveDetector:
        """Sensitive topics from the installed packs and the machine policy."""
        from desktop.core.sensitive import SensitiveDetector, pack_topics, policy_topics

        with self._lock:
            try:
                packs = self.packs()  # first, so that a pack a sync switched is noticed
            except KnowledgeError:
                packs = []  # no usable pack: search will say so; policy topics still apply
            if self._sensitive is None:
                topics = pack_topics(packs) + policy_topics(self.paths.policy)
                self._sensitive = SensitiveDetector(topics, self.embedder, packs)
            return self._sensitive

    # --- model ----------------------------------------------------------------------------

    def model_path(self) -> Path | None:
        if self._model_override is not None:
            return self._model_override
        configured = str(self.settings.get("model.path") or "")
        if configured:
            return Path(configured).expanduser()
        from desktop.core.generation.engine import default_model_path

        return default_model_path()

    def engine(self) -> LlamaEngine | None:
        """The language model, or None when generation is off or no model is installed.

        Raises ModelError when a model is configured but unusable.
        """
        if not self.settings.get("generation.enabled"):
            return None
        with self._lock:
            if self._engine is None:
                path = self.model_path()
                if path is None:
                    return None
                from desktop.core.generation.engine import LlamaEngine, check_allowed

                allowed = str(self.settings.get("model.allowed_sha256"))
                if allowed and path.is_file():
                    check_allowed(path, allowed, self.paths.cache / "model-sha256.json")
                self._engine = LlamaEngine(
                    path,
                    context_cap=int(self.settings.get("model.context_size")),
                    threads=int(self.settings.get("model.threads")),
                )
            return self._engine

    def load_model(self) -> LlamaEngine | None:
        engine = self.engine()
        if engine is not None:
            engine.load()
        return engine


__all__ = ["AppContext", "KnowledgeError", "ModelError", "resources_dir"]
