"""Golden questions: a pack's own test of whether it still answers what it must.

A pack's source folder may hold ``golden.jsonl``, one JSON object per line::

    {"question": "How do I reset my password?", "article": "account/reset.md", "fact": "24 hours"}
    {"question": "What is the capital of Peru?", "expect": "no_source"}
    {"question": "My husband died last week", "expect": "route_to_human", "topic": "bereavement"}

``expect`` is ``answered`` (the default), ``no_source`` or ``route_to_human``. An answered
question names the ``article`` (its path in the pack, as search results show it) that must be
among the draft's sources, and optionally a ``fact`` that must appear in the draft; a routed
question may name the sensitive ``topic`` it must be routed for.

The questions run through the real pipeline (:class:`desktop.core.assist.Assistant`) over that
pack alone, with generation off: the draft is assembled from the sources' own sentences, so a run
is deterministic and takes a fraction of a second per question. ``pack build`` runs them on the
new pack and records the pass rate in its manifest; a workstation runs them again before it puts
a synced version in service and refuses the version when the pass rate is below the pack's
threshold (see :mod:`desktop.core.sync.install`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.context import AppContext
from desktop.core.errors import KnowledgeError, UserError
from desktop.core.fileio import atomic_write_bytes, atomic_write_text, parse_json

if TYPE_CHECKING:
    from desktop.core.assist import Answer
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

GOLDEN_FILE = "golden.jsonl"
DEFAULT_THRESHOLD = 0.9
EXPECTS = ("answered", "no_source", "route_to_human")
_FIELDS = {
    "question": EXPECTS,
    "expect": EXPECTS,
    "article": ("answered",),
    "fact": ("answered",),
    "topic": ("route_to_human",),
}
_EXAMPLE = '{"question": "How do I reset my password?", "article": "account/reset.md"}'


@dataclass(frozen=True)
class GoldenQuestion:
    """One line of ``golden.jsonl``: a question and what the pack must do with it."""

    line: int
    question: str
    expect: str = "answered"
    article: str = ""
    fact: str = ""
    topic: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"line": self.line, "question": self.question, "expect": self.expect}
        data.update({k: v for k in ("article", "fact", "topic") if (v := getattr(self, k))})
        return data


@dataclass(frozen=True)
class GoldenResult:
    """How one golden question fared: passed or not, and why not."""

    question: GoldenQuestion
    passed: bool
    reason: str = ""
    status: str = ""  # what the assistant answered: answered | no_source | route_to_human
    sources: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            **self.question.to_json(),
            "passed": self.passed,
            "reason": self.reason,
            "status": self.status,
            "sources": list(self.sources),
        }


@dataclass
class GoldenReport:
    """The outcome of running a pack's golden questions."""

    results: list[GoldenResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 1.0

    def summary(self) -> str:
        return f"{self.passed} of {self.total} passed ({self.pass_rate:.0%})"

    def failures(self, limit: int = 3) -> str:
        """The first *limit* failed questions with the reason, for one line of text."""
        failed = [r for r in self.results if not r.passed]
        shown = "; ".join(f"{r.question.question!r}: {r.reason}" for r in failed[:limit])
        more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
        return shown + more

    def manifest_entry(self, threshold: float) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "threshold": threshold,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "seconds": round(self.seconds, 2),
            "results": [r.to_json() for r in self.results],
        }


# --- parsing -------------------------------------------------------------------------------------


