"""The workstation side: refresh signed metadata, check, download and install packs.

python-tuf's ``Updater`` does every metadata and target verification (signatures and thresholds,
versions against rollback, expiry against freeze, lengths and hashes against endless data and
tampering, the root chain for key rotation). It is bootstrapped from the trusted ``root.json``
IT placed on the machine, never from the network. This module adds what Deskmate needs on top:
sources (``https://``, ``file://``, ``http://`` to this machine only, read strictly by
:mod:`.source`), credentials from the keyring, timeouts, a deadline for the whole sync and size
limits, the local embedding-model check *before* any download, and the install and retire steps.
Any failure leaves the packs in service as they were, and releases the sync lock.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from desktop.core.errors import SyncError
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.core.sync import check_name
from desktop.core.sync.credentials import auth_headers
from desktop.core.sync.install import (
    Check,
    PackInfo,
    foreign_folder,
    install_archive,
    installed_packs,
    read_pointer,
    uninstall,
    version_damage,
    version_dir_name,
)
from desktop.core.sync.lock import sync_lock
from desktop.core.sync.source import Source, parse_source
from desktop.core.sync.state import now_utc, packs_root, record, sync_dir

if TYPE_CHECKING:
    from tuf.api.metadata import TargetFile
    from tuf.ngclient import Updater

    from desktop.core.knowledge.embedder import Embedder

Progress = Callable[[str, int, int], None]
MB = 1024 * 1024
_CHUNK = 1 << 16
# A FIFO, device or socket would block open() or read() forever: never open one (O_NONBLOCK makes
# the open itself return at once if a pipe is swapped in after the stat).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class SyncDeadlineError(SyncError):
    """The whole sync took longer than ``sync.deadline_s`` allows."""


# --- sources -------------------------------------------------------------------------------------


def check_source(url: str) -> str:
    """*url* without a trailing slash if Deskmate may sync from it, else SyncError."""
    return parse_source(url).url


def trusted_root(paths: Paths, settings: Settings) -> tuple[Path, bytes]:
    """The trusted root metadata this machine bootstraps from (no trust on first use).

    Under a machine policy it comes only from places users cannot write: ``sync.root`` if the
    mandatory policy sets it, else ``root.json`` in the machine policy folder (or, as 0.x had
    it, in its parent ``/etc/deskmate``), else the installation's own; never from
    ``DESKMATE_RESOURCES``, a user's ``sync.root`` or a development policy folder."""
    from desktop.core import policy_sources
    from desktop.core.context import installed_resources_dir, resources_dir
    from desktop.core.paths import machine_policy_exists

    managed = paths.machine_policy and machine_policy_exists()
    configured = str(settings.get("sync.root"))
    if managed and not settings.is_locked("sync.root"):
        configured = ""
    resources = installed_resources_dir() if managed else resources_dir()
    folders = [paths.policy_dir, paths.policy_dir.parent] if managed else [paths.policy_dir]
    if managed and not policy_sources.os_policy().reads_policy_folders:
        folders = []  # Windows: users may write in %ProgramData%; sync.root or the install's own
    candidates = (
        [Path(configured).expanduser()]
        if configured
        else [*(f / "root.json" for f in folders), resources / "sync" / "root.json"]
    )
    for candidate in candidates:
        try:
            return candidate, candidate.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SyncError(f"The trusted root {candidate} cannot be read ({exc}).") from exc
    raise SyncError(
        "Pack sync has no trusted root metadata (looked for "
        + ", ".join(str(c) for c in candidates)
        + "). Deskmate never trusts a pack source's first root it downloads.",
        "Ask IT to place the pack repository's root.json there, or to set sync.root.",
    )


