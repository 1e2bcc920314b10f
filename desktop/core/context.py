"""The explicit application context: settings, paths, knowledge packs and the model.

One object, created by the composition root (``desktop.app`` or the CLI) and passed down; no
module-level state. Everything heavy (the embedding model, LanceDB, llama.cpp) is created on
first use, so building a context is instant and the window can appear before any of it loads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.core import trace
from desktop.core.errors import KnowledgeError, ModelError
from desktop.core.imports import import_lancedb
from desktop.core.paths import Paths
from desktop.core.settings import Settings

if TYPE_CHECKING:
    from desktop.core.audit_events import Recorder
    from desktop.core.generation.engine import LlamaEngine
    from desktop.core.knowledge.build import BuildReport
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.knowledge.index import Pack
    from desktop.core.sensitive import SensitiveDetector

DEMO_PACK_ID = "demo"
EMBEDDER_HASHES = "embedder-sha256.json"  # in the cache folder: see Embedder.weights_hash
EMBEDDER_OPTIMIZED = "embedder-onnx"  # in the cache folder: see desktop.core.knowledge.optimized
log = logging.getLogger(__name__)


def resources_dir() -> Path:
    """The ``resources/`` folder shipped beside the package (or inside a frozen build);
    ``DESKMATE_RESOURCES`` replaces it for development, never under a machine policy."""
    from desktop.core.paths import machine_policy_exists

    override = os.environ.get("DESKMATE_RESOURCES")
    if override and not machine_policy_exists():  # e.g. the built-in safety topics: IT's floor
        return Path(override)
    return installed_resources_dir()


def installed_resources_dir() -> Path:
    """The installation's own ``resources/``, whatever the environment says (trust roots)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def original_roots(pack: Pack) -> list[Path]:
    """The folders *pack*'s original files may be opened from: its own ``originals/``, and for
    the demo pack the demo content it was built from."""
    roots = [pack.path / "originals"]
    if pack.id == DEMO_PACK_ID:
        roots.append(demo_source_dir())
    return roots


def demo_source_dir() -> Path:
    return resources_dir() / "demo"


