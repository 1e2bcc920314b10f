"""Whether a knowledge pack can be served by this Deskmate: one check, used everywhere.

Opening an installed pack (:class:`~desktop.core.knowledge.index.Pack`), deciding whether sync
should download a published version (:meth:`~desktop.core.sync.install.PackInfo.mismatch`) and
the build's "nothing changed" shortcut all ask the same question: was the pack built in a format
this version reads, with the embedding model (and the very weights) it queries with? Vectors
from another model live in another space, so such a pack would return confident nonsense.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop.core.knowledge.embedder import Embedder

SCHEMA_VERSION = 3  # the pack format this Deskmate writes and reads

NEWER_FORMAT_FIX = "Ask your knowledge admin for a pack built for this version, or update Deskmate."
OTHER_MODEL_FIX = "Rebuild the pack with this Deskmate's embedding model."


@dataclass(frozen=True)
class Incompatible:
    """Why a pack cannot be served (a phrase that follows "the pack ..."), and what to do."""

    reason: str
    fix: str


def incompatibility(manifest: Mapping[str, Any], embedder: Embedder) -> Incompatible | None:
    """None when a pack with *manifest* can be searched with *embedder*, else why not.

    *manifest* is the pack's ``manifest.json`` (or the same fields as published for sync):
    ``schema_version`` and ``embedding.model`` / ``embedding.weights_sha256``. A pack that names
    no weights hash (built before hashes were recorded) is judged by the model id alone.
    """
    schema = manifest.get("schema_version")
    if schema != SCHEMA_VERSION:
        return Incompatible(
            f"uses pack format version {schema}, this Deskmate reads version {SCHEMA_VERSION}",
            NEWER_FORMAT_FIX,
        )
    embedding = manifest.get("embedding")
    embedding = embedding if isinstance(embedding, Mapping) else {}
    model = embedding.get("model")
    if model != embedder.model_id:
        return Incompatible(
            f"was built with the embedding model {model!r}, this Deskmate uses "
            f"{embedder.model_id!r}",
            OTHER_MODEL_FIX,
        )
    weights = embedding.get("weights_sha256")
    local = embedder.weights_hash() if weights else ""
    if weights and weights != local:
        return Incompatible(
            f"was built with different weights of the embedding model {model!r} "
            f"(weights {str(weights)[:12]}…, local {local[:12]}…)",
            OTHER_MODEL_FIX,
        )
    return None