class _Fetcher:
    """Downloads for the updater: urllib3 with timeouts and auth headers, or plain files.

    Every download is bounded twice: ``timeout`` seconds of silence at most, and the deadline of
    the whole sync, checked before each request and each read (so a source that drips one byte
    at a time cannot outlive it). HTTP requests go to the source's origin only.
    Subclassing FetcherInterface happens in :func:`_make_fetcher`, so tuf is imported lazily.
    """

    def __init__(
        self, source: Source, timeout: float, headers: dict[str, str], deadline_s: float
    ) -> None:
        self.source = source
        self.timeout = timeout
        self.headers = headers
        self.deadline_s = deadline_s
        self.ends = time.monotonic() + deadline_s
        self.on_bytes: Callable[[int], None] | None = None
        self._pool: Any = None

    def wait(self) -> float:
        """The longest this fetcher may wait now; SyncDeadlineError once the deadline passed."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise SyncDeadlineError(
                f"Pack sync stopped after {self.deadline_s:g} seconds (sync.deadline_s): the "
                f"pack source {self.source.origin if self.source.host else self.source.url} is "
                "too slow or stopped sending. The packs in service are unchanged.",
                "Check the network and the pack source, then sync again. For very large packs "
                "on a slow link, IT can raise sync.deadline_s.",
            )
        return min(self.timeout, left)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()

    def _fetch(self, url: str) -> Iterator[bytes]:
        # A generator, so that tuf's fetch() passes a SyncError on instead of wrapping it.
        self.wait()
        if self.source.scheme == "file":
            yield from self._file_chunks(url)
        else:
            yield from self._http_chunks(url)

    def _file_chunks(self, url: str) -> Iterator[bytes]:
        from tuf.api import exceptions

        path = Path(url2pathname(unquote(urlsplit(url).path)))
        try:
            _check_regular(path, os.stat(path))
            fd = os.open(path, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
        except OSError as exc:
            raise exceptions.DownloadError(f"{path} cannot be read ({exc})") from exc
        handle = os.fdopen(fd, "rb")
        try:
            _check_regular(path, os.fstat(fd))
        except SyncError:
            handle.close()
            raise
        return self._stream(handle.read, handle.close)

    def _http_chunks(self, url: str) -> Iterator[bytes]:
        import urllib3
        from tuf.api import exceptions

        if not self.source.same_origin(url):
            raise exceptions.DownloadError(f"{url} is not on the pack source {self.source.origin}")
        if self._pool is None:
            retries = urllib3.Retry(total=2, redirect=0, raise_on_redirect=False)
            self._pool = urllib3.PoolManager(headers=self.headers, retries=retries)
        wait = self.wait()
        try:
            response = self._pool.request(
                "GET", url, preload_content=False, timeout=urllib3.Timeout(connect=wait, read=wait)
            )
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.TimeoutError):
                self.wait()
                raise exceptions.SlowRetrievalError(f"{url} timed out") from exc
            raise exceptions.DownloadError(f"{url}: {exc.reason}") from exc
        if response.status >= 300:
            response.release_conn()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return self._stream(lambda size: self._read(response, size), response.release_conn)

    def _read(self, response: Any, size: int) -> bytes:
        """At most *size* bytes from one receive, waiting no longer than the deadline allows."""
        sock = getattr(response.connection, "sock", None)
        if sock is not None:
            sock.settimeout(self.wait())
        return bytes(response.read1(size))

    def _stream(self, read: Callable[[int], bytes], close: Callable[[], None]) -> Iterator[bytes]:
        import urllib3
        from tuf.api import exceptions

        try:
            while True:
                self.wait()
                try:
                    block = read(_CHUNK)
                except urllib3.exceptions.TimeoutError as exc:
                    self.wait()
                    raise exceptions.SlowRetrievalError("the download stalled") from exc
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise exceptions.DownloadError(f"the download broke off ({exc})") from exc
                if not block:
                    return
                if self.on_bytes:
                    self.on_bytes(len(block))
                yield block
        finally:
            close()


def _check_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SyncError(
            f"The pack source has {path}, which is not a regular file (a pipe, device or "
            "folder); Deskmate reads only regular files from a file:// source. The packs in "
            "service are unchanged.",
            "Ask IT to replace it with the file the pack repository published.",
        )


def _make_fetcher(
    source: Source, timeout: float, headers: dict[str, str], deadline_s: float
) -> Any:
    from tuf.ngclient import FetcherInterface

    class Fetcher(_Fetcher, FetcherInterface):
        pass

    return Fetcher(source, timeout, headers, deadline_s)


# --- the report ----------------------------------------------------------------------------------


@dataclass
class TargetResult:
    """What sync did with one published pack (or one installed pack that is no longer published)."""

    target: str
    pack: str
    version: str
    status: str  # installed | current | held | refused | retired
    reason: str = ""
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SyncReport:
    """Everything one sync checked, installed, refused and retired, and why."""

    source: str
    root: str
    started: str = ""
    seconds: float = 0.0
    ok: bool = False
    error: str = ""
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: list[TargetResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "trusted_root": self.root,
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "metadata": self.metadata,
            "targets": [t.to_json() for t in self.targets],
            "installed": [t.pack for t in self.targets if t.status == "installed"],
            "refused": [t.pack or t.target for t in self.targets if t.status == "refused"],
            "retired": [t.pack for t in self.targets if t.status == "retired"],
        }


def _explain(exc: Exception) -> str:
    """A tuf error in words: what it means for the packs (and which attack it may be)."""
    from tuf.api import exceptions as tx

    detail = (str(exc) or type(exc).__name__).rstrip(".")
    if isinstance(exc, tx.ExpiredMetadataError):
        return (
            f"the signed metadata has expired (a freeze attack or an un-re-signed source): {detail}"
        )
    if isinstance(exc, tx.BadVersionNumberError):
        return f"the metadata is older than what this machine already trusts (rollback): {detail}"
    if isinstance(exc, tx.UnsignedMetadataError):
        return f"the metadata is not signed by enough trusted keys (tampered or forged): {detail}"
    if isinstance(exc, tx.LengthOrHashMismatchError):
        return f"the download does not match its signed length and hash (tampered): {detail}"
    if isinstance(exc, tx.RepositoryError):
        return f"the metadata failed verification: {detail}"
    if isinstance(exc, tx.DownloadLengthMismatchError):
        return f"the source sent more data than the signed metadata allows: {detail}"
    if isinstance(exc, tx.SlowRetrievalError):
        return f"the download timed out: {detail}"
    if isinstance(exc, tx.DownloadHTTPError) and exc.status_code in (401, 403):
        return (
            f"the pack source refused access (HTTP {exc.status_code}); store its credentials "
            "with `deskmate sync login URL`"
        )
    if isinstance(exc, tx.DownloadError):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        return f"the download failed: {detail}{cause}"
    return detail


def _tuf_errors() -> tuple[type[Exception], ...]:
    from tuf.api import exceptions as tx

    return (tx.RepositoryError, tx.DownloadError)


# --- the sync ------------------------------------------------------------------------------------


def run_sync(
    paths: Paths, settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> SyncReport:
    """Sync every published pack from ``sync.url``; the report says what happened and why.

    Raises SyncError before starting (sync off, no trusted root, another sync running);
    afterwards every failure is in the report, recorded in the sync state, and leaves the
    installed packs as they were.
    """
    url = str(settings.get("sync.url"))
    if not url:
        raise SyncError(
            "Pack sync is off: no pack source is set.", "Set sync.url (usually in machine policy)."
        )
    source = parse_source(url)
    root_path, root_bytes = trusted_root(paths, settings)
    report = SyncReport(source=source.url, root=str(root_path), started=now_utc().isoformat())
    started = time.perf_counter()
    with sync_lock(sync_dir(paths) / "sync.lock"):
        try:
            _sync(paths, settings, embedder, source, root_bytes, report, progress)
            report.ok = not any(t.status == "refused" for t in report.targets)
            if not report.ok:
                report.error = "; ".join(
                    f"{t.pack or t.target}: {t.reason}"
                    for t in report.targets
                    if t.status == "refused"
                )
        except SyncError as exc:
            report.error = str(exc)
        except _tuf_errors() as exc:
            report.error = f"Pack sync failed: {_explain(exc)}. The packs in service are unchanged."
        report.seconds = time.perf_counter() - started
        record(paths, ok=report.ok, error=report.error)
        _audit(paths, settings, report)
    return report


def _audit(paths: Paths, settings: Settings, report: SyncReport) -> None:
    """Packs installed and refused go to the audit trail; a failure to record is reported."""
    from desktop.core.audit import AuditError
    from desktop.core.audit_events import recorder_for

    try:
        recorder_for(paths.data, settings).sync_report(report)
    except AuditError as exc:
        report.error = "; ".join(filter(None, (report.error, str(exc))))


def _sync(
    paths: Paths,
    settings: Settings,
    embedder: Embedder,
    source: Source,
    root_bytes: bytes,
    report: SyncReport,
    progress: Progress | None,
) -> None:
    fetcher = _make_fetcher(
        source,
        float(settings.get("sync.timeout_s")),
        auth_headers(source.url),
        float(settings.get("sync.deadline_s")),
    )
    try:
        _sync_with(paths, settings, embedder, fetcher, root_bytes, report, progress)
    finally:
        fetcher.close()


def _sync_with(
    paths: Paths,
    settings: Settings,
    embedder: Embedder,
    fetcher: Any,
    root_bytes: bytes,
    report: SyncReport,
    progress: Progress | None,
) -> None:
    from tuf.ngclient import Updater, UpdaterConfig

    url = fetcher.source.url
    metadata_dir = sync_dir(paths) / "metadata"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    downloads = sync_dir(paths) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    if progress:
        progress("metadata", 0, 1)
    try:
        updater = Updater(
            str(metadata_dir),
            f"{url}/metadata/",
            str(downloads),
            f"{url}/targets/",
            fetcher,
            UpdaterConfig(app_user_agent="Deskmate"),
            bootstrap=root_bytes,
        )
    except (ValueError, *_tuf_errors()) as exc:  # type: ignore[misc]
        raise SyncError(
            f"The trusted root metadata is not valid TUF root metadata ({exc}).",
            "Ask IT for the pack repository's root.json.",
        ) from exc
    updater.refresh()
    report.metadata = _metadata_versions(metadata_dir)
    if progress:
        progress("metadata", 1, 1)
    published = _published(updater, metadata_dir, report)
    limit = int(settings.get("sync.max_pack_mb")) * MB
    check = _golden_check(paths, settings, embedder)
    for target, info in published:
        report.targets.append(
            _sync_target(paths, updater, fetcher, target, info, embedder, limit, progress, check)
        )
    _retire_unpublished(paths, {info.id for _, info in published}, report)


def _golden_check(paths: Paths, settings: Settings, embedder: Embedder) -> Check:
    """Run a new version's golden questions on this machine (its embedder, settings, policy)."""

    def check(folder: Path) -> str:
        from desktop.core.knowledge.golden import workstation_refusal

        return workstation_refusal(folder, embedder, paths, settings)

    return check


