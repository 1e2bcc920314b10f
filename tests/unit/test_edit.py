"""Editing a draft before copying (issue 17 item 2): the edit distance, what the editor starts
with, policy on flagged sentences, what the audit trail records and the Usage page counts."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from desktop.core import audit, edit, render, report
from desktop.core.assist import Answer
from desktop.core.audit import AuditLog
from desktop.core.audit_events import Recorder
from desktop.core.generation.verify import Sentence
from desktop.core.knowledge.index import Hit
from desktop.core.paths import Paths
from desktop.core.settings import Settings

SUPPORTED = "Refunds reach your card within 5 working days [1]."
FLAGGED = "Call 0999 999 999 to speed it up [2]."
LAST = "You will get an e-mail when it is sent [1]."


def _naive(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def _answer(verdicts: tuple[str, ...] = ("supported", "no_citation", "supported")) -> Answer:
    texts = (SUPPORTED, FLAGGED, LAST)
    hits = [Hit("demo", f"billing/{n}.md", f"Article {n}", "", 0, 10, "text", 0.7) for n in (1, 2)]
    return Answer(
        status="answered",
        question="When will my refund arrive?",
        draft=" ".join(texts),
        mode="extractive",
        sentences=[Sentence(t, [1], v) for t, v in zip(texts, verdicts, strict=True)],
        sources=hits,
    )


def test_levenshtein_matches_the_textbook_definition() -> None:
    rng = random.Random(7)
    pairs = [("", ""), ("", "abc"), ("kitten", "sitting"), ("flaw", "lawn"), ("a" * 70, "b" * 3)]
    for _ in range(300):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 90)))
        pairs.append((a, b))
    for a, b in pairs:
        assert edit.levenshtein(a, b) == _naive(a, b), (a, b)
        assert edit.distance(a, b) == edit.Distance(_naive(a, b), edit.CHARACTERS)


def test_distance_is_bounded_on_10_mb() -> None:
    table = bytes(b"abcdefgh "[i % 9] for i in range(256))
    big = random.Random(3).randbytes(10_000_000).translate(table).decode("ascii")
    edited = big[:5_000_000] + "Thanks for waiting. " + big[5_000_003:]
    started = time.perf_counter()
    found = edit.distance(big, edited)
    # A common beginning and end do not change the distance: the edit's neighbourhood has it.
    local = _naive(big[4_999_990:5_000_013], edited[4_999_990:5_000_030])
    assert found == edit.Distance(local, edit.CHARACTERS) and 17 <= local <= 20
    assert time.perf_counter() - started < 5
    # Rewritten throughout: on words under the bound, else an upper bound in characters.
    words = edit.distance("one two three four", "one 2 three five", max_cells=10)
    assert words == edit.Distance(2, edit.WORDS)
    assert edit.distance("ab cdef", "ghij kl", max_cells=0) == edit.Distance(7, edit.UPPER_BOUND)


def test_the_editor_holds_what_copy_copies_unless_policy_forbids_flagged_sentences() -> None:
    answer = _answer()
    text, left_out = edit.editor_text(answer, with_sources=True, flagged_allowed=True)
    assert (text, left_out) == (render.copy_text(answer, True), 0)
    text, left_out = edit.editor_text(answer, with_sources=False, flagged_allowed=False)
    assert left_out == 1 and "0999" not in text
    assert text == f"{SUPPORTED} {LAST}"
    assert edit.flagged_left(answer, text) == []


def test_policy_refuses_an_edit_that_keeps_a_flagged_sentence() -> None:
    answer = _answer()
    # Pasted back with its case, spacing and citation changed: still the flagged sentence.
    back = f"{SUPPORTED}  call 0999 999 999 to speed it up! {LAST}"
    refused = edit.check(answer, back, flagged_allowed=False)
    assert refused.refused and "still in your edited text" in refused.refused
    assert refused.flagged_left == 1
    assert edit.check(answer, f"{SUPPORTED} Thanks.", flagged_allowed=False) == edit.CopyCheck()
    # A word inside another does not count ("it" in "with").
    assert edit.flagged_left(answer, "Call 0999 999 999 to speed with it up") == []
    # Stopped: refused as it is unedited.
    answer.stopped = True
    assert "does not allow" in edit.check(answer, SUPPORTED, flagged_allowed=False).refused


def test_an_edited_flagged_draft_still_asks_and_says_what_it_had() -> None:
    answer = _answer()
    found = edit.check(answer, f"{SUPPORTED} Thanks.", flagged_allowed=True)
    assert not found.refused
    assert "had 1 of its 3 sentences not verified, 0 of them still in your text" in found.warning
    clean = _answer(("supported",) * 3)
    assert edit.check(clean, "anything", flagged_allowed=True) == edit.CopyCheck()


def test_a_draft_the_sources_sentences_replaced_was_not_cut_short() -> None:
    # The model ran out of time and its draft was replaced: the sources' draft is complete.
    replaced = _answer(("supported",) * 3)
    replaced.limit = "time_budget"
    assert render.copy_warning(replaced) == ""
    assert edit.check(replaced, "Edited.", flagged_allowed=False) == edit.CopyCheck()
    replaced.mode = "model"  # the model's own draft, cut short
    assert "cut short" in render.copy_warning(replaced)
    assert "cut short" in edit.check(replaced, "Edited.", flagged_allowed=True).warning


def _recorder(tmp_path: Path) -> Recorder:
    return Recorder(AuditLog(tmp_path / "audit"), Settings(Paths.from_env()))


def test_the_audit_records_the_edit_distance_but_not_the_text(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    answer = _answer(("supported",) * 3)
    original = render.copy_text(answer)
    recorder.copied(answer, with_sources=False, flagged=False)
    recorder.copied(answer, with_sources=False, flagged=False, text=original)
    recorder.copied(answer, with_sources=False, flagged=False, text=original + " Kind regards, Jo")
    records = [r for _, _, r in audit.read_records(recorder.log.folder)]
    assert [r["edited"] for r in records] == [False, False, True]
    assert "edit_distance" not in records[0]
    assert (records[1]["edit_distance"], records[2]["edit_distance"]) == (0, 17)
    assert records[2]["edit_unit"] == "characters" and records[2]["flagged_left"] == 0
    assert "Kind regards" not in "".join(p.read_text() for p in recorder.log.files())


def test_the_usage_page_counts_edited_copies(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    answer = _answer(("supported",) * 3)
    recorder.answer(answer, "window")
    recorder.copied(answer, with_sources=False, flagged=False)
    recorder.copied(answer, with_sources=False, flagged=False, text="My own words.")
    records = [r for _, _, r in audit.read_records(recorder.log.folder)]
    now = datetime.now(UTC)
    rows = report.daily(records, now - timedelta(days=1), now + timedelta(days=1))
    assert len(rows) == 1
    assert rows[0].counts["drafts_copied"] == 2 and rows[0].counts["copied_edited"] == 1
    assert rows[0].edited_share == 0.5


def test_only_a_wrapup_note_is_redacted_on_its_way_out() -> None:
    from desktop.core.assist import Answer

    class Settings:
        def __init__(self, on: bool) -> None:
            self.values = {"privacy.redact_wrapup_copy": on, "privacy.phone_regions": "GB"}

        def get(self, key: str) -> object:
            return self.values[key]

    text = "Customer paid with 4111 1111 1111 1111; call back on 020 7946 0958 about order 7781."
    note = Answer(status="answered", question="", task="wrapup")
    reply = Answer(status="answered", question="", task="reply")
    masked, count = edit.outgoing(note, text, Settings(True))
    assert count == 2 and "[CARD]" in masked and "[PHONE]" in masked and "7781" in masked
    assert edit.outgoing(reply, text, Settings(True)) == (text, 0)
    assert edit.outgoing(note, text, Settings(False)) == (text, 0)
