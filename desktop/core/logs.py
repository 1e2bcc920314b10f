"""The bug tier: a rotating log file in ``Paths.logs`` that carries no customer text by default.

Customer text (a query, a pasted conversation, a draft) reaches a log record only as an argument
wrapped in :func:`content`, which is written as ``<N chars>``. Without the setting
``log.customer_text`` (off by default, lockable by machine policy) the file's formatter also
replaces every other text argument with ``<N chars>`` (only numbers, paths and :func:`safe` text
pass), hides the whole message of records from other libraries' loggers, and writes tracebacks
with their frames (file, line, function, source line) but without exception messages, which
often quote the query. Deskmate's own message templates are literals (ruff's ``G`` rules).

:func:`install_hooks` routes uncaught exceptions (``sys.excepthook``, ``threading.excepthook``)
to this log and to ``last-crash.json`` beside it, which ``deskmate doctor`` shows, then calls the
hook that was there before, so a bug under pytest still fails its test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import platform
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Any

from desktop import __version__
from desktop.core.fileio import atomic_write_text, parse_json
from desktop.core.paths import Paths

if TYPE_CHECKING:
    from desktop.core.redact import RedactOptions
from desktop.core.settings import Settings

LOG_NAME = "deskmate.log"
LAST_CRASH = "last-crash.json"
MAX_BYTES = 1_000_000
BACKUPS = 5
SETTING = "log.customer_text"
OWN_LOGGERS = "desktop"  # Deskmate's loggers are named after their modules: desktop.*

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Report = dict[str, Any]
_LEADING_NAME = re.compile(r"([A-Za-z_][\w:~]*(?:\(\))?:)\s*(.*)", re.DOTALL)


class Content:
    """Customer text passed to a log call; written as ``<N chars>`` unless the setting is on."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return f"<{len(self.text)} chars>"

    __repr__ = __str__


class Safe:
    """Text that is known not to be customer text (a pack id, a Qt class name)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def content(text: object) -> Content:
    """Mark *text* as customer text for a log call: ``log.info("asked %s", content(q))``."""
    return Content(str(text))


def safe(text: object) -> Safe:
    """Mark *text* as the app's own words, written to the log as it is."""
    return Safe(str(text))


def split_qt_message(message: str) -> tuple[str, str]:
    """A Qt message's leading ``QClass::method:`` (kept) and the rest (which may hold text)."""
    match = _LEADING_NAME.fullmatch(message)
    return (match.group(1), match.group(2)) if match else ("", message)


# --- the content-free formatter ------------------------------------------------------------------


def _own(record: logging.LogRecord) -> bool:
    return record.name == OWN_LOGGERS or record.name.startswith(OWN_LOGGERS + ".")


def _hidden(text: str) -> str:
    return f"<{len(text)} chars>"


def _scrub(value: object) -> object:
    """One log-call argument as the content-free log may show it."""
    if isinstance(value, (Content, Safe, bool, int, float, PurePath)) or value is None:
        return value
    if isinstance(value, str):
        return _hidden(value)
    return f"<{type(value).__name__}>"


def _redacted(text: str, options: RedactOptions | None) -> str:
    """*text* with its personal data masked: even a debugging log keeps none (issue 17)."""
    from desktop.core.redact import redact  # phonenumbers loads only when customer text is on

    return redact(text, options).text


def _reveal(value: object, options: RedactOptions | None = None) -> object:
    if isinstance(value, Content):
        return _redacted(value.text, options)
    if isinstance(value, str):
        return _redacted(value, options)
    return value


