"""Kill Deskmate with SIGKILL in the middle of an operation and check what the next start finds.

Used by tests/crash/test_crash_safety.py (a few kills per operation) and by
benchmarks/crash_safety.py (50 or more). Each operation has a template folder holding the *old*
state, built once with the real embedder. For every trial the template is copied to a fresh run
folder, the operation runs as a child process (the real ``deskmate`` command, or the driver at the
bottom of this file for a feedback write) and is killed with SIGKILL after a random delay drawn
uniformly over the operation's measured duration. Then the state is classified as ``old``, ``new``
or ``corrupt``, and a fresh ``deskmate search --json`` must exit 0 with results.

A second, secondary way to kill: ``DESKMATE_CRASH_AT=<point>`` makes the child kill itself at a
named point of the product code (:func:`desktop.core.fileio.crash_point`), for windows too narrow
for a random delay to hit.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sync"))  # synckit: the small two-version pack
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop.core.paths import Paths  # noqa: E402
from desktop.core.settings import Settings  # noqa: E402

OLD, NEW, CORRUPT = "old", "new", "corrupt"
PACK_QUERY = "What is the loyalty reward code word for the anniversary voucher?"
DEMO_QUERY = "How do I reset my password?"
SEARCH_TIMEOUT_S = 300

Classify = Callable[[Path], tuple[str, str]]


@dataclass
class Operation:
    """One operation to interrupt: its old state, its command and how to judge what it left."""

    name: str
    template: Path  # the old state; copied to the run folder before every trial
    argv: list[str]  # the child command ({run} is replaced by the run folder)
    classify: Classify  # run folder -> (old|new|corrupt, detail)
    search: list[str]  # deskmate search arguments for the check after the kill
    env: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0  # seconds the operation takes when not killed (measured)


@dataclass
class Trial:
    operation: str
    delay: float  # seconds after the start at which SIGKILL was sent (-1: a named crash point)
    killed: bool  # False when the operation had already finished
    left: str  # the state on disk right after the kill, before the next start
    state: str  # the state the next start (a search) found and left
    detail: str
    search_ok: bool
    search_detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- running the child ---------------------------------------------------------------------------


def child_env(run: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKMATE_")}
    env.update(
        DESKMATE_HOME=str(run / "home"),
        DESKMATE_POLICY_DIR=str(run / "policies"),
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.update({k: v.replace("{run}", str(run)) for k, v in extra.items()})
    return env


def deskmate(*args: str) -> list[str]:
    return [sys.executable, "-m", "desktop.cli.main", *args]


def _argv(op: Operation, run: Path) -> list[str]:
    return [a.replace("{run}", str(run)) for a in op.argv]


def reset(op: Operation, run: Path) -> None:
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(op.template, run, symlinks=True)


def run_to_end(op: Operation, run: Path) -> float:
    """Run *op* unkilled from its old state; return its wall time. It must reach the new state."""
    reset(op, run)
    started = time.perf_counter()
    done = subprocess.run(
        _argv(op, run), env=child_env(run, op.env), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    state, detail = op.classify(run)
    if done.returncode != 0 or state != NEW:
        raise AssertionError(
            f"{op.name} did not reach the new state ({state}: {detail}; exit "
            f"{done.returncode}): {done.stderr[-2000:]}"
        )
    return seconds


def kill_after(op: Operation, run: Path, delay: float, crash_at: str = "") -> bool:
    """Start *op* and SIGKILL it after *delay* s; True if it was still running then."""
    env = child_env(run, op.env)
    if crash_at:
        env["DESKMATE_CRASH_AT"] = crash_at
    child = subprocess.Popen(
        _argv(op, run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        child.wait(timeout=delay)
        return crash_at != "" and child.returncode == -signal.SIGKILL
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
        return True


def search_works(op: Operation, run: Path) -> tuple[bool, str]:
    """A fresh ``deskmate search --json`` on the state left behind: exit 0 and some results."""
    done = subprocess.run(
        deskmate("search", "--json", *[a.replace("{run}", str(run)) for a in op.search]),
        env=child_env(run, op.env),
        capture_output=True,
        text=True,
        timeout=SEARCH_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        return False, f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
    try:
        hits = json.loads(done.stdout)
    except ValueError:
        return False, f"not JSON: {done.stdout[:200]!r}"
    return (True, "") if hits else (False, "no results")


def trial(op: Operation, run: Path, delay: float, crash_at: str = "") -> Trial:
    """Reset, run and kill *op*; then start Deskmate again (the search) and judge what it finds.

    ``state`` is judged after that next start, which may finish what the kill interrupted;
    ``left`` is what the kill itself left on disk, before any start.
    """
    reset(op, run)
    killed = kill_after(op, run, delay, crash_at)
    left, _ = op.classify(run)
    ok, why = search_works(op, run)
    state, detail = op.classify(run)
    return Trial(
        op.name, -1.0 if crash_at else round(delay, 3), killed, left, state, detail, ok, why
    )


def random_trials(op: Operation, run: Path, kills: int, seed: int) -> list[Trial]:
    """*kills* trials, each killed after a delay drawn uniformly over the measured duration."""
    rng = random.Random(f"{seed}-{op.name}")
    return [trial(op, run, rng.uniform(0.0, op.duration), "") for _ in range(kills)]


# --- judging a pack ------------------------------------------------------------------------------


def pack_problem(folder: Path, embedder: Any) -> str:
    """Why the pack at *folder* is not complete and usable ("" if it is): it opens with the
    local model, every document's text reads, the table holds the manifest's passages and both
    a vector and a keyword search run."""
    from desktop.core.errors import KnowledgeError
    from desktop.core.knowledge.index import Pack

    try:
        pack = Pack(folder, embedder)
        pack.probe()
        rows = len(pack.passage_texts())
        for source, _ in pack.documents_meta():
            pack.document_text(source)
    except (KnowledgeError, OSError, ValueError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if rows != pack.manifest.get("chunks"):
        return f"{rows} passages, the manifest says {pack.manifest.get('chunks')}"
    return ""


def pack_state(folder: Path | None, embedder: Any, versions: dict[str, str]) -> tuple[str, str]:
    """old/new by the manifest's version (*versions* maps version -> state), once it is sound."""
    if folder is None or not (folder / "manifest.json").is_file():
        return CORRUPT, f"no pack at {folder}"
    problem = pack_problem(folder, embedder)
    if problem:
        return CORRUPT, problem
    version = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["version"]
    return versions.get(version, CORRUPT), f"version {version}"