def _retire_unpublished(paths: Paths, names: set[str], report: SyncReport) -> None:
    """Uninstall every synced pack the source no longer publishes (unless it was refused)."""
    refused_ids = {t.pack for t in report.targets if t.status == "refused"}
    for pack in installed_packs(packs_root(paths)):
        if pack.id not in names and pack.id not in refused_ids:
            try:
                uninstall(packs_root(paths), pack.id)
            except OSError as exc:  # e.g. Windows: a file of the pack is open
                reason = f"no longer published, but could not be removed ({exc})"
                report.targets.append(TargetResult("", pack.id, pack.version, "refused", reason))
                continue
            report.targets.append(
                TargetResult("", pack.id, pack.version, "retired", "no longer published")
            )


def _metadata_versions(metadata_dir: Path) -> dict[str, dict[str, Any]]:
    """Version and expiry of each verified top-level role, as the updater stored them."""
    found: dict[str, dict[str, Any]] = {}
    for role in ("root", "timestamp", "snapshot", "targets"):
        try:
            signed = json.loads((metadata_dir / f"{role}.json").read_bytes())["signed"]
            found[role] = {"version": signed["version"], "expires": signed["expires"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _published(
    updater: Updater, metadata_dir: Path, report: SyncReport
) -> list[tuple[TargetFile, PackInfo]]:
    """Every published pack target, looked up through the updater (so verified)."""
    paths = json.loads((metadata_dir / "targets.json").read_bytes())["signed"]["targets"]
    published: list[tuple[TargetFile, PackInfo]] = []
    seen: set[str] = set()
    for path in sorted(paths):
        target = updater.get_targetinfo(path)
        if target is None:
            continue
        try:
            info = PackInfo.from_custom(target.custom)
            if info.id in seen:
                raise SyncError(f"pack {info.id!r} is published twice")
        except SyncError as exc:
            report.targets.append(TargetResult(path, "", "", "refused", exc.message))
            continue
        seen.add(info.id)
        published.append((target, info))
    return published


def _sync_target(
    paths: Paths,
    updater: Updater,
    fetcher: Any,
    target: TargetFile,
    info: PackInfo,
    embedder: Embedder,
    limit: int,
    progress: Progress | None,
    check: Check | None = None,
) -> TargetResult:
    result = TargetResult(target.path, info.id, info.version, "refused", bytes=target.length)
    sha256 = target.hashes.get("sha256", "")
    mismatch = info.mismatch(embedder)
    if mismatch:
        result.reason = f"not downloaded: {mismatch}"
        return result
    if not sha256:
        result.reason = "not downloaded: the target has no sha256 hash"
        return result
    if target.length > limit or info.unpacked_size > limit:
        result.reason = (
            f"not downloaded: {max(target.length, info.unpacked_size):,} bytes is over the "
            f"{limit // MB} MB limit (sync.max_pack_mb)"
        )
        return result
    pack_root = packs_root(paths) / info.id
    pointer = read_pointer(pack_root)
    name = version_dir_name(info.version, sha256)
    current = bool(pointer and pointer.current == name)
    damage = version_damage(pack_root, name, embedder) if current else ""
    if current and not damage:
        result.status, result.reason = "current", "already installed"
        return result
    if pointer and pointer.held == name:
        result.status, result.reason = "held", "rolled back on this machine; waiting for a newer"
        return result
    if foreign_folder(pack_root):
        result.reason = f"a pack folder {pack_root} not installed by sync uses this id"
        return result
    download = sync_dir(paths) / "downloads" / f"{check_name('id', info.id)}.tar.gz"
    done = 0

    def count(size: int) -> None:
        nonlocal done
        done += size
        if progress:
            progress(f"download {info.id} {info.version}", done, target.length)

    fetcher.on_bytes = count
    try:
        updater.download_target(target, str(download))
        fetcher.on_bytes = None
        if progress:
            progress(f"install {info.id} {info.version}", 0, 1)
        install_archive(download, info, sha256, packs_root(paths), embedder, limit, check)
        if progress:
            progress(f"install {info.id} {info.version}", 1, 1)
    except SyncDeadlineError:
        raise  # no time left for this pack or any other: the whole sync stops
    except SyncError as exc:
        result.reason = str(exc)
        return result
    except _tuf_errors() as exc:
        result.reason = _explain(exc)
        return result
    finally:
        fetcher.on_bytes = None
        download.unlink(missing_ok=True)
    result.status, result.reason = "installed", f"reinstalled: {damage}" if damage else ""
    return result
