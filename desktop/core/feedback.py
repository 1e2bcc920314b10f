"""Thumbs up / down on drafts, kept on this PC as JSON lines in the data folder.

One line per rating. The question and the draft may quote the customer, so the raw text is never
kept: the time, the rating, the task, the answer's status and mode, the length of the question
and of the draft, a hash of the draft (to tell ratings of the same draft apart, not to recover
it), the cited sources as pack id, pack version and document, the number of sentences of each
verdict and, for a case routed to a person, the topic. The question itself is kept only with its
personal data masked (:mod:`desktop.core.redact`), and only where the ``privacy.feedback_question``
setting (lockable by IT) is ``redacted``: then ``question`` holds the masked text and
``question_masked`` counts what was masked by type. ``question_kept`` says which policy applied.
Lines written before this have none of these keys and load as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from desktop.core.errors import UserError
from desktop.core.fileio import crash_point

if TYPE_CHECKING:
    from desktop.core.assist import Answer


class _Settings(Protocol):
    def get(self, key: str) -> object: ...


FILE_NAME = "feedback.jsonl"
RATINGS = ("up", "down")


def draft_hash(draft: str) -> str:
    return hashlib.sha256(draft.encode("utf-8")).hexdigest()


def feedback_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def record(
    data_dir: Path,
    answer: Answer,
    rating: str,
    pack_versions: Mapping[str, str] | None = None,
    settings: _Settings | None = None,
) -> dict[str, Any]:
    """Append one rating of *answer*; returns the entry written. *pack_versions* maps the ids of
    the installed packs to their versions. The masked question is kept only when *settings* are
    given and ``privacy.feedback_question`` is ``redacted``."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    versions = pack_versions or {}
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rating": rating,
        "task": answer.task,
        "status": answer.status,
        "mode": answer.mode,
        "stopped": answer.stopped,
        "question_chars": len(answer.question),
        "draft_chars": len(answer.draft),
        "draft_sha256": draft_hash(answer.draft),
        "sources": [
            {"pack": hit.pack, "version": versions.get(hit.pack, ""), "source": hit.source}
            for hit in answer.sources
        ],
        "verdicts": dict(Counter(sentence.verdict for sentence in answer.sentences)),
        "route_topic": answer.route.get("topic", ""),
        **question_fields(answer.question, settings),
    }
    path = feedback_file(data_dir)
    try:
        append_line(path, json.dumps(entry, ensure_ascii=False))
    except OSError as err:
        raise UserError(
            f"Could not save your feedback to {path}: {err}.",
            "Check that you may write to that folder.",
        ) from err
    return entry


def question_fields(question: str, settings: _Settings | None) -> dict[str, Any]:
    """What a feedback line keeps of *question*: never the raw text."""
    from desktop.core.redact import RedactOptions, redact

    if settings is None or settings.get("privacy.feedback_question") != "redacted":
        return {"question_kept": "none"}
    masked = redact(question, RedactOptions.from_settings(settings))
    return {
        "question_kept": "redacted",
        "question": masked.text,
        "question_masked": masked.counts(),
    }


def append_line(path: Path, line: str) -> None:
    """Append *line* and its newline to *path* in one write, fsynced.

    A file whose last line has no newline (torn by a power cut or a full disk) gets one first:
    otherwise the new record would be glued to the torn one and both would be unreadable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line + "\n").encode("utf-8")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            os.lseek(fd, size - 1, os.SEEK_SET)
            if os.read(fd, 1) != b"\n":
                data = b"\n" + data
        while data:  # O_APPEND: every write lands at the end, whatever the offset
            data = data[os.write(fd, data) :]
        crash_point("feedback.write")  # written, not yet fsynced: the crash-safety harness
        os.fsync(fd)
    finally:
        os.close(fd)


def read_all(data_dir: Path) -> list[dict[str, Any]]:
    """Every rating recorded so far (lines that cannot be read are skipped)."""
    path = feedback_file(data_dir)
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
