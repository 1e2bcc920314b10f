"""The pack source address, read once and strictly, so every part of sync means the same host.

Two URL parsers that disagree about the host let an address pass a check for one machine while
the HTTP client connects to another and sends it that machine's stored credentials: ``urlsplit``
reads ``http://127.0.0.2\\@127.0.0.1`` as 127.0.0.1, urllib3 (which does the connecting) as
127.0.0.2. So an address is refused unless it is plain: no backslash, space or control
character; no user name, password or percent-escape in the host part; no query or fragment; and
``urlsplit`` and ``urllib3.util.parse_url`` agree on its scheme, host and port. The host check,
the keyring entry and the fetcher's "only this origin" check all use that one result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from desktop.core.errors import SyncError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_HTTP = re.compile(r"[\x00-\x20\x7f\\]")
_ALLOWED = (
    "Set sync.url to an https:// address or a file:// folder (plain http only to this machine, "
    "for tests)."
)


@dataclass(frozen=True)
class Source:
    """A pack source this machine may sync from: its URL (no trailing slash) and where it is."""

    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets; "" for file://
    port: int | None

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: what the HTTP client connects to (and the keyring key)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    def same_origin(self, url: str) -> bool:
        """Whether urllib3 would connect to exactly this source's host and port for *url*."""
        from urllib3.exceptions import LocationParseError
        from urllib3.util import parse_url

        try:
            parsed = parse_url(url)
        except LocationParseError:
            return False
        return (parsed.scheme, _bare(parsed.host), parsed.port) == (
            self.scheme,
            self.host,
            self.port,
        )


def _bare(host: str | None) -> str:
    return (host or "").lower().removeprefix("[").removesuffix("]")


def _refuse(url: str, why: str, fix: str = _ALLOWED) -> SyncError:
    return SyncError(f"The pack source {url!r} is not allowed: {why}.", fix)


def parse_source(url: str) -> Source:
    """*url* as a :class:`Source` if Deskmate may sync from it (and keep credentials for it)."""
    if _CONTROL.search(url):
        raise _refuse(url, "it contains a control character (a tab, line break or similar)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(url, f"it is not a valid address ({exc})") from None
    if parts.scheme == "file" and parts.path:
        return Source(url.rstrip("/"), "file", "", None)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _refuse(url, "it is not an https://, file:// or local http:// address")
    _check_authority(url, parts)
    host = _bare(parts.hostname)
    _check_agreement(url, parts.scheme, host, port)
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise _refuse(url, "plain http is only allowed to this machine")
    return Source(url.rstrip("/"), parts.scheme, host, port)


def _check_authority(url: str, parts: SplitResult) -> None:
    """No character in an http(s) address that two parsers may read differently."""
    if _UNSAFE_HTTP.search(url):
        raise _refuse(url, "it contains a backslash or a space")
    if "@" in parts.netloc:
        raise _refuse(
            url,
            "it has a user name or password in it",
            "Remove them from sync.url and store them with `deskmate sync login URL`.",
        )
    if "%" in parts.netloc or not parts.netloc.isascii():
        raise _refuse(
            url,
            "its host name is percent-encoded or not plain ASCII",
            "Write the host as plain letters, digits, dots and dashes (punycode for "
            "international names).",
        )
    if "?" in url or "#" in url:
        raise _refuse(url, "it has a query (?) or fragment (#)", "Use the repository's base URL.")


def _check_agreement(url: str, scheme: str, host: str, port: int | None) -> None:
    """urllib3, which connects, must read the same scheme, host and port as this check."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parsed = parse_url(url)
    except LocationParseError as exc:
        raise _refuse(url, f"it is not a valid address ({exc})") from None
    if (parsed.scheme, _bare(parsed.host), parsed.port) != (scheme, host, port):
        raise _refuse(
            url,
            f"it can be read as host {parsed.host!r} as well as {host!r}",
            "Write the address plainly: scheme://host[:port]/path.",
        )