class ContentFreeFormatter(logging.Formatter):
    """Formats a copy of each record with customer text removed (see the module docstring).

    The record itself is never changed: other handlers (pytest's, a console) see it as it was.
    """

    def __init__(self, customer_text: bool = False, options: RedactOptions | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        self.customer_text = customer_text
        self.options = options  # how customer text is redacted when it is written at all

    def format(self, record: logging.LogRecord) -> str:
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args = self._message(record)
        copy.exc_info = None
        copy.exc_text = self._exception(record)
        return super().format(copy)

    def _message(self, record: logging.LogRecord) -> tuple[object, Any]:
        def change(value: object) -> object:
            return _reveal(value, self.options) if self.customer_text else _scrub(value)

        if not self.customer_text:
            if not _own(record):
                with contextlib.suppress(Exception):
                    return "(message of %d chars hidden)", (len(record.getMessage()),)
                return "(message hidden)", ()
            if not isinstance(record.msg, str):
                return f"<{type(record.msg).__name__}>", ()
        args = record.args
        if isinstance(args, Mapping):
            return record.msg, {key: change(value) for key, value in args.items()}
        return record.msg, tuple(change(value) for value in args or ())

    def _exception(self, record: logging.LogRecord) -> str | None:
        info = record.exc_info
        if info and info[1] is not None:
            if self.customer_text:
                return _redacted(self.formatException(info), self.options)
            return content_free_traceback(info[1]).rstrip("\n")
        if self.customer_text and record.exc_text:
            return _redacted(record.exc_text, self.options)
        return None


def _type_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def _message_size(exc: BaseException) -> int:
    try:
        return len(str(exc))
    except Exception:  # a broken __str__ must not break the crash log
        return 0


def _exception_chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """*exc* and the exceptions that led to it, oldest first, each with how it led to the next."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "It was the direct cause of the exception below."
        elif current.__suppress_context__:
            current = None
        else:
            current, link = current.__context__, "While handling it, the exception below happened."
    return chain[::-1]


def content_free_traceback(exc: BaseException) -> str:
    """A traceback of *exc* (and its causes) with frames and types, but no messages or locals."""
    lines: list[str] = []
    for item, link in _exception_chain(exc):
        lines.append("Traceback (most recent call last):\n")
        for frame in traceback.extract_tb(item.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n')
            if frame.line:
                lines.append(f"    {frame.line.strip()}\n")
        size = _message_size(item)
        lines.append(f"{_type_name(type(item))} (message hidden: {size} chars)\n")
        if link:
            lines.append(f"\n{link}\n\n")
    return "".join(lines)


# --- the log file --------------------------------------------------------------------------------


class _LogFile(logging.handlers.RotatingFileHandler):
    """The handler :func:`setup` installs on the root logger (found again by its class)."""


def _worth_keeping(record: logging.LogRecord) -> bool:
    """Deskmate's own records from INFO up; other libraries' only from WARNING up."""
    return _own(record) or record.levelno >= logging.WARNING


def log_file(paths: Paths) -> Path:
    return paths.logs / LOG_NAME


def setup(paths: Paths, settings: Settings) -> Path | None:
    """Log to ``deskmate.log`` in ``paths.logs`` (1 MB x 5 files); the file, or None if it can't.

    Idempotent: a second call for the same folder only applies the customer-text setting.
    """
    reveal = bool(settings.get(SETTING))
    path = log_file(paths)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LogFile):
            if handler.baseFilename == os.path.abspath(path):
                _set_reveal(handler, reveal, _options(settings) if reveal else None)
                return path
            shutdown()
    try:
        paths.logs.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as err:
        print(f"deskmate: warning: cannot write the log {path}: {err}", file=sys.stderr)
        return None
    handler.setFormatter(ContentFreeFormatter(reveal, _options(settings) if reveal else None))
    handler.addFilter(_worth_keeping)
    root.addHandler(handler)
    logging.getLogger(OWN_LOGGERS).setLevel(logging.INFO)
    _log_start(reveal)
    return path


def _options(settings: Settings) -> RedactOptions:
    from desktop.core.redact import RedactOptions  # phonenumbers: only when it is needed

    return RedactOptions.from_settings(settings)


def _set_reveal(handler: logging.Handler, reveal: bool, options: RedactOptions | None) -> None:
    formatter = handler.formatter
    if isinstance(formatter, ContentFreeFormatter):
        formatter.options = options
        if formatter.customer_text != reveal:
            formatter.customer_text = reveal
            _log_start(reveal)


def _log_start(reveal: bool) -> None:
    log.info(
        "Deskmate %s on %s, Python %s; customer text in this log: %s",
        safe(__version__),
        safe(platform.platform()),
        safe(platform.python_version()),
        safe("ON (log.customer_text)" if reveal else "off"),
    )


def shutdown() -> None:
    """Remove and close the handler :func:`setup` installed (tests; a change of folder)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LogFile):
            root.removeHandler(handler)
            handler.close()


# --- crashes -------------------------------------------------------------------------------------

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _short(filename: str) -> str:
    """A frame's file relative to the installation: no user names, same on every PC."""
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(_PACKAGE_ROOT).as_posix()
    parts = path.parts
    if "site-packages" in parts:
        return PurePath(*parts[len(parts) - parts[::-1].index("site-packages") :]).as_posix()
    return filename


