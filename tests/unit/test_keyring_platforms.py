"""The one keyring rule on every OS (issue 16): Windows Credential Manager and the macOS Keychain
are accepted, a plain-text backend is refused, and the fix names the keyring of the OS.

The backends are stand-ins named like keyring's own classes (their real ``priority`` is only
computed on their own OS), with the priority each reports there."""

from __future__ import annotations

import pytest

from desktop.core.sync import credentials
from desktop.core.sync.credentials import CredentialError, backend_name, usable_backend


def backend(module: str, name: str, priority: float) -> object:
    cls = type(name, (), {"priority": priority, "__module__": module})
    return cls()


WINVAULT = ("keyring.backends.Windows", "WinVaultKeyring", 5)
KEYCHAIN = ("keyring.backends.macOS", "Keyring", 5)
PLAINTEXT = ("keyrings.alt.file", "PlaintextKeyring", 0.5)


@pytest.mark.parametrize("spec", [WINVAULT, KEYCHAIN], ids=["WinVault", "Keychain"])
def test_the_os_keyrings_of_windows_and_macos_are_accepted(spec: tuple[str, str, float]) -> None:
    chosen = backend(*spec)
    assert usable_backend(chosen) is chosen
    assert backend_name(chosen) == f"{spec[0]}.{spec[1]}"


def test_a_plaintext_backend_is_refused_even_beside_winvault() -> None:
    with pytest.raises(CredentialError, match="without protection"):
        usable_backend(backend(*PLAINTEXT))
    chainer = type("ChainerBackend", (), {"__module__": "keyring.backends.chainer"})()
    chainer.backends = [backend(*WINVAULT), backend(*PLAINTEXT)]  # type: ignore[attr-defined]
    with pytest.raises(CredentialError, match="PlaintextKeyring"):
        usable_backend(chainer)


def test_the_fail_backend_means_no_keyring() -> None:
    assert usable_backend(backend("keyring.backends.fail", "Keyring", 0)) is None


@pytest.mark.parametrize(
    ("platform", "named"),
    [
        ("win32", "Windows Credential Manager"),
        ("darwin", "macOS Keychain"),
        ("linux", "Secret Service"),
    ],
)
def test_the_fix_names_the_keyring_of_the_os(platform: str, named: str) -> None:
    assert named in credentials.system_keyring(platform)
