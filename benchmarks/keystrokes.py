"""Keystrokes and seconds from a customer's question to a copied, verified reply (issue 14).

    .venv/bin/python benchmarks/keystrokes.py [--before DIR] [--modes model,extractive]
                                              [--questions 10]

The real window (offscreen) over the demo pack, driven with real key events (``QTest.keyClick``
sent to the widget that has the keyboard focus, as the keyboard would), for the first
``--questions`` answerable demo questions of ``benchmarks/data/grounding_questions.jsonl``
(corpus ``demo``, expect ``answered``: g001-g010; neither the set nor the demo pack's README marks
any as more common). For each, the agent has the customer's message on the clipboard (copied from
the chat) and, with the fewest keys the window offers:

1. Ctrl+K (focus the search box; it selects what the box holds) and Ctrl+V (paste), 2 keys.
   Typing the question instead is Ctrl+K and one key per character (``keys_typed``);
2. Enter (draft a reply to what the box holds), then waits for the draft to finish;
3. Ctrl+Shift+C (copy). When the window asks first (a draft that needs checking), Tab until
   "Copy anyway" has the focus, then Space: every key counted.

Seconds: wall time from the first key to the clipboard holding the reply (keys are sent at once:
this is the window's time, not the agent's typing). Verified: the reply copied is an answered
draft with every sentence supported, neither stopped nor cut short.

Each configuration runs in its own process: the code of this checkout ("after") and, with
``--before DIR``, the code checked out in DIR (``git worktree add /tmp/kb-before 8ab8c4d``, the
window before this session's changes; this script only uses what both have: the shortcuts the
README lists, ``MainWindow.draft_finished`` and ``ready``), each with the default SmolLM2 model
and in extractive mode. Results: benchmarks/results/keystrokes.{json,md}.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, write_result

SET = ROOT / "benchmarks" / "data" / "grounding_questions.jsonl"
WAIT_S = 900.0


def demo_questions(count: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["corpus"] == "demo" and r["expect"] == "answered"][:count]


# --- the child: one code version, one mode ---------------------------------------------------


class Agent:
    """Sends real key events to the focused widget, counting them."""

    def __init__(self, app: Any, window: Any) -> None:
        self.app, self.window, self.keys = app, window, 0

    def key(self, key: Any, modifiers: Any = None) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        target = self.app.focusWidget() or self.window
        QTest.keyClick(target, key, modifiers or Qt.KeyboardModifier.NoModifier)
        self.keys += 1

    def spin(self, done: Any, timeout_s: float) -> bool:
        """Process events until *done()* or *timeout_s* passes."""
        end = time.perf_counter() + timeout_s
        while not done() and time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.005)
        return bool(done())


def wait_signal(agent: Agent, signal: Any, action: Any, timeout_s: float = WAIT_S) -> list[Any]:
    got: list[Any] = []

    def handler(*args: Any) -> None:
        got.append(args)

    signal.connect(handler)
    action()
    agent.spin(lambda: bool(got), timeout_s)
    signal.disconnect(handler)
    if not got:
        raise TimeoutError(f"{signal} did not fire within {timeout_s} s")
    return list(got[0])


def confirm_copy(agent: Agent, part: Any) -> int:
    """Tab to "Copy anyway" in the window's question and press Space; the keys it took."""
    from PySide6.QtCore import Qt

    box = getattr(part, "confirm_box", None)
    if box is None or not box.isVisible():
        return 0
    before = agent.keys
    anyway = next(b for b in box.buttons() if b.text() == "Copy anyway")
    box.activateWindow()  # as the desktop does with a new dialog (offscreen does not)
    agent.spin(box.isActiveWindow, 2.0)
    for _ in range(4):
        if agent.app.focusWidget() is anyway:
            break
        agent.key(Qt.Key.Key_Tab)
    agent.key(Qt.Key.Key_Space)
    return agent.keys - before


def one_question(agent: Agent, question: str) -> dict[str, Any]:
    """From the question on the clipboard to the reply on it: keys, seconds, and what was copied."""
    from PySide6.QtCore import Qt

    app, window = agent.app, agent.window
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    part = window.parts["draft"]
    part.confirm_box = None
    app.clipboard().setText(question)
    agent.keys = 0
    started = time.perf_counter()
    agent.key(Qt.Key.Key_K, ctrl)
    agent.key(Qt.Key.Key_V, ctrl)
    pasted = window.search.box.text() == question
    answer = wait_signal(agent, window.draft_finished, lambda: agent.key(Qt.Key.Key_Return))[0]
    drafted = time.perf_counter() - started
    agent.key(Qt.Key.Key_C, ctrl | shift)

    def replied() -> bool:
        return app.clipboard().text() not in ("", question)

    agent.spin(lambda: replied() or getattr(part, "confirm_box", None) is not None, 5.0)
    confirm = confirm_copy(agent, part)
    copied = agent.spin(replied, 5.0)
    seconds = time.perf_counter() - started
    flagged = sum(s.verdict != "supported" for s in answer.sentences)
    verified = (
        answer.status == "answered"
        and flagged == 0
        and not answer.stopped
        and not getattr(answer, "limit", "")
    )
    return {
        "pasted": pasted,
        "keys_paste": agent.keys,
        "keys_typed": agent.keys - 1 + len(question),  # Ctrl+V replaced by one key per character
        "confirm_keys": confirm,
        "seconds": round(seconds, 3),
        "draft_seconds": round(drafted, 3),
        "status": answer.status,
        "mode": answer.mode,
        "sentences": len(answer.sentences),
        "flagged": flagged,
        "stopped": bool(answer.stopped),
        "copied": copied,
        "verified": copied and verified,
    }


