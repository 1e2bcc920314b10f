"""Trusted knowledge packs: admins sign and publish them, workstations sync, verify and swap.

Signing, metadata and verification are The Update Framework's (python-tuf): a pack repository is
plain files (``metadata/`` with root, targets, snapshot and timestamp roles, ``targets/`` with one
``<id>/<id>-<version>.tar.gz`` archive per published pack), so any static web server, file share
or object store can serve it.

* :mod:`.repo` - the admin side: create a repository and its keys, publish, retire, re-sign,
  rotate keys.
* :mod:`.client` - the workstation side: refresh the metadata from the trusted root, check each
  pack's custom metadata against the local embedding model and schema, download, install.
* :mod:`.install` - safe extraction, the versioned pack store with its ``current`` pointer,
  rollback and uninstall.
* :mod:`.state` - the sync state file and :func:`~.state.sync_status` for the window.
* :mod:`.lock` - one sync at a time per machine.
* :mod:`.credentials` - optional source credentials from the OS keyring.

Workstation settings (machine policy may lock every one of them):

``sync.url``
    The pack source: ``https://...``, ``file:///...`` (a mounted share) or ``http://127.0.0.1``
    (tests). Empty (the default) turns sync off.
``sync.root``
    The trusted ``root.json`` the updater is bootstrapped from. Empty (the default) means
    ``root.json`` in the machine policy folder (``/etc/deskmate/policies/root.json``), else
    ``resources/sync/root.json`` of the installation. Under a machine policy only a mandatory
    value counts, and neither ``DESKMATE_RESOURCES`` nor a development policy folder is used.
    Without one, sync refuses to run: the first root is never fetched (no trust on first use).
``sync.interval_minutes``
    How often a background sync is due (default 240; 0 = only on demand).
``sync.warn_after_days``
    Days without a successful refresh after which :func:`~.state.sync_status` carries a warning
    (default 7).
``sync.max_pack_mb``
    Largest accepted pack archive and largest unpacked pack, in MB (default 500).
``sync.timeout_s``
    Connection and between-bytes timeout of every download, in seconds (default 30).
``sync.deadline_s``
    Longest time one whole sync may take, all downloads together, in seconds (default 900); a
    slower source is stopped and the packs in service stay unchanged.

On a workstation, a synced pack lives in ``<data>/packs/<id>/versions/<version>-<sha>/`` and
``<data>/packs/<id>/current`` (a small JSON pointer file, replaced atomically) names the version
in service and the previous one, kept for ``deskmate pack rollback ID``.
"""

from __future__ import annotations

import re

from desktop.core.errors import SyncError

NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # "$" would allow a final "\n"
RESERVED_IDS = frozenset({"demo"})
POINTER = "current"
REINSTALL = "reinstall"  # beside the pointer: extract the current version again
VERSIONS = "versions"


def check_name(kind: str, value: str) -> str:
    """*value* if it is a safe pack id or version (letters, digits, ``._-``), else SyncError."""
    if not NAME_RE.match(value) or value in {".", ".."}:
        raise SyncError(
            f"{value!r} is not a usable pack {kind}.",
            f"Use 1 to 64 letters, digits, dots, dashes or underscores for the {kind}.",
        )
    return value


__all__ = ["NAME_RE", "POINTER", "REINSTALL", "RESERVED_IDS", "VERSIONS", "SyncError", "check_name"]
