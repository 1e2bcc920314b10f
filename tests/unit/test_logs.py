"""The bug tier's log: content-free by default, rotating, and the crash hooks that feed it."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.core import logs
from desktop.core.paths import Paths
from desktop.core.settings import Settings

SECRET = "Mrs Quokkaby's parcel 7781 never arrived"


@pytest.fixture
def paths(deskmate_home: Path) -> Paths:
    return Paths.from_env()


@pytest.fixture
def log_to_file(paths: Paths) -> Iterator[Any]:
    """Call logs.setup for this test's home; the handler is removed at teardown."""

    def start(settings: Settings | None = None) -> Path:
        path = logs.setup(paths, settings or Settings.load(paths))
        assert path is not None
        return path

    yield start
    logs.shutdown()


def our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, logs._LogFile)]


def formatted(record: logging.LogRecord, customer_text: bool = False) -> str:
    return logs.ContentFreeFormatter(customer_text).format(record)


def record(msg: Any, *args: Any, name: str = "desktop.core.assist", exc_info: Any = None) -> Any:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args or None, exc_info)


def raise_with_secret() -> None:
    raise ValueError(f"no results for {SECRET!r}")


def caught() -> BaseException:
    try:
        try:
            raise_with_secret()
        except ValueError as err:
            raise KeyError(f"lookup of {SECRET}") from err
    except KeyError as err:
        return err
    raise AssertionError("unreachable")


# --- the formatter -------------------------------------------------------------------------------


def test_content_marked_arguments_are_hidden_unless_the_setting_is_on() -> None:
    rec = record("search for %s took %d ms", logs.content(SECRET), 42)
    assert formatted(rec).endswith(f"search for <{len(SECRET)} chars> took 42 ms")
    assert formatted(rec, customer_text=True).endswith(f"search for {SECRET} took 42 ms")
    assert str(logs.content(SECRET)) == f"<{len(SECRET)} chars>"  # even with no formatter


def test_plain_text_arguments_are_hidden_numbers_paths_and_safe_text_kept() -> None:
    rec = record(
        "%s %s %s %s %s %s", SECRET, 3, 0.5, Path("/x/y"), logs.safe("pack-1"), ValueError(SECRET)
    )
    text = formatted(rec)
    assert SECRET not in text
    assert text.endswith(f"<{len(SECRET)} chars> 3 0.5 /x/y pack-1 <ValueError>")


def test_other_libraries_messages_are_hidden_whole() -> None:
    rec = record(f"Loading index for {SECRET}", name="lancedb")
    text = formatted(rec)
    assert SECRET not in text and "lancedb" in text and "hidden" in text
    assert SECRET in formatted(rec, customer_text=True)


def test_formatting_never_changes_the_record_other_handlers_see() -> None:
    exc = caught()
    rec = record("asked %s", logs.content(SECRET), exc_info=(KeyError, exc, exc.__traceback__))
    formatted(rec)
    assert isinstance(rec.args, tuple) and isinstance(rec.args[0], logs.Content)
    assert rec.exc_info is not None and rec.exc_text is None


