"""IT's command: ``deskmate redact [TEXT | -] [--json]``, the personal data Deskmate masks in a
sample, so IT can test their own lines against the redaction every stored record goes through.
It reads ``privacy.phone_regions`` from the settings and machine policy in force."""

from __future__ import annotations

import sys

import click

from desktop.cli.common import clean_text, emit_json, json_option, read_stdin, user_errors


@click.command()
@click.argument("text", required=False)
@json_option
@user_errors
def redact(text: str | None, as_json: bool) -> None:
    """Print TEXT with its personal data masked ([CARD], [EMAIL], [PHONE], ...).

    TEXT may be "-" (or left out) to read standard input. With --json: {"text": ..., "spans":
    [{"start", "end", "type"}]}, offsets in characters of the original text.
    """
    from desktop.core import redact as redaction
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    if text is None and sys.stdin.isatty():
        raise click.UsageError('Give the TEXT to redact, or "-" to read standard input.')
    source = read_stdin() if text in (None, "-") else clean_text(str(text))
    settings = Settings.load(Paths.from_env())
    for problem in settings.problems:
        click.echo(f"deskmate: warning: {problem}", err=True)
    result = redaction.redact(source, redaction.RedactOptions.from_settings(settings))
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(result.text, nl=not result.text.endswith("\n"))