def read_golden(path: Path) -> list[GoldenQuestion]:
    """The questions in the golden file *path*; KnowledgeError naming the line that is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from Notepad is fine
    except UnicodeDecodeError:
        raise KnowledgeError(
            f"{path} is not UTF-8 text.", "Save golden.jsonl as UTF-8 (one JSON object per line)."
        ) from None
    except OSError as exc:
        raise KnowledgeError(f"{path} cannot be read ({exc}).") from exc
    return parse_golden(text, str(path))


def parse_golden(text: str, name: str = GOLDEN_FILE) -> list[GoldenQuestion]:
    """Parse golden questions from JSON Lines *text* (blank lines are ignored)."""
    questions = []
    for number, line in enumerate(json_lines(text), start=1):
        if not line.strip():
            continue
        try:
            questions.append(_parse_line(line, number))
        except ValueError as exc:
            raise KnowledgeError(
                f"{name} line {number}: {exc}",
                f"Fix that line: each line is one JSON object such as {_EXAMPLE}.",
            ) from None
    if not questions:
        raise KnowledgeError(
            f"{name} holds no golden questions.",
            f"Add one JSON object per line, such as {_EXAMPLE}, or remove the file.",
        )
    return questions


def json_lines(text: str) -> list[str]:
    """The lines of JSON Lines *text*: split at line ends only, never at the other characters
    ``str.splitlines`` breaks at (U+2028, U+0085, ...), which JSON strings may hold as they are."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _parse_line(line: str, number: int) -> GoldenQuestion:
    try:
        data = parse_json(line)  # a ValueError, not a RecursionError, for absurd nesting
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON object {{...}} is expected, not {type(data).__name__}.")
    for key, value in data.items():
        if key not in _FIELDS:
            raise ValueError(f"unknown field {key!r}{_did_you_mean(key)}.")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key!r} must be a non-empty string, not {json.dumps(value)}.")
    if "question" not in data:
        raise ValueError("the 'question' field is missing.")
    expect = data.get("expect", "answered")
    if expect not in EXPECTS:
        raise ValueError(f"'expect' must be one of {', '.join(EXPECTS)}, not {expect!r}.")
    for key in data:
        if expect not in _FIELDS[key]:
            raise ValueError(f'{key!r} is only used with "expect": "{_FIELDS[key][0]}".')
    if expect == "answered" and "article" not in data:
        raise ValueError("an answered question needs the 'article' that must answer it.")
    article = str(data.get("article", "")).strip().replace("\\", "/").removeprefix("./")
    if article.startswith("/") or ".." in article.split("/"):
        raise ValueError(f"'article' must be a path inside the pack, not {article!r}.")
    return GoldenQuestion(
        line=number,
        question=data["question"].strip(),
        expect=expect,
        article=article,
        fact=str(data.get("fact", "")).strip(),
        topic=str(data.get("topic", "")).strip(),
    )


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, list(_FIELDS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; the fields are {', '.join(_FIELDS)}"


# --- running -------------------------------------------------------------------------------------


class _NoModel(AppContext):
    """A context whose model is never loaded: drafts are extractive, so runs are deterministic."""

    def engine(self) -> None:
        return None


def run_golden(
    pack_dir: Path,
    questions: list[GoldenQuestion],
    embedder: Embedder,
    paths: Paths | None = None,
    settings: Settings | None = None,
) -> GoldenReport:
    """Ask every question of the pack in *pack_dir* alone, generation off, and judge the answers.

    *paths* and *settings* are this installation's (its policy's sensitive topics, its search
    settings); by default those of the environment.
    """
    from desktop.core.assist import Assistant, Done
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    started = time.perf_counter()
    paths = paths or Paths.from_env()
    settings = settings or Settings.load(paths)
    assistant = Assistant(_NoModel(paths, settings, pack_dirs=[pack_dir], embedder=embedder))
    report = GoldenReport()
    for question in questions:
        try:
            answer = next(
                e.answer
                for e in assistant.ask(question.question, judge_extractive=False)
                if isinstance(e, Done)
            )
        except UserError as exc:
            report.results.append(GoldenResult(question, False, f"the question failed: {exc}"))
            continue
        report.results.append(judge(question, answer))
    report.seconds = time.perf_counter() - started
    return report


def judge(question: GoldenQuestion, answer: Answer) -> GoldenResult:
    """Whether *answer* is what *question* expects, and if not, why."""
    sources = tuple(dict.fromkeys(hit.source for hit in answer.sources))
    status = answer.status

    def result(reason: str) -> GoldenResult:
        return GoldenResult(question, not reason, reason, status, sources)

    if status != question.expect:
        return result(f"expected {question.expect}, got {status}{_why(answer, question)}")
    if question.expect == "route_to_human":
        topic = answer.route.get("topic", "")
        if question.topic and topic != question.topic:
            return result(f"routed for the topic {topic!r}, not {question.topic!r}")
    if question.expect == "answered":
        if question.article not in sources:
            shown = ", ".join(sources) or "none"
            return result(f"the article {question.article} is not among the sources ({shown})")
        if question.fact and _normal(question.fact) not in _normal(answer.draft):
            return result(f"the draft does not contain {question.fact!r}")
    return result("")


def _why(answer: Answer, question: GoldenQuestion) -> str:
    if answer.status == "route_to_human":
        return f" (sensitive topic {answer.route.get('topic', '')!r})"
    if answer.status == "no_source" and question.article:
        return " (no passage was relevant enough)"
    return ""


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def check_pack(
    pack_dir: Path,
    embedder: Embedder,
    paths: Paths | None = None,
    settings: Settings | None = None,
) -> tuple[GoldenReport, float] | None:
    """Run the golden questions shipped in the pack at *pack_dir* against it.

    Returns the report and the pack's threshold (from its manifest), or None for a pack without
    golden questions. KnowledgeError when its golden file cannot be read.
    """
    path = pack_dir / GOLDEN_FILE
    if not path.is_file():
        return None
    questions = read_golden(path)
    try:
        manifest: Any = parse_json((pack_dir / "manifest.json").read_text(encoding="utf-8"))
        threshold = float(manifest.get("golden", {}).get("threshold", DEFAULT_THRESHOLD))
    except (OSError, ValueError, TypeError, AttributeError):
        threshold = DEFAULT_THRESHOLD
    return run_golden(pack_dir, questions, embedder, paths, settings), threshold


def shortfall(report: GoldenReport, threshold: float) -> str:
    """Why *report* falls short of *threshold* ("" when it does not), in one line."""
    if report.pass_rate >= threshold:
        return ""
    return (
        f"golden questions: {report.summary()}, below the pack's {threshold:.0%} "
        f"(failed: {report.failures()})"
    )


def workstation_refusal(
    pack_dir: Path, embedder: Embedder, paths: Paths, settings: Settings
) -> str:
    """Why this machine must refuse the unpacked pack at *pack_dir* ("" to accept it): its
    golden questions pass less often than its threshold, or cannot be read."""
    try:
        outcome = check_pack(pack_dir, embedder, paths, settings)
    except KnowledgeError as exc:
        return f"its golden questions cannot be run ({exc.message})"
    return shortfall(*outcome) if outcome is not None else ""


def drop_article(pack_dir: Path, source: str) -> int:
    """Remove the golden questions that *source* must answer from the pack in *pack_dir*, and
    return how many: retiring a document must not make workstations refuse the version that
    removes it. The manifest's golden entry keeps its threshold; its pass rate is unknown until
    the questions run again (at the next build, and on every workstation at sync)."""
    path = pack_dir / GOLDEN_FILE
    if not path.is_file():
        return 0
    lines = json_lines(path.read_text(encoding="utf-8-sig"))
    drop = {q.line for q in parse_golden("\n".join(lines), str(path)) if q.article == source}
    if not drop:
        return 0
    kept = [line for n, line in enumerate(lines, start=1) if n not in drop and line.strip()]
    manifest_path = pack_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = manifest.setdefault("files", {})
    old = manifest.get("golden") or {}
    if kept:
        data = ("\n".join(kept) + "\n").encode("utf-8")
        atomic_write_bytes(path, data)
        files[GOLDEN_FILE] = hashlib.sha256(data).hexdigest()
        manifest["golden"] = {
            "total": len(kept),
            "threshold": old.get("threshold", DEFAULT_THRESHOLD),
            "retired_questions": len(drop) + int(old.get("retired_questions", 0)),
        }
    else:
        path.unlink()
        files.pop(GOLDEN_FILE, None)
        manifest.pop("golden", None)
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    return len(drop)


def check_threshold(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise KnowledgeError(
            f"The golden threshold {value:g} is not between 0 and 1.",
            "Give the share of golden questions that must pass, for example 0.9.",
        )
    return value
