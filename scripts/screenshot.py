"""Take screenshots of the real Deskmate window's main states for the README (run under Xvfb).

    xvfb-run -s "-screen 0 1280x860x24" .venv/bin/python scripts/screenshot.py docs/

Runs the real window over the demo pack (built on first use in a scratch Deskmate home) with the
default model, with a machine policy that locks "Follow the clipboard" off, and grabs the whole X
screen after each step, so what is saved is what a person would see:

    screenshot-search.png     search results and the highlighted source passage
    screenshot-draft.png      a draft with its sentence verdicts (also screenshot-main.png)
    screenshot-final.png      the finished draft: its state first, the legend, the sources
    screenshot-edit.png       the finished draft in Edit mode (plain text, what Copy copies)
    screenshot-stale.png      a new search: the old draft marked as the previous question's
    screenshot-route.png      a sensitive message routed to a person
    screenshot-no-source.png  a question no approved source covers
    screenshot-listen.png     the listen panel suggesting articles from a conversation
    screenshot-settings.png   the settings dialog with a value locked by policy
    screenshot-shortcuts.png  Help > Keyboard shortcuts (F1)
    screenshot-no-model.png   the guidance when the model file is missing
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOME = Path(tempfile.gettempdir()) / "deskmate-screenshots"
os.environ.setdefault("DESKMATE_HOME", str(HOME / "home"))
os.environ["DESKMATE_POLICY_DIR"] = str(HOME / "policies")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.core.assist import Done, Replaced  # noqa: E402
from desktop.core.context import AppContext  # noqa: E402
from desktop.gui.main_window import MainWindow  # noqa: E402

CONVERSATION = (
    "Customer: Hi, my new phone arrived yesterday\n"
    "Agent: Thanks for getting in touch, how can I help?\n"
    "Customer: It arrived with a cracked screen, can I send it back?"
)
# A step does something to the window and returns the signal that says it is done (or None),
# then the screen is saved under the name it gives.
Step = tuple[str, Callable[[], Any]]


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    HOME.mkdir(parents=True, exist_ok=True)
    policy = {"settings": {"listen.follow_clipboard": False}}
    # A managed policy turns the demo pack off unless it allows it (desktop.core.managed).
    policy["settings"]["knowledge.demo_enabled"] = True
    (HOME / "policies" / "managed").mkdir(parents=True, exist_ok=True)
    (HOME / "policies" / "managed" / "policy.json").write_text(json.dumps(policy), "utf-8")
    app = QApplication(sys.argv[:1])
    window = MainWindow(AppContext.from_env())
    window.setGeometry(0, 0, 1280, 860)
    window.show()
    holder: dict[str, Any] = {"window": window}
    grabbed: set[str] = set()

    def type_query(text: str) -> Any:
        window.search.box.setText(text)
        return window.results_shown

    def ask(text: str) -> Any:
        window.search.box.setText(text)
        window.draft_reply()
        return window.draft_finished

    def stream() -> Any:
        """Grab the streamed draft with its verdicts before a weak draft would be replaced."""
        handle = window.parts["draft"]._on_ask_event

        def grab() -> None:
            if "draft" not in grabbed:
                grabbed.add("draft")
                app.primaryScreen().grabWindow(0).save(str(out / "screenshot-draft.png"))
                shutil.copy(out / "screenshot-draft.png", out / "screenshot-main.png")
                print("saved draft", flush=True)

        def spy(event: Any) -> None:
            if isinstance(event, Replaced):
                grab()  # a model's draft with its verdicts, before it is replaced
            handle(event)
            if isinstance(event, Done):
                app.processEvents()
                grab()  # the finished draft (replies are the sources' sentences by default)

        window.parts["draft"]._on_ask_event = spy
        return ask("How do I return a damaged item?")

    def listen() -> Any:
        window.search.box.clear()
        window.listen.conversation.setPlainText(CONVERSATION)
        window.suggestions_shown.connect(lambda _: window.listen.suggestions.setCurrentRow(0))
        return window.suggestions_shown

    def edit() -> Any:
        window.parts["draft"].toggle_edit()
        return None

    def stale() -> Any:
        window.parts["draft"].toggle_edit()  # done editing
        return type_query("change my tariff")

    def shortcuts() -> Any:
        holder["dialog"].reject()
        window.show_shortcuts()
        holder["dialog"] = window.shortcuts_box
        return None

    def settings() -> Any:
        holder["dialog"] = window.parts["settings"].open_settings()
        holder["dialog"].move(320, 120)
        return None

    def no_model() -> Any:
        holder["dialog"].reject()
        window.close()
        broken = MainWindow(AppContext.from_env(model_path=HOME / "missing-model.gguf"))
        broken.setGeometry(0, 0, 1280, 860)
        broken.show()
        holder["window"] = broken
        broken.start()
        broken.search.box.setText("How do I return a damaged item?")
        return broken.failed

    steps: list[Step] = [
        ("search", lambda: type_query("return a damaged item")),
        ("draft-final", stream),
        ("final", lambda: None),
        ("edit", edit),
        ("stale", stale),
        ("route", lambda: ask("My husband passed away last week, can you close his account?")),
        ("no-source", lambda: ask("What is the capital of France?")),
        ("listen", listen),
        ("settings", settings),
        ("shortcuts", shortcuts),
        ("no-model", no_model),
    ]
    sequence: Iterator[Step] = iter(steps)

    def grab(name: str) -> None:
        if name != "draft-final":  # the draft was grabbed while it streamed
            app.primaryScreen().grabWindow(0).save(str(out / f"screenshot-{name}.png"))
            print("saved", name, flush=True)
        advance()

    def advance() -> None:
        step = next(sequence, None)
        if step is None:
            app.quit()
            return
        name, action = step
        signal = action()
        if signal is None:
            QTimer.singleShot(800, lambda: grab(name))
            return
        fired: list[bool] = []

        def then(*_: Any) -> None:
            if not fired:
                fired.append(True)
                signal.disconnect(then)
                # Let suggestions, the source pane and the status bar settle before grabbing.
                QTimer.singleShot(1500, lambda: grab(name))

        signal.connect(then)

    window.ready.connect(lambda: QTimer.singleShot(0, advance))
    window.start()
    QTimer.singleShot(900_000, app.quit)
    app.exec()
    for w in (window, holder["window"]):
        w.stop()
        w.ops.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
