"""Helpers for the pack-sync tests: real packs, a real TUF repository, real HTTP on 127.0.0.1 and file://.

One small real pack (three demo articles plus a loyalty article) is built per session with the
real embedding model, in two versions: v2 changes the loyalty article's code word and adds an
article. Each test gets its own repository (fresh keys, v1 published) and its own workstation.
"""

from __future__ import annotations

import http.server
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.core.context import AppContext
from desktop.core.paths import Paths
from desktop.core.settings import Settings
from desktop.core.sync.client import SyncReport, run_sync

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
ARTICLES = (
    "billing/disputing-a-charge.md",
    "delivery-returns/track-your-delivery.md",
    "account-access/reset-your-password.md",
)
V1_WORD = "MARIGOLD"
V2_WORD = "TANGERINE"
LOYALTY_QUESTION = "What is the loyalty reward code word for the anniversary voucher?"
ROAMING_WORD = "ZEPPELIN"


def loyalty_article(word: str) -> str:
    return (
        "---\ntitle: Loyalty anniversary voucher\ncategory: billing\n---\n\n"
        "# Loyalty anniversary voucher\n\n"
        f"Customers with five years of service receive an anniversary voucher. The loyalty "
        f"reward code word for the anniversary voucher is {word}. Agents read the code word "
        "to the customer and add the voucher to the account.\n"
    )


def roaming_article() -> str:
    return (
        "---\ntitle: Airship roaming\ncategory: plans\n---\n\n# Airship roaming\n\n"
        f"Roaming on board airships uses the {ROAMING_WORD} partner network and costs three "
        "pounds a day.\n"
    )


def build_pack_version(tmp: Path, embedder: Any, version: str) -> Path:
    """Pack "northwind": v1 has code word MARIGOLD; v2 has TANGERINE and an extra article."""
    from desktop.core.knowledge.build import build_pack

    word, extra = (V1_WORD, False) if version == "1" else (V2_WORD, True)

    src = tmp / f"src-{version}"
    for article in ARTICLES:
        (src / article).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO / article, src / article)
    (src / "billing" / "loyalty-voucher.md").write_text(loyalty_article(word), encoding="utf-8")
    if extra:
        (src / "plans").mkdir(parents=True, exist_ok=True)
        (src / "plans" / "airship-roaming.md").write_text(roaming_article(), encoding="utf-8")
    dest = tmp / f"pack-v{version}" / "northwind"
    build_pack(src, dest, embedder, pack_id="northwind", title="Northwind", version=version)
    return dest


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        self.server.requests.append(self.path)

    def do_GET(self) -> None:
        hook = self.server.hook
        if hook is not None and hook(self):
            return
        super().do_GET()


class Server(http.server.ThreadingHTTPServer):
    """A static web server for the repository folder, with a hook to misbehave per request."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        self.hook: Callable[[_Handler], bool] | None = None
        handler = lambda *a, **k: _Handler(*a, directory=str(folder), **k)  # noqa: E731
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class Workstation:
    """One agent's PC: its own Deskmate home, a machine policy, the real embedder."""

    home: Path
    policy_file: Path
    embedder: Any
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> Paths:
        return Paths.from_env()

    def settings(self) -> Settings:
        return Settings.load(self.paths)

    def set_policy(self, **values: Any) -> None:
        self.policy.update({f"sync.{k}": v for k, v in values.items()})
        self.policy_file.write_text(json.dumps({"settings": self.policy}), encoding="utf-8")

    def sync(self) -> SyncReport:
        return run_sync(self.paths, self.settings(), self.embedder)

    def context(self) -> AppContext:
        settings = self.settings()
        if not settings.is_locked("knowledge.demo_enabled"):  # a managed policy locks it off
            settings.set("knowledge.demo_enabled", False)  # only synced packs
        return AppContext(self.paths, settings, embedder=self.embedder)

    def answer(self, context: AppContext | None = None, query: str = LOYALTY_QUESTION) -> str:
        """The text of the best passage for *query*, via the real Assistant search."""
        from desktop.core.assist import Assistant

        hits = Assistant(context or self.context()).search(query)
        return hits[0].text if hits else ""

    def served(self) -> dict[str, str]:
        """Pack id -> version of every pack the context would search now."""
        return {p.id: p.version for p in self.context().packs()}