def test_tracebacks_keep_frames_and_types_but_drop_messages() -> None:
    exc = caught()
    rec = record("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    text = formatted(rec)
    assert SECRET not in text and "Quokkaby" not in text
    # Both exceptions of the chain, oldest first, with where they happened.
    assert text.index("ValueError (message hidden") < text.index("KeyError (message hidden")
    assert "in raise_with_secret" in text and "in caught" in text
    assert 'raise ValueError(f"no results for {SECRET!r}")' in text  # the source line: code
    assert f'File "{__file__}"' in text
    assert "direct cause" in text
    assert SECRET in formatted(rec, customer_text=True)


def test_a_broken_exception_str_does_not_break_the_log() -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert "Weird (message hidden: 0 chars)" in logs.content_free_traceback(Weird())


def test_qt_messages_keep_the_class_name_only() -> None:
    assert logs.split_qt_message("QFont::setPointSize: Point size <= 0 (-1)") == (
        "QFont::setPointSize:",
        "Point size <= 0 (-1)",
    )
    assert logs.split_qt_message(f"{SECRET} in a document") == ("", f"{SECRET} in a document")


# --- the file ------------------------------------------------------------------------------------


def test_setup_writes_a_rotating_utf8_file_in_the_logs_folder(paths: Paths, log_to_file) -> None:
    path = log_to_file()
    assert path == paths.logs / "deskmate.log"
    logging.getLogger("desktop.core.assist").info("looked up %s", logs.content("café ☕"))
    (handler,) = our_handlers()
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (1_000_000, 5)
    handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "customer text in this log: off" in text
    assert "looked up <6 chars>" in text


def test_setup_is_idempotent_and_follows_a_new_folder(
    paths: Paths, log_to_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_to_file()
    log_to_file()
    assert len(our_handlers()) == 1
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "other"))
    moved = log_to_file(Settings(Paths.from_env()))
    assert len(our_handlers()) == 1
    assert our_handlers()[0].baseFilename == str(moved)


