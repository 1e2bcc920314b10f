"""IT's commands over the audit trail: ``deskmate audit verify|export`` and ``deskmate report``
(usage per day and pack) with ``report merge`` for a fleet."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from desktop.cli.common import EXIT_USER_ERROR, emit_json, json_option, user_errors


def _data_dir() -> Path:
    from desktop.core.paths import Paths

    return Paths.from_env().data


@click.group()
def audit() -> None:
    """Check and export the tamper-evident audit trail kept on this PC."""


@audit.command("verify")
@json_option
@user_errors
def audit_verify(as_json: bool) -> None:
    """Check the hash chain of every audit file; name the first broken record (exit 1).

    The trail is never repaired: a broken record stays as it is, for IT to examine.
    """
    from desktop.core.audit import audit_dir, verify

    folder = audit_dir(_data_dir())
    result = verify(folder)
    if as_json:
        emit_json({"folder": str(folder), **result.to_json()})
    elif result.ok:
        back = (
            f" ({result.clock_back} written after the clock went back)" if result.clock_back else ""
        )
        click.echo(
            f"OK: {result.records} records in {len(result.files)} files chain correctly{back}."
            if result.records
            else f"The audit trail in {folder} is empty."
        )
    else:
        click.echo(f"BROKEN: {result.first_break}", err=True)
        click.echo(
            f"The audit trail in {folder} was changed after it was written. Nothing was "
            "repaired: keep the files as they are and give them to IT.",
            err=True,
        )
    if not result.ok:
        sys.exit(EXIT_USER_ERROR)


@audit.command("export")
@click.option("--since", required=True, help="Start of the period: 7d, 12h, 2w or a date.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE.")
@user_errors
def audit_export(since: str, out: Path | None) -> None:
    """Write the records since SINCE as JSON lines (to standard output, or --out FILE)."""
    from desktop.core.audit import audit_dir, export, parse_since
    from desktop.core.fileio import atomic_write_text

    start = parse_since(since)
    lines = [
        json.dumps(r, ensure_ascii=False) + "\n" for r in export(audit_dir(_data_dir()), start)
    ]
    if out is None:
        click.echo("".join(lines), nl=False)
        return
    atomic_write_text(out, "".join(lines))
    click.echo(f"Wrote {len(lines)} records to {out}.", err=True)


formats = [
    click.option("--json", "fmt", flag_value="json", help="JSON (what report merge reads)."),
    click.option("--csv", "fmt", flag_value="csv", help="CSV, one line per day and pack."),
    click.option("--html", "fmt", flag_value="html", help="An HTML table."),
]


def _format_options(func: Any) -> Any:
    for option in reversed(formats):
        func = option(func)
    return func


def _print(report: Any, fmt: str | None) -> None:
    from desktop.core import report as reports

    if fmt == "json":
        emit_json(report.to_json())
    elif fmt == "csv":
        click.echo(reports.to_csv(report), nl=False)
    elif fmt == "html":
        click.echo(reports.to_html(report), nl=False)
    else:
        click.echo(reports.to_text(report))


@click.group(invoke_without_command=True)
@click.option("--since", default="30d", show_default=True, help="7d, 12h, 2w or a date.")
@_format_options
@click.pass_context
@user_errors
def report(ctx: click.Context, since: str, fmt: str | None) -> None:
    """Usage per day and pack from this PC's audit trail: searches, drafts shown and copied
    (acceptance), routes to a person by topic, questions with no approved source, feedback,
    and the time from a question to its first source opened. No customer text."""
    if ctx.invoked_subcommand is not None:
        return
    from desktop.core import report as reports
    from desktop.core.audit import audit_dir, install_id, parse_since, read_records, utc_now

    data = _data_dir()
    start, now = parse_since(since), utc_now()
    records = (record for _, _, record in read_records(audit_dir(data)))
    _print(reports.build(records, install_id(data), start, now), fmt)


@report.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@_format_options
@user_errors
def report_merge(files: tuple[Path, ...], fmt: str | None) -> None:
    """Combine FILES (each from `deskmate report --json` on one PC) into one fleet report."""
    from desktop.core import report as reports
    from desktop.core.fileio import parse_json

    loaded = []
    for path in files:
        try:
            data = parse_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise reports.ReportError(
                f"Cannot read the report {path}: {exc}.",
                "Give files written by `deskmate report --json`.",
            ) from None
        loaded.append((str(path), reports.from_json(data, str(path))))
    _print(reports.merge(loaded), fmt)


@report.command("gaps")
@click.option("--since", default="30d", show_default=True, help="7d, 12h, 2w or a date.")
@click.option("--json", "fmt", flag_value="json", help="JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV, one line per group.")
@user_errors
def report_gaps(since: str, fmt: str | None) -> None:
    """Knowledge gaps: questions no approved source answered and drafts marked not useful,
    redacted and grouped by meaning, most frequent first, so admins know which article to write
    next. Read from this PC only; nothing leaves it unless you save the output."""
    from desktop.core import feedback, gaps
    from desktop.core.audit import audit_dir, parse_since, read_records, utc_now
    from desktop.core.context import AppContext
    from desktop.core.redact import RedactOptions

    context = AppContext.from_env()
    start, now = parse_since(since), utc_now()
    records = (record for _, _, record in read_records(audit_dir(context.paths.data)))
    entries = feedback.read_all(context.paths.data)
    options = RedactOptions.from_settings(context.settings)
    found = gaps.build(records, entries, start, now, lambda t: context.embedder.embed(t), options)
    if fmt == "json":
        emit_json(found.to_json())
    elif fmt == "csv":
        click.echo(gaps.to_csv(found), nl=False)
        if found.untexted:
            click.echo(f"{found.untexted} gap(s) without a question. {found.hint}", err=True)
    else:
        click.echo(gaps.to_text(found))