@dataclass(frozen=True)
class PackProblem:
    """A pack that is not served (damaged, incompatible, not fully installed), and what to do."""

    pack: str  # its folder name: what `deskmate pack repair` takes for an installed pack
    folder: Path
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


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
        self._opened: list[tuple[str, Pack]] | None = None  # (folder name, pack), usable or not
        self._opened_from: list[tuple[str, Path | None]] = []  # the entries they came from
        self._problems: list[PackProblem] = []  # packs that could not be opened
        self._skipped: list[PackProblem] = []  # packs that policy or settings leave out
        self._engine: LlamaEngine | None = None
        self._sensitive: SensitiveDetector | None = None
        self._lock = threading.RLock()
        # Not self._lock: opening the packs holds that while it imports LanceDB, and the
        # preload loads the embedding model meanwhile, on another thread.
        self._embedder_lock = threading.Lock()
        self._audit: Recorder | None = None
        self._audit_lock = threading.Lock()  # not self._lock: the window asks while packs open

    @classmethod
    def from_env(
        cls, pack_dirs: list[Path] | None = None, model_path: Path | None = None
    ) -> AppContext:
        paths = Paths.from_env()
        return cls(paths, Settings.load(paths), pack_dirs, model_path)

    @property
    def audit(self) -> Recorder:
        """The audit trail of this installation (``<data>/audit``), with one method per event."""
        with self._audit_lock:
            if self._audit is None:
                from desktop.core.audit import AuditLog
                from desktop.core.audit_events import Recorder

                self._audit = Recorder(
                    AuditLog.for_data(self.paths.data),
                    self.settings,
                    versions=self.pack_versions,
                    model_path=self.model_path,
                )
            return self._audit

    def pack_versions(self) -> dict[str, str]:
        """The ids of the packs opened so far and their versions (no pack is opened here)."""
        with self._lock:
            return {pack.id: pack.version for _, pack in self._opened or []}

    # --- knowledge ------------------------------------------------------------------------

    def preload(self) -> threading.Thread:
        """Start loading what the first search needs on background threads, and return the
        thread (not a daemon: the process waits for it at exit); the caller goes on (building
        its window, say) meanwhile.

        Two threads, because they overlap well: one loads the embedding model (hashing its
        weights and onnxruntime's set-up release the interpreter lock), the other imports
        LanceDB and opens the packs. Whatever fails here is left for the caller's own
        :meth:`packs` and :attr:`embedder` to meet again and report: the preload only gets
        the work done earlier.
        """
        thread = threading.Thread(target=self._preload, name="deskmate-preload")
        thread.start()
        return thread

    def _preload(self) -> None:
        model = threading.Thread(target=self._preload_embedder, name="deskmate-preload-model")
        model.start()
        try:
            import_lancedb()
            trace.mark("lancedb_imported")
            if not self.ensure_demo_pack_needed():  # else the caller builds it first
                self.packs()
                trace.mark("packs_opened")
        except Exception:  # the caller meets it again and reports it
            log.debug("preloading the knowledge packs failed", exc_info=True)
        model.join()

    def _preload_embedder(self) -> None:
        try:
            embedder = self.embedder
            embedder.weights_hash()  # what opening a pack checks first
            embedder.embed(["warm up"])
            trace.mark("embedder_ready")
        except Exception:  # the caller meets it again and reports it
            log.debug("preloading the embedding model failed", exc_info=True)

    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                from desktop.core.knowledge.embedder import Embedder

                self._embedder = Embedder(
                    hash_cache=self.paths.cache / EMBEDDER_HASHES,
                    optimized_cache=self.paths.cache / EMBEDDER_OPTIMIZED,
                )
            return self._embedder

    @property
    def pack_dirs_given(self) -> bool:
        """Packs named on the command line (or by a test) instead of the packs folder."""
        return self._pack_dirs is not None

    @property
    def demo_pack_dir(self) -> Path:
        return self.paths.data / "packs" / DEMO_PACK_ID

    def pack_dirs(self) -> list[Path]:
        return [folder for _, folder, _ in self._pack_entries() if folder is not None]

    def _pack_entries(self) -> list[tuple[str, Path | None, Path]]:
        """(name, folder to open or None, folder in packs/) of every pack to serve."""
        from desktop.core.knowledge.build import finish_swap, finish_swaps

        if self._pack_dirs is not None:
            for folder in self._pack_dirs:
                finish_swap(folder)  # a build killed while switching this pack in
            return [(d.name, d, d) for d in self._pack_dirs]
        root = self.paths.data / "packs"
        finish_swaps(root)
        found = (
            sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            if root.is_dir()
            else []
        )
        found = self._sanctioned(found)
        from desktop.core.sync.install import resolve_pack_dir

        # A synced pack's folder names its current version in a pointer file (see sync.install);
        # an interrupted first install resolves to None and is not opened.
        return [(p.name, resolve_pack_dir(p), p) for p in found]

    def _sanctioned(self, found: list[Path]) -> list[Path]:
        """The pack folders policy lets this machine serve; the rest go to skipped_packs()."""
        from desktop.core.sync import POINTER
        from desktop.core.sync.install import interrupted_install

        skipped: list[PackProblem] = []
        served = []
        for folder in found:
            if folder.name == DEMO_PACK_ID:
                reason = "" if self.settings.get("knowledge.demo_enabled") else "demo"
            elif (folder / POINTER).exists() or interrupted_install(folder):
                reason = ""  # sync's own (a first install it will finish is reported as such)
            elif self.settings.get("knowledge.allow_user_packs"):
                reason = ""
            else:
                reason = "user"
            if reason:
                skipped.append(_skipped(folder, reason, self.settings.is_locked))
            else:
                served.append(folder)
        self._skipped = skipped
        return served

    def skipped_packs(self) -> list[PackProblem]:
        """Pack folders that are not served because settings or policy say so, and why."""
        with self._lock:
            self._pack_entries()
            return list(self._skipped)

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

    def build_demo_pack(self, force: bool = False) -> BuildReport:
        """Build the demo pack; from scratch when *force* or when the one on disk is damaged
        (a plain rebuild would find its sources unchanged and keep it)."""
        from desktop.core.knowledge.build import build_pack

        import_lancedb()
        src = demo_source_dir()
        with self._lock:
            self._sensitive = None
            aside = self._demo_aside(force)
            try:
                report = build_pack(
                    src,
                    self.demo_pack_dir,
                    self.embedder,
                    pack_id=DEMO_PACK_ID,
                    title="Northwind Mobile help centre (demo)",
                )
            except BaseException:
                if aside is not None and not self.demo_pack_dir.exists():
                    aside.rename(self.demo_pack_dir)  # what the user had, damaged or not
                raise
            # This one, and any that a build killed before it finished left behind.
            for stale in self.demo_pack_dir.parent.glob(f".{DEMO_PACK_ID}.damaged-*"):
                shutil.rmtree(stale, ignore_errors=True)
            self._opened = None
        return report

    def _demo_aside(self, force: bool) -> Path | None:
        """Move a damaged (or, with *force*, any) demo pack aside, so it is built anew."""
        from desktop.core.knowledge.index import Pack

        folder = self.demo_pack_dir
        if not folder.is_dir():
            return None
        if not force:
            try:
                Pack(folder, self.embedder).probe()
                return None
            except KnowledgeError:
                pass
        aside = folder.with_name(f".{folder.name}.damaged-{time.time_ns()}")
        folder.rename(aside)
        return aside

    def ensure_demo_pack_needed(self) -> bool:
        if self._pack_dirs is not None or not self.settings.get("knowledge.demo_enabled"):
            return False
        return self.demo_pack_stale()

    def ensure_demo_pack(self) -> BuildReport | None:
        """Build the demo pack on first run (or after the demo content changed)."""
        return self.build_demo_pack() if self.ensure_demo_pack_needed() else None

    def packs(self) -> list[Pack]:
        """The installed packs that can be searched, opened.

        A pack that cannot be opened or searched (damaged, incompatible, an interrupted first
        install) is left out and named by :meth:`pack_problems`; the others are served. Raises
        KnowledgeError when no pack can be used.
        """
        with self._lock:
            entries = self._pack_entries()
            key = [(name, folder) for name, folder, _ in entries]
            if self._opened is None or key != self._opened_from:
                self._sensitive = None  # a sync switched a pack: its topics may differ
                if not entries and self._skipped:
                    raise _none_usable(self._skipped)
                if not entries:
                    raise KnowledgeError(
                        "No knowledge pack is installed.",
                        "Run `deskmate index rebuild` to build the demo pack, or ask your "
                        "knowledge admin to publish one.",
                    )
                self._opened, self._problems = self._open_packs(entries)
                self._opened_from = key
            usable = [pack for _, pack in self._opened if pack.damage is None]
            if not usable:
                raise _none_usable(self.pack_problems())
            return usable

    def pack_problems(self) -> list[PackProblem]:
        """The packs left out of :meth:`packs` and why, including any a search found damaged."""
        with self._lock:
            found = list(self._problems)
            for name, pack in self._opened or []:
                if pack.damage is not None:
                    found.append(self._problem(name, pack.path, pack.damage))
            return found

    def _open_packs(
        self, entries: list[tuple[str, Path | None, Path]]
    ) -> tuple[list[tuple[str, Pack]], list[PackProblem]]:
        from desktop.core.knowledge.index import Pack
        from desktop.core.sync.install import interrupted_install

        opened: list[tuple[str, Pack]] = []
        problems: list[PackProblem] = []
        import_lancedb()  # before Pack imports it: in half the time
        for name, folder, root in entries:
            if folder is None:
                problems.append(_unresolved(name, root, interrupted_install(root)))
                continue
            try:
                pack = Pack(folder, self.embedder)
                pack.probe()  # LanceDB opens truncated files; only reading them fails
            except KnowledgeError as exc:
                problems.append(self._problem(name, folder, exc))
                continue
            opened.append((name, pack))
        return opened, problems

    def _problem(self, name: str, folder: Path, exc: KnowledgeError) -> PackProblem:
        from desktop.core.knowledge.index import PackDamagedError

        fix = exc.fix
        if isinstance(exc, PackDamagedError) and self._pack_dirs is None:
            fix = f"Run `deskmate pack repair {name}` to reinstall or rebuild it."
        return PackProblem(name, folder, exc.message, fix)

    def packs_on_disk(self) -> tuple[tuple[str, int, int, int], ...] | None:
        """What the packs folder holds, for noticing a pack added, removed or still being copied:
        (folder name, files, bytes, newest change in ns) per pack folder. None for packs given on
        the command line or when there is no packs folder. Reads only file metadata."""
        root = self.paths.data / "packs"
        if self._pack_dirs is not None or not root.is_dir():
            return None
        out = []
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for folder in folders:
            files = size = newest = 0
            for item in folder.rglob("*"):
                with contextlib.suppress(OSError):  # removed while we looked
                    stat = item.stat()
                    newest = max(newest, stat.st_mtime_ns)
                    if item.is_file():
                        files, size = files + 1, size + stat.st_size
            out.append((folder.name, files, size, newest))
        return tuple(out)

    def reload_packs(self) -> None:
        with self._lock:
            self._opened = None
            self._sensitive = None

    def sensitive_detector(self) -> SensitiveDetector:
        """Sensitive topics: built in, then the installed packs', then the machine policy's."""
        from desktop.core.sensitive import (
            SensitiveDetector,
            builtin_topics,
            merge_topics,
            pack_topics,
            policy_topics,
        )

        with self._lock:
            try:
                packs = self.packs()  # first, so that a pack a sync switched is noticed
            except KnowledgeError:
                packs = []  # no usable pack: search will say so; the other topics still apply
            if self._sensitive is None:
                builtin = builtin_topics(resources_dir())
                from_policy, disabled = policy_topics(self.settings.machine)
                topics = merge_topics(
                    builtin.topics, pack_topics(packs), from_policy, disabled=disabled
                )
                self._sensitive = SensitiveDetector(
                    topics, self.embedder, packs, ordinary=builtin.ordinary
                )
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
                verified = check_allowed(path, allowed, keep=True) if path.is_file() else None
                try:
                    engine = LlamaEngine(
                        path,
                        context_cap=int(self.settings.get("model.context_size")),
                        threads=int(self.settings.get("model.threads")),
                    )
                except BaseException:
                    if verified is not None:
                        os.close(verified)
                    raise
                engine.verified_fd = verified
                self._engine = engine
            return self._engine

    def load_model(self) -> LlamaEngine | None:
        engine = self.engine()
        if engine is not None:
            engine.load()
        return engine


