"""A scripted "day of agent use" in the real window, then a screenshot of its Usage page.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/usage-day.py [docs/usage-page.png]

Drives the real MainWindow (offscreen) over the demo pack in a scratch Deskmate home, as an
agent would: 40 questions from ``benchmarks/data/grounding_questions.jsonl`` (answered, no
approved source, and sensitive cases routed to a person) are typed, a result is opened, a draft
is written (extractive, so it is quick and the same each run), most drafts are copied, and some
are rated. The audit clock (:func:`desktop.core.audit.utc_now`, the trail's only clock) is set
for each question so that the work is spread over the last four days, and the time from a
question to its first source is the agent's reading time (set on the shell before the source is
opened). The questions are kept redacted (``privacy.audit_question = redacted``), so
``deskmate report gaps`` has something to group; its text output is printed at the end.

The Usage page is then opened over the last 7 days and saved with ``QWidget.grab()``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOME = Path(tempfile.mkdtemp(prefix="deskmate-usage-day-"))
os.environ["DESKMATE_HOME"] = str(HOME / "home")
os.environ["DESKMATE_POLICY_DIR"] = str(HOME / "no-policy")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.core import audit, feedback, gaps  # noqa: E402
from desktop.core.context import AppContext  # noqa: E402
from desktop.gui.main_window import MainWindow  # noqa: E402
from desktop.gui.parts.usage import UsagePart  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "data" / "grounding_questions.jsonl"
MIX = {"answered": 28, "no_source": 7, "route_to_human": 5}
DAYS = 4


def wait(signal: Any, timeout_s: float = 180) -> list[Any]:
    """Run the event loop until *signal* fires; its arguments."""
    loop = QEventLoop()
    got: list[Any] = []
    fired_at: list[float] = []

    def fired(*args: Any) -> None:
        got.extend(args)
        fired_at.append(time.monotonic())
        loop.quit()

    signal.connect(fired)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(fired)
    if not fired_at:
        raise TimeoutError(f"waited {timeout_s} s for {signal}")
    return got


def settle(ms: int = 200) -> None:
    QTest.qWait(ms)


def questions(rng: random.Random) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    chosen: list[str] = []
    for expect, count in MIX.items():
        pool = [r["question"] for r in rows if r["corpus"] == "demo" and r["expect"] == expect]
        chosen += rng.sample(pool, min(count, len(pool)))
    # A few questions come back in other words (the gaps report groups them).
    chosen += ["Do you have a student discount?", "Can I get Netflix with my plan?"]
    rng.shuffle(chosen)
    return chosen


class Clock:
    """The audit trail's clock, moved forward question by question over the last DAYS days."""

    def __init__(self) -> None:
        today = datetime.now(UTC).replace(hour=8, minute=30, second=0, microsecond=0)
        self.first = today - timedelta(days=DAYS)  # the DAYS days before today
        self.now = self.first
        audit.utc_now = lambda: self.now

    def moment(self, index: int, total: int, rng: random.Random) -> None:
        day = index * DAYS // total
        slot = index - -(-day * total // DAYS)  # the question's place in its day
        minutes = slot * 35 + rng.randint(0, 20)
        self.now = self.first + timedelta(days=day, minutes=minutes)


def one_question(window: MainWindow, text: str, rng: random.Random) -> str:
    """Type, open a result, draft, maybe copy, maybe rate: what the agent did."""
    context = window.context
    window.search.box.clear()
    window.search.box.setText(text)
    hits = wait(window.results_shown)[0]
    if hits and rng.random() < 0.85:
        window.shell.asked_at = time.monotonic() - rng.uniform(2.0, 14.0)  # reading the results
        window.search.results.setCurrentRow(min(len(hits) - 1, rng.choice((0, 0, 1))))
    context.audit.flush()
    QTest.keyClick(window.search.box, Qt.Key.Key_Return)
    answer = wait(window.draft_finished)[0]
    settle(100)
    done = answer.status
    if answer.status == "answered" and rng.random() < 0.72:
        window.draft.copy_button.click()
        settle(50)
        done += ", copied"
    roll = rng.random()
    if roll < 0.25 or (answer.status == "no_source" and roll < 0.6):
        down = answer.status != "answered" or roll < 0.08
        (window.draft.thumbs_down if down else window.draft.thumbs_up).click()
        done += ", rated " + ("down" if down else "up")
    context.audit.flush()
    return done


def drive(window: MainWindow, out: Path) -> None:
    rng = random.Random(17)
    asked = questions(rng)
    clock = Clock()
    for index, text in enumerate(asked):
        clock.moment(index, len(asked), rng)
        done = one_question(window, text, rng)
        print(f"{clock.now:%a %H:%M} {done:28} {text[:70]}", flush=True)
    audit.utc_now = lambda: datetime.now(UTC)
    dialog = window.part(UsagePart).open_usage()
    dialog.resize(1180, 860)
    for _ in range(100):
        settle(100)
        if dialog.usage is not None:
            break
    settle(500)
    out.parent.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(out))
    print(dialog.summary.text())
    print(f"saved {out}")
    print_gaps(window.context)


def print_gaps(context: AppContext) -> None:
    records = [r for _, _, r in audit.read_records(audit.audit_dir(context.paths.data))]
    now = datetime.now(UTC)
    entries = feedback.read_all(context.paths.data)
    found = gaps.build(records, entries, now - timedelta(days=7), now, context.embedder.embed)
    print(gaps.to_text(found))


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "usage-page.png")
    app = QApplication(sys.argv[:1])
    context = AppContext.from_env()
    context.settings.set("generation.enabled", False)
    context.settings.set("privacy.audit_question", "redacted")
    window = MainWindow(context)
    window.resize(1280, 860)
    window.show()
    window.start()
    wait(window.ready, 900)
    try:
        drive(window, out)
    finally:
        window.stop()
        window.ops.wait()
        context.audit.flush()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
