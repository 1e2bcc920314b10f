"""Workstation commands: ``deskmate sync``, ``sync status|login|logout``, ``pack rollback`` and
``pack repair``."""

from __future__ import annotations

import sys
from typing import Any

import click

from desktop.cli.common import EXIT_USER_ERROR, emit_json, json_option, user_errors


class _Bytes:
    """One updating progress line on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        amount = f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB" if total > 1 else ""
        click.echo(f"\r{stage} {amount}".ljust(70), err=True, nl=done >= total)


def _paths_settings() -> tuple[Any, Any]:
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    paths = Paths.from_env()
    settings = Settings.load(paths)
    for problem in settings.problems:
        click.echo(f"deskmate: warning: {problem}", err=True)
    return paths, settings


@click.group(invoke_without_command=True)
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr (a TTY).")
@click.option("--if-due", is_flag=True, help="Only sync when sync.interval_minutes has passed.")
@json_option
@click.pass_context
@user_errors
def sync(ctx: click.Context, progress: bool, if_due: bool, as_json: bool) -> None:
    """Fetch, verify and install the packs published at the pack source (sync.url)."""
    if ctx.invoked_subcommand is not None:
        return
    from desktop.core.knowledge.embedder import Embedder
    from desktop.core.sync.client import run_sync
    from desktop.core.sync.state import sync_status

    paths, settings = _paths_settings()
    if if_due and not sync_status(paths, settings).due:
        if as_json:
            emit_json({"ok": True, "skipped": "not due"})
        return
    report = run_sync(paths, settings, Embedder(), _Bytes(progress and not as_json))
    if as_json:
        emit_json(report.to_json())
    else:
        for target in report.targets:
            why = f": {target.reason}" if target.reason else ""
            click.echo(f"{target.pack or target.target} {target.version}: {target.status}{why}")
        if report.error:
            click.echo(f"deskmate: {report.error}", err=True)
    if not report.ok:
        sys.exit(EXIT_USER_ERROR)


@sync.command("status")
@json_option
def sync_status_command(as_json: bool) -> None:
    """Last successful sync, last error, installed packs, and any warning."""
    from desktop.core.sync.state import sync_status

    status = sync_status(*_paths_settings())
    if as_json:
        emit_json(status.to_json())
        return
    data = status.to_json()
    click.echo(f"source: {data['source'] or '(sync off)'}")
    click.echo(f"last success: {data['last_success'] or 'never'}")
    if data["last_error"]:
        click.echo(f"last error: {data['last_error']}")
    for pack in status.packs:
        previous = f" (previous {pack.previous})" if pack.previous else ""
        click.echo(f"pack {pack.id}: {pack.version}{previous}")
    if status.warning:
        click.echo(f"WARNING: {status.warning}")


@sync.command("login")
@click.argument("url")
@click.option("--user", default="", help="User name for HTTP basic authentication.")
@click.option("--token", is_flag=True, help="Store a bearer token instead of a password.")
@user_errors
def sync_login(url: str, user: str, token: bool) -> None:
    """Keep credentials for the pack source URL in the system keyring."""
    from desktop.core.sync.credentials import store

    secret = click.prompt("Token" if token else "Password", hide_input=True)
    if token:
        store(url, token=secret)
    else:
        store(url, user=user, password=secret)
    click.echo(f"Stored credentials for {url} in the system keyring.")


@sync.command("logout")
@click.argument("url")
@user_errors
def sync_logout(url: str) -> None:
    """Remove the pack source's credentials from the system keyring."""
    from desktop.core.sync.credentials import forget

    forget(url)
    click.echo(f"Removed the credentials for {url}.")


@click.command("rollback")
@click.argument("pack_id")
@json_option
@user_errors
def pack_rollback(pack_id: str, as_json: bool) -> None:
    """Go back to the previous version of the synced pack PACK_ID on this machine."""
    from desktop.core.sync.state import rollback_pack

    paths, _ = _paths_settings()
    pointer = rollback_pack(paths, pack_id)  # under the sync lock: refused while a sync runs
    if as_json:
        emit_json({"pack": pack_id, **pointer.to_json()})
        return
    click.echo(
        f"{pack_id}: now {pointer.current} (sync will not reinstall {pointer.held}; a newer "
        "version will replace it)."
    )


@click.command("repair")
@click.argument("pack_id")
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr (a TTY).")
@json_option
@user_errors
def pack_repair(pack_id: str, progress: bool, as_json: bool) -> None:
    """Repair the damaged pack PACK_ID: reinstall a synced pack, rebuild the demo pack."""
    from desktop.core.context import AppContext
    from desktop.core.sync.repair import repair_pack

    paths, settings = _paths_settings()
    done = repair_pack(AppContext(paths, settings), pack_id, _Bytes(progress and not as_json))
    if as_json:
        emit_json(done.to_json())
        return
    click.echo(f"{done.pack}: {done.action} ({done.detail}).")