# --- the operations ------------------------------------------------------------------------------


def _paths(home: Path, policy: Path) -> Paths:
    root = policy.parent.parent  # <root>/managed/policy.json
    return Paths(home / "data", home / "config", home / "cache", home / "logs", root, False)


def _write_settings(home: Path, policy: Path, values: dict[str, object]) -> None:
    settings = Settings.load(_paths(home, policy))
    for key, value in values.items():
        settings.set(key, value)
    settings.save()


def pack_sources(shared: Path) -> dict[str, Path]:
    """The small two-version source folders of synckit (code word MARIGOLD, then TANGERINE)."""
    import synckit

    found = {}
    for version in ("1", "2"):
        src = shared / f"src-{version}"
        if not src.is_dir():
            for article in synckit.ARTICLES:
                (src / article).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(synckit.DEMO / article, src / article)
            word = synckit.V1_WORD if version == "1" else synckit.V2_WORD
            text = synckit.loyalty_article(word)
            (src / "billing" / "loyalty-voucher.md").write_text(text, encoding="utf-8")
        found[version] = src
    return found


def search_pack(shared: Path, embedder: Any) -> Path:
    """A pack, outside every run folder, for the search after a settings or feedback kill."""
    from desktop.core.knowledge.build import build_pack

    dest = shared / "search-pack"
    if not (dest / "manifest.json").is_file():
        build_pack(pack_sources(shared)["1"], dest, embedder, pack_id="search", version="1")
    return dest


