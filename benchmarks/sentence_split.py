"""Sentence splitting speed: pySBD per call, as verdicts stream.

    .venv/bin/python benchmarks/sentence_split.py

``verify.sentence_spans`` runs on the whole draft after every streamed token. It splits line by
line and caches each line's spans, so while a draft streams only its last line is split anew.
Measured: a cold call on a 2,000-character passage (nothing cached), a cached call, and the
cost per token of re-splitting a 600-character one-paragraph draft as it streams (the worst
case: the line that grows is the whole draft). Results: ``results/sentence_split.{json,md}``.
"""

from __future__ import annotations

import time

from common import write_result

from desktop.core import text

SENTENCE = (
    "Open Settings, e.g. from the gear icon, and choose Security [1]. Dr. Patel's team replies "
    "within 2.5 working days, i.e. by Wednesday. "
)


def per_call(texts: list[str], cold: bool) -> float:
    started = time.perf_counter()
    for piece in texts:
        if cold:
            text._line_spans.cache_clear()
        text.sentence_spans(piece)
    return (time.perf_counter() - started) / len(texts)


def main() -> None:
    passage = (SENTENCE * 20)[:2000]
    text.sentence_spans("Warm up. The segmenter loads once.")
    cold = per_call([passage] * 20, cold=True)
    cached = per_call([passage] * 200, cold=False)
    draft = (SENTENCE * 6)[:600]
    prefixes = [draft[:end] for end in range(4, len(draft) + 1, 4)]  # a token is ~4 characters
    text._line_spans.cache_clear()
    streaming = per_call(prefixes, cold=False)
    result = {
        "cold_2000_chars_ms": round(cold * 1000, 2),
        "cached_2000_chars_ms": round(cached * 1000, 3),
        "streaming_600_char_draft_per_token_ms": round(streaming * 1000, 2),
    }
    lines = [
        "Sentence splitting (pySBD 0.3.4, desktop/core/text.py), per call:",
        "",
        "| case | ms |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in result.items()),
    ]
    write_result("sentence_split", result, "\n".join(lines))


if __name__ == "__main__":
    main()
