"""Commands for knowledge admins who publish signed packs: ``deskmate repo ...`` and
``deskmate pack publish|retire``. The repository is plain files; see docs/knowledge-admin.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from desktop.cli.common import emit_json, json_option, user_errors

repo_option = click.option(
    "--repo",
    "repo_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The pack repository folder (what the web server or file share serves).",
)
keys_option = click.option(
    "--keys",
    "keys_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder with the signing keys (keep it off the web server).",
)


def _open(repo_dir: Path, keys_dir: Path) -> Any:
    from desktop.core.sync.repo import KeyStore, Repository

    repository = Repository(repo_dir, KeyStore(keys_dir))
    repository.root()  # a clear error when there is no repository
    return repository


@click.group()
def repo() -> None:
    """Create and maintain a signed pack repository (for knowledge admins)."""


@repo.command("init")
@repo_option
@keys_option
@click.option("--threshold", default=2, show_default=True, help="Root keys needed to sign root.")
@click.option("--root-keys", default=3, show_default=True, help="Root keys to generate.")
@user_errors
def repo_init(repo_dir: Path, keys_dir: Path, threshold: int, root_keys: int) -> None:
    """Create a repository with new keys (set DESKMATE_KEY_PASSPHRASE to encrypt them)."""
    from desktop.core.sync.repo import Repository

    repository = Repository.create(repo_dir, keys_dir, threshold=threshold, root_keys=root_keys)
    click.echo(f"Created the pack repository {repo_dir} (root: {threshold} of {root_keys} keys).")
    click.echo(f"Keys: {keys_dir} - move the root keys offline and back them up.")
    click.echo(
        f"Give IT {repository.metadata_dir / 'root.json'} to place in the machine policy "
        "folder (/etc/deskmate/policies/root.json)."
    )


@repo.command("resign")
@repo_option
@keys_option
@click.option("--targets/--no-targets", default=True, help="Also re-sign targets (needs its key).")
@user_errors
def repo_resign(repo_dir: Path, keys_dir: Path, targets: bool) -> None:
    """Refresh the short-lived metadata (run daily: timestamp expires after a day)."""
    repository = _open(repo_dir, keys_dir)
    repository.resign(targets=targets)
    status = repository.status()["roles"]
    for role in ("targets", "snapshot", "timestamp"):
        click.echo(f"{role}: version {status[role]['version']}, expires {status[role]['expires']}")


@repo.command("rotate-key")
@click.argument("role", type=click.Choice(["root", "targets", "snapshot", "timestamp"]))
@repo_option
@keys_option
@click.option(
    "--remove",
    "remove",
    multiple=True,
    help="Key id (or its first 8 characters) to replace (repeatable; default: all of ROLE).",
)
@user_errors
def repo_rotate_key(role: str, repo_dir: Path, keys_dir: Path, remove: tuple[str, ...]) -> None:
    """Replace keys of ROLE with new ones; workstations follow at their next sync."""
    repository = _open(repo_dir, keys_dir)
    added = repository.rotate_key(role, remove)
    click.echo(f"New {role} key(s): {', '.join(added)}; the old ones are renamed *.retired.")


@repo.command("status")
@repo_option
@json_option
@user_errors
def repo_status(repo_dir: Path, as_json: bool) -> None:
    """Show each role's version, expiry and keys, and the published packs."""
    from desktop.core.sync.repo import KeyStore, Repository

    status = Repository(repo_dir, KeyStore(repo_dir / ".no-keys")).status()
    if as_json:
        emit_json(status)
        return
    for role, info in status["roles"].items():
        keys = ", ".join(k[:8] for k in info["keyids"])
        click.echo(
            f"{role}: version {info['version']}, expires {info['expires']}, "
            f"{info['threshold']} of [{keys}]"
        )
    for pack in status["packs"]:
        click.echo(f"pack {pack['id']} {pack['version']}: {pack['title']} ({pack['target']})")


@click.command("publish")
@click.argument("pack_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@repo_option
@keys_option
@user_errors
def pack_publish(pack_dir: Path, repo_dir: Path, keys_dir: Path) -> None:
    """Sign and publish the built pack in PACK_DIR (it replaces older versions of its id)."""
    published = _open(repo_dir, keys_dir).publish(pack_dir)
    state = "published" if published.changed else "already published, unchanged"
    click.echo(f"{published.info.id} {published.info.version}: {state} ({published.target})")


@click.command("retire")
@click.argument("pack_id")
@repo_option
@keys_option
@click.option("--document", default=None, help="Retire only this document (its source path).")
@click.option("--version", default=None, help="Version for the pack without the document.")
@user_errors
def pack_retire(
    pack_id: str, repo_dir: Path, keys_dir: Path, document: str | None, version: str | None
) -> None:
    """Stop publishing PACK_ID, or one --document of it; workstations drop it at next sync."""
    repository = _open(repo_dir, keys_dir)
    if document is None:
        repository.retire(pack_id)
        click.echo(f"{pack_id}: retired; workstations uninstall it at their next sync.")
        return
    from desktop.core.sync.retire import retire_document

    published = retire_document(repository, pack_id, document, version)
    click.echo(
        f"{pack_id} {published.info.version}: published without {document}; workstations "
        "install it at their next sync."
    )