def pack_build_op(shared: Path, embedder: Any) -> Operation:
    """``deskmate pack build`` of version 2 over a folder holding version 1."""
    from desktop.core.knowledge.build import build_pack

    sources = pack_sources(shared)
    template = shared / "pack_build"
    out = template / "out" / "crashpack"
    if not out.is_dir():
        template.mkdir(parents=True, exist_ok=True)
        build_pack(sources["1"], out, embedder, pack_id="crashpack", version="1")

    def classify(run: Path) -> tuple[str, str]:
        return pack_state(run / "out" / "crashpack", embedder, {"1": OLD, "2": NEW})

    argv = deskmate("pack", "build", str(sources["2"]), "--out", "{run}/out/crashpack")
    argv += ["--id", "crashpack", "--version", "2", "--no-progress", "--json"]
    search = ["--pack", "{run}/out/crashpack", PACK_QUERY]  # the admin checks the new pack
    return Operation("pack_build", template, argv, classify, search)


def sync_install_op(shared: Path, embedder: Any) -> Operation:
    """``deskmate sync`` installing version 2 of a synced pack over version 1."""
    import synckit

    from desktop.core.sync.client import run_sync
    from desktop.core.sync.install import resolve_pack_dir
    from desktop.core.sync.repo import Repository

    template = shared / "sync_install"
    if not template.is_dir():
        built = {v: synckit.build_pack_version(shared / "sync-packs", embedder, v) for v in "12"}
        repo = Repository.create(shared / "repo", shared / "keys")
        repo.publish(built["1"])
        home, policy = template / "home", template / "policies" / "managed" / "policy.json"
        home.mkdir(parents=True)
        policy.parent.mkdir(parents=True)
        shutil.copyfile(repo.metadata_dir / "1.root.json", policy.parent.parent / "root.json")
        # A managed policy: the demo pack is off (see desktop.core.managed).
        policy.write_text(json.dumps({"settings": {"sync.url": repo.folder.as_uri()}}))
        paths = _paths(home, policy)
        report = run_sync(paths, Settings.load(paths), embedder)
        assert report.ok, report.error
        repo.publish(built["2"])

    def classify(run: Path) -> tuple[str, str]:
        folder = resolve_pack_dir(run / "home" / "data" / "packs" / "northwind")
        return pack_state(folder, embedder, {"1": OLD, "2": NEW})

    argv = deskmate("sync", "--no-progress", "--json")
    return Operation("sync_install", template, argv, classify, [PACK_QUERY])


def settings_write_op(shared: Path, embedder: Any) -> Operation:
    """``deskmate config set`` over a settings file that holds other values."""
    template = shared / "settings_write"
    old = {"search.limit": 5, "ui.font_scale": 1.25, "model.threads": 2}
    new = {**old, "search.limit": 7}
    if not template.is_dir():
        _write_settings(template / "home", template / "policies" / "managed" / "policy.json", old)

    def classify(run: Path) -> tuple[str, str]:
        file = run / "home" / "config" / "settings.json"
        try:
            found = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return CORRUPT, f"{type(exc).__name__}: {exc}"
        state = OLD if found == old else NEW if found == new else CORRUPT
        return state, json.dumps(found, sort_keys=True)

    argv = deskmate("config", "set", "search.limit", "7")
    search = ["--pack", str(search_pack(shared, embedder)), DEMO_QUERY]
    return Operation("settings_write", template, argv, classify, search)


FEEDBACK_OLD = 3  # records in the template's feedback file


def feedback_write_op(shared: Path, embedder: Any) -> Operation:
    """One thumbs-up recorded (the real :func:`desktop.core.feedback.record`) by :func:`main`."""
    from desktop.core import feedback

    template = shared / "feedback_write"
    data = template / "home" / "data"
    if not template.is_dir():
        for _ in range(FEEDBACK_OLD):
            feedback.record(data, _answer(), "down")

    def classify(run: Path) -> tuple[str, str]:
        return feedback_state(run / "home" / "data")

    argv = [sys.executable, str(Path(__file__).resolve()), "feedback", "{run}/home/data"]
    search = ["--pack", str(search_pack(shared, embedder)), DEMO_QUERY]
    return Operation("feedback_write", template, argv, classify, search)


