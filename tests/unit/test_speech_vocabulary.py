"""The packs' words for Whisper (desktop/core/speech/vocabulary.py): which words, capped, once per
set of packs, read on the listening thread; and the real Whisper tiny.en hearing product names
it mis-hears without them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import speechkit

from desktop.core.speech import vocabulary
from desktop.core.speech.audio import StreamSource
from desktop.core.speech.live import Listener
from desktop.core.speech.vocabulary import hotwords, terms_line


class FakePack:
    """What the vocabulary reads of a Pack: its id, version, path and document list."""

    def __init__(self, pack_id: str, documents: dict[str, tuple[str, list[str]]]) -> None:
        self.id, self.version, self.path = pack_id, "1", Path(f"/packs/{pack_id}")
        self.documents = documents
        self.reads = 0

    def documents_meta(self) -> list[tuple[str, dict[str, Any]]]:
        self.reads += 1
        return [(source, {"title": title}) for source, (title, _) in self.documents.items()]

    def document_headings(self, source: str) -> list[tuple[int, str, int]]:
        return [(2, text, 0) for text in self.documents[source][1]]


DOCUMENTS = {
    "a.md": ("Create a Cloud Block Storage volume", ["Prerequisites", "Attach it to a server"]),
    "b.md": ("Cloud Block Storage FAQ", ["How many volumes can I attach?"]),
    "c.md": ("RackConnect overview", ["Next steps", "Cloud networks"]),
}


def test_the_words_heading_most_documents_come_first_without_generic_ones() -> None:
    documents = [(title, heads) for title, heads in DOCUMENTS.values()]
    line = terms_line(documents)
    terms = line.split(", ")
    assert terms[:3] == ["Cloud", "Block", "Storage"]  # three titles, two titles, ...
    assert "RackConnect" in terms and "volumes" in terms
    for generic in ("Create", "Prerequisites", "Next", "steps", "FAQ", "overview", "How"):
        assert generic not in terms
    capped = terms_line(documents, max_chars=20)
    assert len(capped) <= 20 and capped.startswith("Cloud, Block")


def test_computed_once_per_set_of_packs() -> None:
    vocabulary._cache.clear()
    pack = FakePack("rack", DOCUMENTS)
    first = hotwords([pack])
    assert "RackConnect" in first and hotwords([pack]) == first
    assert pack.reads == 1  # the same packs: not read again
    other = FakePack("demo", {"r.md": ("Roaming abroad", ["Roaming charges"])})
    both = hotwords([pack, other])
    assert "Roaming" in both and other.reads == 1
    assert hotwords([]) == ""


class StubSpeech:
    """A transcriber that records what it was told to expect and on which thread."""

    def __init__(self) -> None:
        self.hotwords = ""
        self.at_load = ("", "")

    def model(self) -> None:
        self.at_load = (self.hotwords, threading.current_thread().name)

    def text(self, samples: Any) -> str:
        return ""


class NoBytes:
    def read(self, size: int) -> bytes:
        return b""


def test_the_listener_reads_the_words_on_its_thread_before_the_model_loads() -> None:
    speech = StubSpeech()
    ended = threading.Event()
    called: list[str] = []

    def words() -> str:
        called.append(threading.current_thread().name)
        return "Rackspace, RackConnect"

    listener = Listener(
        StreamSource(NoBytes(), channels=2),
        speech,
        lambda _: None,
        lambda _: ended.set(),
        low_priority=False,
        vocabulary=words,
    ).start()
    assert ended.wait(30)
    listener.thread.join(5)
    assert called == ["deskmate-listen"]
    assert speech.at_load == ("Rackspace, RackConnect", "deskmate-listen")


@pytest.mark.slow
@pytest.mark.skipif(not speechkit.have_tools(), reason="needs espeak-ng and sox")
def test_whisper_hears_product_names_it_misses_without_them() -> None:
    from desktop.core.speech.whisper import Speech

    said = "Can I use RackConnect with my Rackspace cloud server?"
    samples = speechkit.say(said, "en-us", 150, speechkit.RATE).astype(np.float32) / 32768.0
    speech = Speech.default()
    plain = speech.text(samples)
    speech.hotwords = "Rackspace, RackConnect, Cloud"
    heard = speech.text(samples)
    assert "RackConnect" in heard and "Rackspace" in heard
    assert "RackConnect" not in plain  # tiny.en alone writes "rack connect"
