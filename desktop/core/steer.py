"""The agent's choices that steer a draft: the packs it may use and the article it leads with.

The window's pack filter limits the draft's sources to the chosen pack (a draft never mixes in
another company's article), and the result the agent selected, or the article they asked to
"draft from", supplies the draft's first passages. Qt-free, so the CLI and the benchmarks can
steer drafts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.knowledge.index import Hit, Pack


@dataclass(frozen=True)
class Steer:
    """*packs*: the pack ids a draft may use (empty: every pack); *lead*: the passage whose
    article's passages come first (the agent's selected result or chosen article)."""

    packs: tuple[str, ...] = ()
    lead: Hit | None = None

    @classmethod
    def from_choices(cls, pack_filter: str, lead: Hit | None, chosen: bool = False) -> Steer:
        """The steer for the window's *pack_filter* ("" for all packs) and *lead*.

        A *lead* outside the filter is dropped, unless the agent *chose* it explicitly ("Draft
        from this article"): then that article's pack is the one the draft uses.
        """
        packs = (pack_filter,) if pack_filter else ()
        if lead is not None and packs and lead.pack not in packs:
            if not chosen:
                return cls(packs)
            packs = (lead.pack,)
        return cls(packs, lead)

    @property
    def article(self) -> str:
        """The lead article as ``pack/source`` (how drafts key articles), or ""."""
        return f"{self.lead.pack}/{self.lead.source}" if self.lead is not None else ""

    def allowed(self, packs: Sequence[Pack]) -> list[Pack]:
        """The packs a draft may use, of *packs*."""
        return [pack for pack in packs if not self.packs or pack.id in self.packs]

    def leads(self, hit: Hit) -> bool:
        """Whether *hit* is a passage of the lead article."""
        lead = self.lead
        return lead is not None and (hit.pack, hit.source) == (lead.pack, lead.source)

    def ordered(self, hits: Sequence[Hit]) -> list[Hit]:
        """*hits* with the lead article's passages first (the lead passage itself when the
        search did not find that article), then the others in their order; only passages of the
        allowed packs."""
        allowed = [hit for hit in hits if not self.packs or hit.pack in self.packs]
        lead = self.lead
        if lead is None or (self.packs and lead.pack not in self.packs):
            return allowed
        first = [hit for hit in allowed if self.leads(hit)] or [lead]
        return first + [hit for hit in allowed if not self.leads(hit)]