def feedback_state(data: Path) -> tuple[str, str]:
    """old: the template's records; new: those plus one "up"; anything else (a torn or merged
    line, a lost record) is corrupt."""
    from desktop.core import feedback

    try:
        raw = feedback.feedback_file(data).read_text(encoding="utf-8")
        records = [json.loads(line) for line in raw.splitlines()]
    except (OSError, ValueError) as exc:
        return CORRUPT, f"{type(exc).__name__}: {exc}"
    ratings = [r.get("rating") for r in records]
    if raw and not raw.endswith("\n"):
        return CORRUPT, "the last line is not terminated"
    if ratings == ["down"] * FEEDBACK_OLD:
        return OLD, f"{len(records)} records"
    if ratings == ["down"] * FEEDBACK_OLD + ["up"]:
        return NEW, f"{len(records)} records"
    return CORRUPT, f"ratings {ratings}"


def index_rebuild_op(shared: Path, embedder: Any) -> Operation:
    """``deskmate index rebuild`` after the demo articles changed (an updated Deskmate)."""
    from desktop.core.context import AppContext, resources_dir
    from desktop.core.knowledge.build import file_checksums

    template = shared / "index_rebuild"
    resources = {"1": resources_dir(), "2": shared / "resources-2"}
    if not resources["2"].is_dir():
        shutil.copytree(resources["1"], resources["2"])
        article = resources["2"] / "demo" / "account-access" / "reset-your-password.md"
        article.write_text(article.read_text() + "\nA new paragraph about passwords.\n")
    if not template.is_dir():
        paths = _paths(template / "home", template / "policies" / "managed" / "policy.json")
        AppContext(paths, Settings.load(paths), embedder=embedder).build_demo_pack()
    sums = {v: file_checksums(folder / "demo") for v, folder in resources.items()}

    def classify(run: Path) -> tuple[str, str]:
        folder = run / "home" / "data" / "packs" / "demo"
        state, detail = pack_state(folder, embedder, {"1": OLD})
        if state == CORRUPT:
            return state, detail
        files = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
        found = OLD if files == sums["1"] else NEW if files == sums["2"] else CORRUPT
        return found, "built from " + {OLD: "the old", NEW: "the new"}.get(found, "other") + " demo"

    env = {"DESKMATE_RESOURCES": str(resources["2"])}
    argv = deskmate("index", "rebuild")
    # --pack: a plain search would rebuild a missing or stale demo pack and hide what was lost.
    search = ["--pack", "{run}/home/data/packs/demo", DEMO_QUERY]
    return Operation("index_rebuild", template, argv, classify, search, env)


OPERATIONS = {
    "pack_build": pack_build_op,
    "sync_install": sync_install_op,
    "settings_write": settings_write_op,
    "feedback_write": feedback_write_op,
    "index_rebuild": index_rebuild_op,
}
# Named crash points (secondary to random kills) that each operation passes through.
CRASH_POINTS = {
    "pack_build": ["build.swap"],
    "index_rebuild": ["build.swap"],
    # The rating is one write() call: a random kill lands before it (the process is mostly
    # start-up) or after; this point is the moment just after it, before the fsync.
    "feedback_write": ["feedback.write"],
}


def _answer() -> Any:
    from desktop.core.assist import Answer
    from desktop.core.knowledge.index import Hit

    hit = Hit("demo", "billing/disputing-a-charge.md", "Disputing a charge", "", 0, 10, "x", 0.9)
    return Answer("answered", "Why was I charged twice?", "You can dispute it.", sources=[hit])


def main(argv: list[str]) -> int:
    """The driver for a feedback write: ``crashkit.py feedback DATA_DIR``."""
    from desktop.core import feedback

    if argv[:1] != ["feedback"] or len(argv) != 2:
        print("usage: crashkit.py feedback DATA_DIR", file=sys.stderr)
        return 2
    feedback.record(Path(argv[1]), _answer(), "up", {"demo": "1"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