def _where(frames: list[dict[str, Any]]) -> str:
    """The innermost frame in Deskmate's own code (else the innermost): "file:line in func"."""
    if not frames:
        return "unknown"
    own = [frame for frame in frames if str(frame["file"]).startswith("desktop/")]
    frame = (own or frames)[-1]
    return f"{frame['file']}:{frame['line']} in {frame['function']}"


def crash_report(exc_type: type[BaseException], tb: TracebackType | None, thread: str) -> Report:
    """What happened, content-free: time, type, where, the frames, the version and platform."""
    frames = [
        {"file": _short(frame.filename), "line": frame.lineno, "function": frame.name}
        for frame in traceback.extract_tb(tb)
    ]
    return {
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "type": _type_name(exc_type),
        "where": _where(frames),
        "thread": thread,
        "version": __version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "frames": frames,
    }


def format_details(report: Report) -> str:
    """A crash report as plain text to paste into a ticket ("Copy details")."""
    lines = [
        f"Deskmate {report['version']} on {report['platform']}, Python {report['python']}",
        f"{report['time']}: unhandled {report['type']} in thread {report['thread']}",
        f"at {report['where']}",
        "Traceback (most recent call last):",
    ]
    lines += [f"  {f['file']}:{f['line']} in {f['function']}" for f in report["frames"]]
    return "\n".join(lines) + "\n"


def record_crash(paths: Paths, info: ExcInfo, thread: str) -> Report:
    """Log an uncaught exception and write it to ``last-crash.json``; returns the report."""
    report = crash_report(info[0], info[2], thread)
    log.critical(
        "Unhandled %s in thread %s at %s",
        safe(report["type"]),
        safe(thread),
        safe(report["where"]),
        exc_info=info,
    )
    try:
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        atomic_write_text(paths.logs / LAST_CRASH, text)
    except OSError:
        log.warning("could not write %s", paths.logs / LAST_CRASH, exc_info=True)
    return report


def last_crash(paths: Paths) -> Report | None:
    """The last recorded crash, None if there is none; ValueError/OSError if it is unreadable."""
    path = paths.logs / LAST_CRASH
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if not isinstance(data, dict) or not {"time", "type", "where"} <= data.keys():
        raise ValueError("it is not a crash record")
    return data


SysHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]
ThreadHook = Callable[[threading.ExceptHookArgs], Any]


@dataclass
class Hooks:
    """Deskmate's ``sys.excepthook`` and ``threading.excepthook``, and the hooks they chain to.

    *on_crash* (the window's dialog) gets each content-free report; it may run on any thread.
    """

    paths: Paths
    previous_sys: SysHook
    previous_thread: ThreadHook
    on_crash: Callable[[Report], None] | None = None

    def sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            self._handle((exc_type, exc, tb), threading.current_thread().name)
        self.previous_sys(exc_type, exc, tb)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
            name = args.thread.name if args.thread is not None else "unknown"
            self._handle((args.exc_type, args.exc_value, args.exc_traceback), name)
        self.previous_thread(args)

    def _handle(self, info: ExcInfo, thread: str) -> None:
        # The hook itself must never raise: that would hide the bug it reports.
        try:
            report = record_crash(self.paths, info, thread)
            if self.on_crash is not None:
                self.on_crash(report)
        except Exception:
            with contextlib.suppress(Exception):
                log.exception("the crash handler failed")

    def uninstall(self) -> None:
        """Put the previous hooks back (if nobody replaced ours meanwhile)."""
        if sys.excepthook == self.sys_hook:
            sys.excepthook = self.previous_sys
        if threading.excepthook == self.thread_hook:
            threading.excepthook = self.previous_thread


def install_hooks(paths: Paths, on_crash: Callable[[Report], None] | None = None) -> Hooks:
    """Route uncaught exceptions to the log; idempotent (a second call updates paths/on_crash)."""
    current = getattr(sys.excepthook, "__self__", None)
    if isinstance(current, Hooks):
        current.paths = paths
        current.on_crash = on_crash or current.on_crash
        return current
    hooks = Hooks(paths, sys.excepthook, threading.excepthook, on_crash)
    sys.excepthook = hooks.sys_hook
    threading.excepthook = hooks.thread_hook
    return hooks
