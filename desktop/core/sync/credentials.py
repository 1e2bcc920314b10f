"""Credentials for a pack source, kept in the OS keyring (never in settings or plain files).

A source that needs none works without a keyring. A keyring backend that stores secrets in plain
text (keyrings.alt's ``PlaintextKeyring`` and anything keyring itself ranks as unsuitable) is
refused; the ``fail`` backend means "no keyring here", so no credentials are available.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from typing import Any

from desktop.core.errors import SyncError
from desktop.core.sync.source import parse_source

SERVICE = "deskmate pack source"
INSECURE_BACKENDS = frozenset(
    {
        "keyrings.alt.file.PlaintextKeyring",
        "keyrings.alt.file.EncryptedKeyring",
        "keyring.backends.null.Keyring",
    }
)


class CredentialError(SyncError):
    """The keyring cannot be used for pack-source credentials."""


def source_key(url: str) -> str:
    """The keyring user name for *url*: the scheme, host and port the HTTP client connects to.

    An address that parsers may read as two different hosts is refused (SyncError) rather than
    filed under one of them, so stored credentials only ever go to the host they were stored for.
    """
    return parse_source(url).origin


def backend_name(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def system_keyring(platform: str = sys.platform) -> str:
    """What the system keyring is called on *platform*, for messages that name the fix."""
    if platform == "win32":
        return "Windows Credential Manager"
    if platform == "darwin":
        return "macOS Keychain"
    return "a Secret Service keyring (e.g. GNOME Keyring)"


def usable_backend(backend: Any | None = None) -> Any | None:
    """The keyring backend, None when there is none, CredentialError when it is insecure.

    The one acceptability rule for the keyring: sync, ``deskmate sync login`` and ``deskmate
    doctor`` all ask here, so doctor never calls a backend fine that sync would refuse. Secure
    backends rank themselves (keyring's ``priority``) at 1 or more on the OS they belong to:
    Windows Credential Manager (``WinVaultKeyring``), the macOS Keychain, Secret Service, KWallet.
    *backend* is keyring's choice unless a test passes one.
    """
    if backend is None:
        import keyring

        backend = keyring.get_keyring()
    members = list(getattr(backend, "backends", None) or [backend])
    if backend_name(backend).startswith("keyring.backends.chainer") and not members:
        return None
    for member in members:
        name = backend_name(member)
        if name.startswith("keyring.backends.fail"):
            continue
        try:
            priority = float(member.priority)
        except Exception:  # a backend that cannot even rank itself is not usable
            priority = 0.0
        if name in INSECURE_BACKENDS or priority < 1:
            raise CredentialError(
                f"The keyring backend {name} stores secrets without protection; Deskmate "
                "refuses to keep pack-source credentials in it.",
                "Uninstall keyrings.alt (or the plain-text backend) and use the system keyring "
                f"({system_keyring()}).",
            )
    usable = [m for m in members if not backend_name(m).startswith("keyring.backends.fail")]
    return backend if usable else None


def store(url: str, *, user: str = "", password: str = "", token: str = "") -> None:
    """Keep HTTP basic (*user*/*password*) or bearer (*token*) credentials for *url*."""
    key = source_key(url)
    backend = usable_backend()
    if backend is None:
        raise CredentialError(
            "No system keyring is available to keep the pack source's credentials.",
            f"Use {system_keyring()} (installed and unlocked).",
        )
    secret = {"token": token} if token else {"user": user, "password": password}
    backend.set_password(SERVICE, key, json.dumps(secret))


def forget(url: str) -> None:
    backend = usable_backend()
    if backend is not None:
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            backend.delete_password(SERVICE, source_key(url))


def auth_headers(url: str) -> dict[str, str]:
    """The Authorization header for *url* from the keyring, {} when it has none."""
    if parse_source(url).scheme not in {"http", "https"}:
        return {}
    backend = usable_backend()
    if backend is None:
        return {}
    raw = backend.get_password(SERVICE, source_key(url))
    if not raw:
        return {}
    try:
        secret = json.loads(raw)
    except ValueError:
        raise CredentialError(
            f"The keyring entry for {source_key(url)} is not one Deskmate wrote.",
            f"Run `deskmate sync login {source_key(url)}` again.",
        ) from None
    if secret.get("token"):
        return {"Authorization": f"Bearer {secret['token']}"}
    pair = f"{secret.get('user', '')}:{secret.get('password', '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
