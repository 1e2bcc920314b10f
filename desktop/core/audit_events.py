"""What each audit event records: ids, counts and statuses, never customer text.

:class:`Recorder` is what the window (through :attr:`AppContext.audit`), the CLI, sync and
feedback call, one method per event. A record keeps the event, the time, pack ids and versions,
the sources' ids (pack, version, document), the status and mode, the verdict counts, a route's
topic, the agent's action and the model's hash. The question is kept only where the setting
``privacy.audit_question`` (lockable by IT) is ``redacted``, and then only with its personal data
masked (:mod:`desktop.core.redact`); by default (``none``) only its length.

Events: ``search``, ``source_opened`` (ms since the question was first typed), ``draft_shown``,
``routed``, ``no_source`` (one of the three per finished request), ``draft_copied``,
``feedback``, ``sync_installed``, ``sync_refused``, ``sync_rolled_back`` and ``policy_changed``.

``draft_copied`` carries ``edited``: whether the text copied differs from the draft's copy text
(the agent edited it in the draft pane), and then ``edit_distance`` with its ``edit_unit``
(:func:`desktop.core.edit.distance`: characters, or words / an upper bound for very long texts)
and ``flagged_left``, the flagged sentences still in the copied text. Never the text itself.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from desktop.core.audit import AuditError, AuditLog, Record
from desktop.core.fileio import atomic_write_text

if TYPE_CHECKING:
    from desktop.core.assist import Answer
    from desktop.core.knowledge.index import Hit
    from desktop.core.managed import MachinePolicy
    from desktop.core.sync.client import SyncReport

SETTING = "privacy.audit_question"
POLICY_STATE = "policy.sha256"
TOP_SOURCES = 3  # a search keeps the ids of its first few results
NO_POLICY = hashlib.sha256(b"no machine policy").hexdigest()


class _Settings(Protocol):
    def get(self, key: str) -> object: ...


def short_hash(text: str) -> str:
    """A short digest telling two drafts apart (a shown draft from its copy), not recovering it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def question_fields(question: str, settings: _Settings | None) -> dict[str, Any]:
    """What a record keeps of *question*: its length, and its masked text only if allowed."""
    fields: dict[str, Any] = {"question_chars": len(question)}
    if settings is None or settings.get(SETTING) != "redacted":
        return fields
    from desktop.core.redact import RedactOptions, redact

    masked = redact(question, RedactOptions.from_settings(settings))
    fields["question"] = masked.text
    fields["question_masked"] = masked.counts()
    return fields


def source_ids(hits: Sequence[Hit], versions: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"pack": hit.pack, "version": versions.get(hit.pack, ""), "source": hit.source}
        for hit in hits
    ]


