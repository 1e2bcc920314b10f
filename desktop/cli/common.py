"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from desktop.core.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_USER_ERROR = 1


def user_errors(func: F) -> F:
    """Turn a UserError into a one-line message and exit code 1; bugs keep their traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            click.echo(f"deskmate: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)

    return wrapper  # type: ignore[return-value]


def read_stdin() -> str:
    """Standard input as text; bytes that are not UTF-8 become U+FFFD instead of a crash."""
    return clean_text(sys.stdin.buffer.read().decode("utf-8", errors="replace"))


def clean_text(text: str) -> str:
    """*text* (an argument, a line of a file) with undecodable bytes shown as U+FFFD.

    Python keeps bytes of an argument that are not valid UTF-8 as lone surrogates, which crash
    whatever later encodes the text (the embedding model, the terminal, JSON output).
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


# Lines of --queries/--questions FILE (or "-", standard input) that are not UTF-8 are read with
# U+FFFD in place of the bad bytes rather than ending the run with a traceback.
text_file = click.File("r", encoding="utf-8", errors="replace")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
