"""IT's command: ``deskmate policy [--json]``, every machine policy in force (like
``chrome://policy``): value, level, source and status, each refused source, and the packs policy
leaves out. Every run reads the policy afresh, so running it again is the reload."""

from __future__ import annotations

import json

import click

from desktop.cli.common import emit_json, json_option


@click.command()
@json_option
def policy(as_json: bool) -> None:
    """Show every machine policy in force: value, level, source and status."""
    from desktop.core import managed
    from desktop.core.context import AppContext

    report = managed.report(AppContext.from_env())
    if as_json:
        emit_json(report)
        return
    state = "machine policy" if report["machine_policy"] else "development folder"
    click.echo(f"Policy folder: {report['policy_dir']} ({state})")
    for source in report["sources"]:  # type: ignore[attr-defined]
        reason = f": {source['reason']}" if source["reason"] else ""
        click.echo(f"  [{source['status']}] {source['level']} {source['name']}{reason}")
    if not report["policies"]:
        click.echo("No policy is set.")
    for row in report["policies"]:  # type: ignore[attr-defined]
        note = f"  ({row['message']})" if row["message"] else ""
        click.echo(
            f"{row['key']} = {json.dumps(row['value'])}  [{row['level']}, {row['status']}] "
            f"{row['source']}{note}"
        )
    for problem in report["problems"]:  # type: ignore[attr-defined]
        click.echo(f"problem: {problem}")
    for pack in report["skipped_packs"]:  # type: ignore[attr-defined]
        click.echo(f"pack skipped: {pack['pack']}: {pack['message']}")