def policy_digest(machine: MachinePolicy) -> str:
    """A digest of the machine policy in force (mandatory and recommended values, topics)."""
    if not machine.mandatory and not machine.recommended and not machine.topics:
        return NO_POLICY
    body = {
        "mandatory": machine.mandatory,
        "recommended": machine.recommended,
        "topics": machine.topics,
    }
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class Recorder:
    """Builds each event's fields and appends it to *log*.

    By default appends happen on the caller's thread and raise :class:`AuditError`. After
    :meth:`in_background` they run in order on one background thread (the window: an fsync
    must not hold its thread) and a failure goes to the callback given.
    """

    def __init__(
        self,
        log: AuditLog,
        settings: _Settings,
        versions: Callable[[], Mapping[str, str]] = dict,
        model_path: Callable[[], Path | None] = lambda: None,
    ) -> None:
        self.log = log
        self.settings = settings
        self.versions = versions
        self.model_path = model_path
        self._executor: ThreadPoolExecutor | None = None
        self._on_error: Callable[[AuditError], None] = lambda _: None
        self._pending: list[Future[Record | None]] = []
        self._model_hashes: dict[tuple[str, int, int], str] = {}

    # --- how records are written ---------------------------------------------------------

    def in_background(self, on_error: Callable[[AuditError], None]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="deskmate-audit")
        self._on_error = on_error

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every record handed to the background thread is written."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result(timeout)

    def emit(self, event: str, build: Callable[[], dict[str, Any]]) -> Record | None:
        """Record *event* with the fields *build* returns (built where the append runs)."""
        return self._submit(lambda: self.log.append(event, build()))

    def _submit(self, write: Callable[[], Record | None]) -> Record | None:
        """Run *write* here, or queue it on the background thread (then None)."""
        if self._executor is None:
            return write()
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._executor.submit(self._quietly, write))
        return None

    def _quietly(self, write: Callable[[], Record | None]) -> Record | None:
        try:
            return write()
        except AuditError as exc:
            self._on_error(exc)
            return None

    # --- the events ------------------------------------------------------------------------

    def search(self, query: str, hits: Sequence[Hit], surface: str) -> Record | None:
        def build() -> dict[str, Any]:
            return {
                "surface": surface,
                "hits": len(hits),
                "pack": hits[0].pack if hits else "",
                "sources": source_ids(hits[:TOP_SOURCES], self.versions()),
                **question_fields(query, self.settings),
            }

        return self.emit("search", build)

    def source_opened(self, hit: Hit, elapsed_ms: int, via: str) -> Record | None:
        def build() -> dict[str, Any]:
            ids = source_ids([hit], self.versions())[0]
            return {**ids, "elapsed_ms": int(elapsed_ms), "via": via}

        return self.emit("source_opened", build)

    def answer(self, answer: Answer, surface: str) -> Record | None:
        """A finished request: ``draft_shown``, ``routed`` or ``no_source`` by its status."""
        event = {"route_to_human": "routed", "no_source": "no_source"}.get(
            answer.status, "draft_shown"
        )
        return self.emit(event, lambda: {"surface": surface, **self._answer_fields(answer)})

    def copied(
        self,
        answer: Answer,
        with_sources: bool,
        flagged: bool,
        edited: bool = False,
        text: str | None = None,
    ) -> Record | None:
        """``draft_copied``; *text* is what was copied when the agent edited the draft (its
        distance from the draft's copy text is computed here, on the audit thread)."""

        def build() -> dict[str, Any]:
            fields = self._answer_fields(answer, question=False)
            fields.update(with_sources=with_sources, flagged=flagged, edited=edited)
            if text is not None:
                fields.update(_edit_fields(answer, with_sources, text))
            return fields

        return self.emit("draft_copied", build)

    def feedback(self, answer: Answer, rating: str) -> Record | None:
        return self.emit("feedback", lambda: {"rating": rating, **self._answer_fields(answer)})

    def _answer_fields(self, answer: Answer, question: bool = True) -> dict[str, Any]:
        hits = answer.sources or ([] if answer.status == "answered" else answer.nearest[:1])
        fields: dict[str, Any] = {
            "task": answer.task,
            "status": answer.status,
            "mode": answer.mode,
            "stopped": answer.stopped,
            "pack": hits[0].pack if hits else "",
            "sources": source_ids(answer.sources, self.versions()),
            "verdicts": dict(Counter(sentence.verdict for sentence in answer.sentences)),
            "draft_chars": len(answer.draft),
            "draft_sha256": short_hash(answer.draft),
        }
        if answer.status == "route_to_human":
            fields["route_topic"] = answer.route.get("topic", "")
        if answer.mode == "model" and answer.status == "answered":
            fields["model_sha256"] = self._model_hash()
        if question:
            fields.update(question_fields(answer.question, self.settings))
        return fields

    def _model_hash(self) -> str:
        """The model's SHA-256: the allow-listed one when policy pins it, else hashed once."""
        text = str(self.settings.get("model.allowed_sha256") or "")
        pinned = [digest.strip().lower() for digest in text.split(",") if digest.strip()]
        if len(pinned) == 1:  # the engine checked the file against it before loading
            return pinned[0]
        path = self.model_path()
        if path is None:
            return ""
        try:
            info = path.stat()
        except OSError:
            return ""
        key = (str(path), info.st_size, info.st_mtime_ns)
        if key not in self._model_hashes:
            from desktop.core.generation.engine import file_sha256

            self._model_hashes[key] = file_sha256(path)
        return self._model_hashes[key]

    # --- sync and policy -------------------------------------------------------------------

    def sync_report(self, report: SyncReport) -> None:
        """One record per pack a sync installed or refused (a whole failed sync: one refusal)."""
        for target in report.targets:
            if target.status in ("installed", "refused"):
                fields = {
                    "pack": target.pack,
                    "version": target.version,
                    "target": target.target,
                    "reason": target.reason,
                }
                self.emit(f"sync_{target.status}", _fixed(fields))
        if report.error and not any(t.status == "refused" for t in report.targets):
            fields = {"pack": "", "version": "", "target": "", "reason": report.error}
            self.emit("sync_refused", _fixed(fields))

    def rolled_back(self, pack: str, version: str, held: str) -> Record | None:
        return self.emit(
            "sync_rolled_back", lambda: {"pack": pack, "version": version, "from": held}
        )

    def policy(self, machine: MachinePolicy) -> Record | None:
        """Record ``policy_changed`` when the machine policy differs from the one last recorded
        (its digest is kept in ``policy.sha256`` beside the trail)."""
        return self._submit(lambda: self._policy_now(machine))

    def _policy_now(self, machine: MachinePolicy) -> Record | None:
        state = self.log.folder / POLICY_STATE
        digest = policy_digest(machine)
        try:
            previous = state.read_text(encoding="utf-8").strip()
        except OSError:
            previous = NO_POLICY
        if previous == digest:
            return None
        fields = {
            "digest": digest,
            "previous": previous,
            "managed": machine.managed,
            "locked": sorted(machine.mandatory),
        }
        record = self.log.append("policy_changed", fields)
        try:
            atomic_write_text(state, digest + "\n")
        except OSError as exc:
            raise AuditError(
                f"Could not remember the policy digest in {state}: {exc.strerror or exc}.",
                "Check that you may write to that folder.",
            ) from exc
        return record


def _edit_fields(answer: Answer, with_sources: bool, text: str) -> dict[str, Any]:
    from desktop.core import edit, render

    original = render.copy_text(answer, with_sources)
    found = edit.distance(original, text)
    return {
        "edited": text != original,
        "edit_distance": found.value,
        "edit_unit": found.unit,
        "copied_chars": len(text),
        "flagged_left": len(edit.flagged_left(answer, text)),
    }


def _fixed(fields: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: fields


def recorder_for(data_dir: Path, settings: _Settings | None = None) -> Recorder:
    """A recorder for code without an app context (sync, rollback); defaults for *settings*."""
    if settings is None:
        from desktop.core.paths import Paths
        from desktop.core.settings import Settings

        root = data_dir.parent
        settings = Settings(Paths(data_dir, root, root, root, root))
    return Recorder(AuditLog.for_data(data_dir), settings)
