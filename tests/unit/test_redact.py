"""PII redaction (issue 17): what is masked, what survives, and feedback that never keeps raw
text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.core import feedback
from desktop.core.assist import Answer
from desktop.core.errors import SettingError, UserError
from desktop.core.paths import Paths
from desktop.core.redact import TYPES, Redaction, RedactOptions, Span, find, redact
from desktop.core.settings import Settings

MASKED = [
    ("Card 4111 1111 1111 1111 declined", "4111 1111 1111 1111", "CARD"),
    ("card no 5500-0000-0000-0004 exp 09/27", "5500-0000-0000-0004", "CARD"),
    ("Amex 3782 822463 10005.", "3782 822463 10005", "CARD"),
    ("pay to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", "IBAN"),
    ("iban de89370400440532013000 ok", "de89370400440532013000", "IBAN"),
    ("mail jane.doe+x@mail.example.co.uk.", "jane.doe+x@mail.example.co.uk", "EMAIL"),
    ("ring 07911 123456 after 3", "07911 123456", "PHONE"),
    ("US (202) 555-0143 ok", "(202) 555-0143", "PHONE"),
    ("tel +33 1 42 68 53 00", "+33 1 42 68 53 00", "PHONE"),
    ("alt 0044 7911 123789 too", "0044 7911 123789", "PHONE"),
    ("SSN 536-22-1478 given", "536-22-1478", "NATIONAL_ID"),
    ("NI number AB 12 34 56 C", "AB 12 34 56 C", "NATIONAL_ID"),
    ("her NI JG103759A", "JG103759A", "NATIONAL_ID"),
    ("Steuer-ID 36574261809", "36574261809", "NATIONAL_ID"),
    ("NIR 2 95 10 99 126 111 93", "2 95 10 99 126 111 93", "NATIONAL_ID"),
    ("DNI 54362315K", "54362315K", "NATIONAL_ID"),
    ("CF RCCMNL83S18D969H", "RCCMNL83S18D969H", "NATIONAL_ID"),
    ("BSN 111222333 opgegeven", "111222333", "NATIONAL_ID"),
    ("London SW1A 2AA today", "SW1A 2AA", "POSTCODE"),
    ("Springfield, IL 62704", "62704", "POSTCODE"),
    ("zip 20500-0003", "20500-0003", "POSTCODE"),
    ("DOB 14/03/1985 ok", "14/03/1985", "DOB"),
    ("she was born on 3 March 1979.", "3 March 1979", "DOB"),
    ("birthday: March 3, 1981", "March 3, 1981", "DOB"),
]

SURVIVE = [
    "Order number 4417223199 is delayed.",
    "Order 07700900123 placed via the app.",
    "UPS tracking 1Z999AA10123456784 delivered.",
    "Shipment 1Z 999 AA1 01 2345 6784 out for delivery.",
    "Royal Mail AB123456789GB signed for.",
    "Price £19.99 a month, or $1,249.00 once.",
    "Error code 0x80070005 and E-1043 at 12:30.",
    "Plan Unlimited 5G Max 100GB since 2021.",
    "Meeting on 14/03/2025 at 10:15, outage 2024-11-28 09:42 UTC.",
    "Firmware version 4.12.1033.22, update to v10.2.3.4.",
    "Router IP 192.168.1.254 and DNS 8.8.8.8.",
    "Product code NX-4417 is out of stock.",
    "Invoice 4111 1111 1111 1112 failed validation.",  # fails Luhn
    "Booking ref 2025 5501 4399 confirmed.",
    "Lot 90210 of the recall list.",
    "Serial AB123456C ordered in bulk.",
    "Contract started 01/09/2019 for 24 months.",
]


@pytest.mark.parametrize(("line", "value", "kind"), MASKED)
def test_each_type_is_masked_with_offsets_into_the_original(
    line: str, value: str, kind: str
) -> None:
    result = redact(line)
    start = line.index(value)
    assert result.spans == (Span(start, start + len(value), kind),)
    assert result.text == line.replace(value, f"[{kind}]")
    assert value not in result.text


@pytest.mark.parametrize("line", SURVIVE)
def test_look_alikes_survive(line: str) -> None:
    assert redact(line) == Redaction(line, ())


def test_many_kinds_in_one_line_and_json() -> None:
    line = "Jane (jane.r@example.com, 07912 345678) card 4111-1111-1111-1111, DOB 01/01/1970."
    result = redact(line)
    assert result.text == "Jane ([EMAIL], [PHONE]) card [CARD], DOB [DOB]."
    assert result.counts() == {"EMAIL": 1, "PHONE": 1, "CARD": 1, "DOB": 1}
    data = json.loads(json.dumps(result.to_json()))
    assert [line[s["start"] : s["end"]] for s in data["spans"]] == [
        "jane.r@example.com",
        "07912 345678",
        "4111-1111-1111-1111",
        "01/01/1970",
    ]


def test_phone_regions_come_from_the_settings() -> None:
    only_us = RedactOptions(phone_regions=("US",))
    assert redact("ring 07911 123456", only_us).text == "ring 07911 123456"
    assert redact("ring +44 7911 123456", only_us).text == "ring [PHONE]"
    assert redact("ring (202) 555-0143", only_us).text == "ring [PHONE]"
    settings = Settings.load(Paths.from_env())
    assert RedactOptions.from_settings(settings).phone_regions[:2] == ("GB", "US")
    settings.set("privacy.phone_regions", "gb, ie")
    assert RedactOptions.from_settings(settings).phone_regions == ("GB", "IE")
    settings.set("privacy.phone_regions", "GB,XX,Wales")
    with pytest.raises(UserError, match="XX, WALES") as err:
        RedactOptions.from_settings(settings)
    assert "two-letter country codes" in err.value.fix


def test_masking_that_brings_a_context_word_nearer_is_searched_again() -> None:
    # 41 characters between "born" and the date: too far before masking, near after it.
    line = "born, card 4111 1111 1111 1111 1111 1111, on 01/02/1990"
    assert find(line)[-1].type != "DOB"
    result = redact(line)
    assert result.text.endswith("on [DOB]")
    assert redact(result.text) == Redaction(result.text, ())


def test_past_the_time_budget_phone_candidates_are_masked_not_kept() -> None:
    line = "call 1 2 3 4 5 6 7"  # not a valid number in any default region
    assert redact(line).text == line
    assert redact(line, RedactOptions(time_budget_s=0.0)).text == "call [PHONE]"


SNIPPETS = [value for _, value, _ in MASKED] + [
    "born ",
    "DOB ",
    "NI ",
    "zip ",
    "order ",
    "call ",
    " 1/2/1990",
    "1Z999AA10123456784",
    "v1.2.3",
    "@",
    "+",
    "-",
    "[CARD]",
    " ",
    "\n",
    "." * 450,  # masks far apart: the search after masking looks only near each mask
]
texts = st.lists(
    st.one_of(st.sampled_from(SNIPPETS), st.text(alphabet="0123456789 -+./@aAzZ()[]", max_size=8)),
    max_size=14,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_spans_are_in_bounds_sorted_disjoint_and_redacting_twice_is_once(text: str) -> None:
    result = redact(text)
    at = 0
    for span in result.spans:
        assert at <= span.start < span.end <= len(text)
        assert span.type in TYPES
        at = span.end
    rebuilt, at = [], 0
    for span in result.spans:
        rebuilt += [text[at : span.start], f"[{span.type}]"]
        at = span.end
    assert "".join([*rebuilt, text[at:]]) == result.text
    assert redact(result.text).text == result.text


# --- feedback: the masked question or none, never the raw text ---------------------------------

QUESTION = "Card 4111 1111 1111 1111 charged twice, call me on 07911 123456 or jo@example.com"


def _answer() -> Answer:
    return Answer(status="answered", question=QUESTION, draft="We refund it [1].")


def test_feedback_keeps_the_masked_question_by_default(tmp_path: Path) -> None:
    settings = Settings.load(Paths.from_env())
    entry = feedback.record(tmp_path, _answer(), "down", settings=settings)
    assert entry["question"] == "Card [CARD] charged twice, call me on [PHONE] or [EMAIL]"
    assert entry["question_masked"] == {"CARD": 1, "PHONE": 1, "EMAIL": 1}
    assert entry["question_kept"] == "redacted"
    stored = (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")
    for raw in ("4111", "07911", "jo@example.com"):
        assert raw not in stored
    assert feedback.read_all(tmp_path) == [entry]


def test_a_locked_policy_of_none_keeps_no_question(tmp_path: Path) -> None:
    policy = Path(os.environ["DESKMATE_POLICY_DIR"], "managed", "policy.json")
    policy.write_text(json.dumps({"privacy.feedback_question": "none"}), encoding="utf-8")
    settings = Settings.load(Paths.from_env())
    with pytest.raises(SettingError):
        settings.set("privacy.feedback_question", "redacted")
    entry = feedback.record(tmp_path, _answer(), "up", settings=settings)
    assert "question" not in entry and entry["question_kept"] == "none"
    assert "charged twice" not in (tmp_path / "feedback.jsonl").read_text(encoding="utf-8")


def test_old_feedback_lines_keep_loading(tmp_path: Path) -> None:
    old = {"time": "2026-11-01T10:00:00Z", "rating": "up", "task": "reply", "question_chars": 9}
    (tmp_path / "feedback.jsonl").write_text(json.dumps(old) + "\n", encoding="utf-8")
    entry = feedback.record(tmp_path, _answer(), "down", settings=Settings.load(Paths.from_env()))
    assert feedback.read_all(tmp_path) == [old, entry]


def test_digits_of_other_scripts_are_read_as_digits() -> None:
    line = "card ٤١١١ ١١١١ ١١١١ ١١١١, call ０７９１１ １２３４５６"
    result = redact(line)
    assert result.text == "card [CARD], call [PHONE]"
    assert [line[s.start : s.end] for s in result.spans] == [
        "٤١١١ ١١١١ ١١١١ ١١١١",
        "０７９１１ １２３４５６",
    ]