def _unresolved(name: str, root: Path, interrupted: bool) -> PackProblem:
    if interrupted:
        return PackProblem(
            name,
            root,
            f"The first install of pack {name!r} did not finish (the sync was interrupted).",
            "Run `deskmate sync` (or Sync now) to complete it.",
        )
    return PackProblem(
        name,
        root,
        f"The synced pack {name!r} has no usable current version.",
        f"Run `deskmate pack repair {name}` to reinstall it.",
    )


def _skipped(folder: Path, reason: str, locked: Callable[[str], bool]) -> PackProblem:
    key = "knowledge.demo_enabled" if reason == "demo" else "knowledge.allow_user_packs"
    by = "machine policy" if locked(key) else "your settings"
    if reason == "demo":
        message = f"The demo pack is off ({key} is off by {by})."
    else:
        message = (
            f"The pack {folder.name!r} was not installed by signed sync, and {by} serves only "
            f"synced packs ({key} is off)."
        )
    fix = "Ask IT to publish it through the pack source." if by == "machine policy" else ""
    return PackProblem(folder.name, folder, message, fix or f"Turn {key} on to serve it.")


def _none_usable(problems: list[PackProblem]) -> KnowledgeError:
    if len(problems) == 1:
        return KnowledgeError(problems[0].message, problems[0].fix)
    fixes = list(dict.fromkeys(p.fix for p in problems if p.fix))
    return KnowledgeError(
        "No knowledge pack can be used: " + " ".join(p.message for p in problems),
        " ".join(fixes),
    )


__all__ = ["AppContext", "KnowledgeError", "ModelError", "PackProblem", "resources_dir"]
