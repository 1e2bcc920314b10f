"""Thumbs up / down on drafts, kept on this PC as JSON lines in the data folder.

One line per rating: time, rating, task, the question, the answer's status and mode, and a hash
of the draft (not the draft itself, which may quote the customer).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import UserError

if TYPE_CHECKING:
    from desktop.core.assist import Answer

FILE_NAME = "feedback.jsonl"
RATINGS = ("up", "down")


def draft_hash(draft: str) -> str:
    return hashlib.sha256(draft.encode("utf-8")).hexdigest()


def feedback_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def record(data_dir: Path, answer: Answer, rating: str) -> dict[str, Any]:
    """Append one rating of *answer*; returns the entry written."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rating": rating,
        "task": answer.task,
        "question": answer.question,
        "status": answer.status,
        "mode": answer.mode,
        "draft_sha256": draft_hash(answer.draft),
    }
    path = feedback_file(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as err:
        raise UserError(
            f"Could not save your feedback to {path}: {err}.",
            "Check that you may write to that folder.",
        ) from err
    return entry


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