def open_window(app: Any, mode: str) -> Any:
    from desktop.core.context import AppContext
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.gui.main_window import MainWindow

    paths = Paths.from_env()
    settings = Settings.load(paths)
    settings.set("generation.enabled", mode == "model")
    settings.set("generation.replies", mode == "model")
    window = MainWindow(AppContext(paths, settings))
    window.show()
    window.activateWindow()
    wait_signal(Agent(app, window), window.ready, window.start)
    return window


def warm_up(agent: Agent, questions: list[dict[str, Any]]) -> str:
    """Two questions not measured: the first search loads the model; the state it reached."""
    label = agent.window.parts["status"].model_label
    one_question(agent, questions[0]["question"])
    agent.spin(lambda: "ready" in label.text() or "extractive" in label.text(), WAIT_S)
    one_question(agent, questions[1]["question"])
    return str(label.text())


def child(code: str, mode: str, count: int) -> None:
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 PID: every thread's stack to stderr
    sys.path.insert(0, code)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import desktop

    assert Path(desktop.__file__).resolve().is_relative_to(Path(code).resolve()), desktop.__file__
    app = QApplication([])
    try:
        from desktop.app import guard_singletons

        guard_singletons()
    except ImportError:
        pass  # the code before it had no guard
    window = open_window(app, mode)
    agent = Agent(app, window)
    model = warm_up(agent, demo_questions(count + 2)[-2:])
    rows = []
    for row in demo_questions(count):
        rows.append({"id": row["id"], "chars": len(row["question"])})
        rows[-1].update(one_question(agent, row["question"]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    window.close()
    window.ops.wait(120_000)
    print(json.dumps({"model": model, "rows": rows}))


# --- the parent: every configuration, then the tables ----------------------------------------


def run_child(code: Path, mode: str, count: int, home: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "DESKMATE_HOME": str(home),
        "DESKMATE_POLICY_DIR": str(home / "no-policy"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    command = [sys.executable, __file__, "--child", str(code), "--mode", mode]
    command += ["--questions", str(count)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{code} {mode} failed ({done.returncode})")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    copied_verified = [r for r in rows if r["verified"]]
    return {
        "questions": len(rows),
        "copied": sum(r["copied"] for r in rows),
        "copied_verified": len(copied_verified),
        "keys_paste_total": sum(r["keys_paste"] for r in rows),
        "keys_paste_median": statistics.median(r["keys_paste"] for r in rows),
        "keys_typed_median": statistics.median(r["keys_typed"] for r in rows),
        "confirmations": sum(r["confirm_keys"] > 0 for r in rows),
        "seconds_median": round(statistics.median(r["seconds"] for r in rows), 2),
        "seconds_max": round(max(r["seconds"] for r in rows), 2),
        "seconds_median_verified": (
            round(statistics.median(r["seconds"] for r in copied_verified), 2)
            if copied_verified
            else None
        ),
        "statuses": {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}},
    }


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# Keystrokes from a customer's question to a copied, verified reply "
        "(benchmarks/keystrokes.py)",
        "",
        "Real key events in the offscreen window over the demo pack; demo questions g001-g010; "
        "question on the clipboard, Ctrl+K, Ctrl+V, Enter, wait, Ctrl+Shift+C (+ Tab…Space when "
        "the window asks first). Seconds: first key to the reply on the clipboard.",
        "",
        "| code | mode | copied | verified | keys (paste), median / total | keys (typed), "
        "median | confirmations | seconds median (verified) / max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        s = run["summary"]
        lines.append(
            f"| {run['code']} | {run['mode']} ({run['model']}) | {s['copied']}/{s['questions']} "
            f"| {s['copied_verified']}/{s['questions']} | {s['keys_paste_median']} / "
            f"{s['keys_paste_total']} | {s['keys_typed_median']} | {s['confirmations']} | "
            f"{s['seconds_median']} ({s['seconds_median_verified']}) / {s['seconds_max']} |"
        )
    lines += ["", "Per question (keys with paste · seconds · verified):", ""]
    lines.append("| id | " + " | ".join(f"{r['code']} {r['mode']}" for r in runs) + " |")
    lines.append("|---" * (len(runs) + 1) + "|")
    for index, row in enumerate(runs[0]["rows"]):
        cells = []
        for run in runs:
            r = run["rows"][index]
            mark = "✓" if r["verified"] else f"✗ {r['status']}, {r['flagged']} flagged"
            cells.append(f"{r['keys_paste']} · {r['seconds']} s · {mark}")
        lines.append(f"| {row['id']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="a checkout of the code before (8ab8c4d)")
    parser.add_argument("--modes", default="model,extractive")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, args.questions)
        return
    codes = [("after", ROOT)] + ([("before", Path(args.before))] if args.before else [])
    runs = []
    for label, code in codes:
        home = Path(tempfile.mkdtemp(prefix=f"deskmate-keys-{label}-"))
        for mode in args.modes.split(","):
            started = time.time()
            found = run_child(code, mode, args.questions, home)
            runs.append({"code": label, "path": str(code), "mode": mode, **found})
            runs[-1]["summary"] = summary(found["rows"])
            runs[-1]["wall_s"] = round(time.time() - started, 1)
    write_result(
        "keystrokes",
        {"questions": [q["id"] for q in demo_questions(args.questions)], "runs": runs},
        table(runs),
    )


if __name__ == "__main__":
    main()