def test_old_log_files_rotate_away(paths: Paths, log_to_file, monkeypatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = log_to_file()
    for number in range(400):
        logging.getLogger("desktop.x").info("line %d of a long run", number)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["deskmate.log", *(f"deskmate.log.{n}" for n in range(1, 6))]
    assert all(p.stat().st_size <= 2_100 for p in path.parent.iterdir())


def test_a_query_never_reaches_the_file_unless_the_user_turns_it_on(
    paths: Paths, log_to_file
) -> None:
    path = log_to_file()
    exc = caught()
    logging.getLogger("desktop.gui.main_window").error("unexpected error", exc_info=exc)
    logging.getLogger("desktop.core.assist").info("query %s", logs.content(SECRET))
    our_handlers()[0].flush()
    assert SECRET not in path.read_text(encoding="utf-8")
    assert "KeyError (message hidden" in path.read_text(encoding="utf-8")

    settings = Settings.load(paths)
    settings.set(logs.SETTING, "on")
    log_to_file(settings)
    logging.getLogger("desktop.core.assist").info("query %s", logs.content(SECRET))
    our_handlers()[0].flush()
    text = path.read_text(encoding="utf-8")
    assert "customer text in this log: ON" in text
    assert f"query {SECRET}" in text


def test_customer_text_in_a_debugging_log_is_still_redacted(paths: Paths, log_to_file) -> None:
    """log.customer_text lets queries into the log, but never card numbers, e-mail addresses
    or phone numbers: everything Deskmate persists is redacted (issue 17)."""
    settings = Settings.load(paths)
    settings.set(logs.SETTING, "on")
    path = log_to_file(settings)
    said = "card 4111 1111 1111 1111, mail jo.bloggs@example.com, call +44 20 7946 0958"
    logging.getLogger("desktop.core.assist").info("query %s (order %s)", logs.content(said), 7781)
    try:
        raise ValueError(f"could not parse {said}")
    except ValueError as exc:
        logging.getLogger("desktop.gui.main_window").error("unexpected error", exc_info=exc)
    our_handlers()[0].flush()
    text = path.read_text(encoding="utf-8")
    assert "query card [CARD], mail [EMAIL], call [PHONE] (order 7781)" in text
    assert "could not parse card [CARD]" in text  # the traceback's message too
    for kept_out in ("4111", "jo.bloggs", "7946"):
        assert kept_out not in text


def test_policy_locks_customer_text_off(paths: Paths, log_to_file) -> None:
    paths.policy.write_text(json.dumps({"settings": {logs.SETTING: False}}))
    paths.config.mkdir(parents=True)
    paths.settings_file.write_text(json.dumps({logs.SETTING: True}))
    settings = Settings.load(paths)
    assert settings.is_locked(logs.SETTING) and settings.get(logs.SETTING) is False
    path = log_to_file(settings)
    logging.getLogger("desktop.core.assist").info("query %s", logs.content(SECRET))
    our_handlers()[0].flush()
    assert SECRET not in path.read_text(encoding="utf-8")


def test_an_unwritable_log_folder_is_not_fatal(paths: Paths, capsys) -> None:
    paths.logs.parent.mkdir(parents=True, exist_ok=True)
    paths.logs.write_text("a file where the folder should be")
    assert logs.setup(paths, Settings(paths)) is None
    assert our_handlers() == []
    assert "cannot write the log" in capsys.readouterr().err


# --- the hooks -----------------------------------------------------------------------------------


class Recorder:
    """Stands in for the hook that was installed before ours."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


@pytest.fixture
def previous_hooks() -> Iterator[tuple[Recorder, Recorder]]:
    """Replace pytest's own hooks for the test (so the bug we cause on purpose is ours)."""
    saved = sys.excepthook, threading.excepthook
    sys.excepthook, threading.excepthook = Recorder(), Recorder()
    try:
        yield sys.excepthook, threading.excepthook  # type: ignore[misc]
    finally:
        sys.excepthook, threading.excepthook = saved


def test_sys_hook_logs_the_crash_writes_last_crash_and_chains(
    paths: Paths, log_to_file, previous_hooks
) -> None:
    before_sys, _ = previous_hooks
    path = log_to_file()
    reports: list[Any] = []
    hooks = logs.install_hooks(paths, on_crash=reports.append)
    assert sys.excepthook == hooks.sys_hook
    exc = caught()
    sys.excepthook(type(exc), exc, exc.__traceback__)

    assert before_sys.calls == [(KeyError, exc, exc.__traceback__)]  # chained, untouched
    crash = logs.last_crash(paths)
    assert crash is not None and reports == [crash]
    assert crash["type"] == "KeyError" and crash["thread"] == "MainThread"
    assert crash["where"].startswith("tests/unit/test_logs.py:") and "in caught" in crash["where"]
    assert crash["frames"][-1]["function"] == "caught"
    raw = (paths.logs / "last-crash.json").read_text(encoding="utf-8")
    our_handlers()[0].flush()
    for text in (raw, path.read_text(encoding="utf-8"), logs.format_details(crash)):
        assert SECRET not in text and "Quokkaby" not in text
    assert "Unhandled KeyError in thread MainThread" in path.read_text(encoding="utf-8")
    hooks.uninstall()
    assert sys.excepthook is before_sys


def test_thread_hook_records_a_bug_in_a_real_thread(
    paths: Paths, log_to_file, previous_hooks
) -> None:
    _, before_thread = previous_hooks
    log_to_file()
    hooks = logs.install_hooks(paths)
    worker = threading.Thread(target=raise_with_secret, name="search-worker")
    worker.start()
    worker.join()
    crash = logs.last_crash(paths)
    assert crash is not None
    assert (crash["type"], crash["thread"]) == ("ValueError", "search-worker")
    assert "in raise_with_secret" in crash["where"]
    assert len(before_thread.calls) == 1 and before_thread.calls[0][0].exc_type is ValueError
    hooks.uninstall()


def test_install_hooks_is_idempotent(paths: Paths, previous_hooks) -> None:
    first = logs.install_hooks(paths)
    reports: list[Any] = []
    second = logs.install_hooks(paths, on_crash=reports.append)
    assert second is first and first.on_crash == reports.append
    assert first.previous_sys is previous_hooks[0]  # not chained to itself
    first.uninstall()


def test_keyboard_interrupt_is_not_a_crash(paths: Paths, previous_hooks) -> None:
    hooks = logs.install_hooks(paths)
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert logs.last_crash(paths) is None
    assert len(previous_hooks[0].calls) == 1
    hooks.uninstall()


def test_a_broken_crash_record_is_reported(paths: Paths) -> None:
    assert logs.last_crash(paths) is None
    paths.logs.mkdir(parents=True)
    (paths.logs / "last-crash.json").write_text('{"time": 1}')
    with pytest.raises(ValueError, match="not a crash record"):
        logs.last_crash(paths)
