"""Personal data found and masked on this PC, before anything Deskmate keeps is written.

:func:`redact` returns a :class:`Redaction`: the masked text (``[CARD]``, ``[EMAIL]``,
``[PHONE]``, ``[IBAN]``, ``[NATIONAL_ID]``, ``[POSTCODE]``, ``[DOB]``) and the spans found, as
offsets into the *original* text, so feedback, an audit trail or a report can keep the masked
text and count what was removed by type.

Every recogniser is a bounded pattern (no nested or unbounded repetition, so the scan is linear
in the input) followed by a check that keeps look-alikes out: Luhn and a card-issuer prefix for
cards (``stdnum.luhn``), the IBAN check digits (``stdnum.iban``), ``phonenumbers`` validity for
the regions in ``privacy.phone_regions``, the checksums of ``stdnum`` for national identifiers,
and words nearby where a format alone proves nothing: a ZIP code needs an address around it, a
date is a date of birth only after "born", "DOB" and the like, and a bare 9- or 11-digit number
is an identifier only after its name ("BSN", "Steuer-ID"). Order numbers, tracking codes,
prices, error codes, versions and ordinary dates are left alone.

Names are not found: that needs a named-entity model, and none ships offline with Deskmate.
Presidio's analyzer was not used because importing it imports spaCy and wants a language model
download; its approach (patterns, validation, context words) is the one followed here.
"""

from __future__ import annotations

import bisect
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn

from desktop.core.errors import UserError

# In order of trust: where two spans overlap, the type of the stricter check is kept.
TYPES = ("EMAIL", "IBAN", "CARD", "NATIONAL_ID", "DOB", "PHONE", "POSTCODE")
DEFAULT_REGIONS = ("GB", "US", "DE", "FR", "IE", "AU", "CA", "IN")
# Past this, phone candidates are masked without the (slow) phonenumbers check: on a huge
# input redaction stays bounded in time and errs towards masking, never towards keeping.
DEFAULT_TIME_BUDGET_S = 5.0
_BEFORE = 40  # characters before a match searched for context words


class _Settings(Protocol):
    def get(self, key: str) -> object: ...


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of the original text hold personal data of *type*."""

    start: int
    end: int
    type: str

    def to_json(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "type": self.type}


@dataclass(frozen=True)
class Redaction:
    """The masked text and what was masked (offsets into the original text)."""

    text: str
    spans: tuple[Span, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "spans": [span.to_json() for span in self.spans]}

    def counts(self) -> dict[str, int]:
        """How many spans of each type were masked (for audit records and reports)."""
        counts: dict[str, int] = {}
        for span in self.spans:
            counts[span.type] = counts.get(span.type, 0) + 1
        return counts


@dataclass(frozen=True)
class RedactOptions:
    """What :func:`redact` looks for; :meth:`from_settings` reads the ``privacy.*`` keys."""

    phone_regions: tuple[str, ...] = DEFAULT_REGIONS
    time_budget_s: float = DEFAULT_TIME_BUDGET_S

    @classmethod
    def from_settings(cls, settings: _Settings) -> RedactOptions:
        return cls(phone_regions=parse_regions(str(settings.get("privacy.phone_regions"))))


def parse_regions(value: str) -> tuple[str, ...]:
    """``"GB, us"`` -> ``("GB", "US")``; a UserError names any code phonenumbers does not know."""
    regions = tuple(part.strip().upper() for part in value.split(",") if part.strip())
    known = phonenumbers.SUPPORTED_REGIONS
    unknown = [region for region in regions if region not in known]
    if unknown:
        raise UserError(
            f"privacy.phone_regions has unknown region codes: {', '.join(unknown)}.",
            "Use two-letter country codes separated by commas, e.g. GB,US,DE.",
        )
    return regions


@dataclass
class _Scan:
    text: str
    options: RedactOptions
    deadline: float = field(default=0.0)

    def before(self, start: int, width: int = _BEFORE) -> str:
        return self.text[max(0, start - width) : start].lower()


# --- recognisers: each yields spans of the text it is given -------------------------------

_CARD = re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){11,18}(?![\w])")
_CARD_PREFIX = re.compile(r"3[0-9]|4|5[0-9]|6[0-9]|2[2-7]")


def _cards(scan: _Scan) -> Iterator[Span]:
    for match in _CARD.finditer(scan.text):
        groups = re.split(r"[ \-]", match.group())
        for stop in range(len(groups), 0, -1):  # the whole match first, then fewer groups
            digits = "".join(groups[:stop])
            if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
                end = match.start() + len(" ".join(groups[:stop]))
                if not _NEGATIVE.search(scan.before(match.start(), 18)):
                    yield Span(match.start(), end, "CARD")
                break


_IBAN = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,30}(?![\w])")


def _ibans(scan: _Scan) -> Iterator[Span]:
    for match in _IBAN.finditer(scan.text):
        tokens = re.split(r"([ \-])", match.group())
        for stop in range(len(tokens), 0, -2):  # drop trailing words until the check passes
            candidate = "".join(tokens[:stop])
            if std_iban.is_valid(candidate.replace("-", "")):
                yield Span(match.start(), match.start() + len(candidate), "IBAN")
                break


_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}"
)


def _emails(scan: _Scan) -> Iterator[Span]:
    for match in _EMAIL.finditer(scan.text):
        found = match.group().rstrip(".-")
        local, _, domain = found.partition("@")
        if local.strip(".") and re.search(r"\.[A-Za-z]{2,63}$", domain):
            yield Span(match.start(), match.start() + len(found), "EMAIL")


# Words just before a number that make it an order, a ticket or a version, not personal data.
_NEGATIVE = re.compile(
    r"\b(?:order|ord|ref|reference|ticket|case|invoice|inv|tracking|track|parcel|shipment|po|"
    r"claim|transaction|id|item|sku|serial|part|booking|account|acct|store|quote|version|ver|"
    r"build|firmware|model|port|kb|lot|shelf|batch|isbn|ean|upc|kit|room|flight|licen[cs]e|"
    r"voucher|promo|error|err|code|usps|fedex|ups|dhl|dpd|evri|royal mail)\b"
    r"[\s.:#\-]*(?:number|no\.?|num|#)?[\s.:#\-]*$"
)
_PHONE_WORDS = re.compile(
    r"\b(?:call|called|phone|mobile|mob|tel|cell|ring|reach|contact|text|sms|whatsapp|"
    r"callback|landline|number|line|fax)\b"
)
_PHONE = re.compile(r"(?<![\w+\-./])(?:\+|\b00)?\(?\d[\d \-.()/]{5,22}\d(?![\w\-])")
_DATE_LIKE = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}|\d{5}-\d{4}\b")  # or a ZIP+4
# A code's last part ("1Z 999 AA1 01 2345 6784"): the word before mixes letters and digits.
_CODE_BEFORE = re.compile(r"(?:[a-z]+\d|\d+[a-z])[a-z\d]* $")
_VERSION_LIKE = re.compile(r"\d+(?:\.\d+){2,}")
_DOTTED_PHONE = re.compile(r"\d{2}(?:\.\d{2}){4}|\d{3}\.\d{3}\.\d{4}")


def _phones(scan: _Scan) -> Iterator[Span]:
    at = 0
    while match := _PHONE.search(scan.text, at):
        end = _phone_end(scan, match)
        if end:
            yield Span(match.start(), end, "PHONE")
            at = end
        else:  # "07911 123456/020 7946 0958": the next number starts after the slash
            slash = match.group().find("/")
            at = match.start() + slash + 1 if slash > 0 else match.end()


def _phone_end(scan: _Scan, match: re.Match[str]) -> int:
    """Where the phone number starting at *match* ends: for each region in turn, the longest
    prefix of the match (ending at a group) that is a valid number there; 0 if none."""
    candidate, start = match.group(), match.start()
    if _NEGATIVE.search(scan.before(start, 24)) or _CODE_BEFORE.search(scan.before(start, 12)):
        return 0
    ends = [len(candidate)] + [
        i + 1
        for i in range(len(candidate) - 2, 0, -1)
        if candidate[i + 1] in " /" and candidate[i] not in " /"
    ]
    prefixes = [
        candidate[:end]
        for end in ends
        if 7 <= sum(c.isdigit() for c in candidate[:end]) <= 15
        and not _not_a_phone(scan, start, candidate[:end])
    ]
    if prefixes and time.monotonic() > scan.deadline:
        return start + len(prefixes[0])
    plus = candidate.startswith(("+", "00"))
    for region in (None,) if plus else scan.options.phone_regions:
        for prefix in prefixes:
            if _valid_phone(prefix, region):
                return start + len(prefix)
    return 0


def _not_a_phone(scan: _Scan, start: int, candidate: str) -> bool:
    if _DATE_LIKE.match(candidate):
        return True
    if _VERSION_LIKE.fullmatch(candidate) and not _DOTTED_PHONE.fullmatch(candidate):
        return True
    bare = candidate.isdigit()  # no +, no spaces: only a phone where the words say so
    return bare and not _PHONE_WORDS.search(scan.before(start))


def _valid_phone(candidate: str, region: str | None) -> bool:
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


_SSN = re.compile(r"(?<![\w\-])\d{3}([ \-])\d{2}\1\d{4}(?![\w\-])")
_NINO = re.compile(
    r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r"( ?)\d{2}\1\d{2}\1\d{2}\1[A-D](?![\w])",
    re.IGNORECASE,
)
_NIR = re.compile(r"(?<![\w])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}(?![\w])")
_DNI = re.compile(r"(?<![\w\-])\d{8}-?[A-Z](?![\w])")
_CF = re.compile(r"(?<![\w])[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?![\w])")
_DIGITS = re.compile(r"(?<![\w\-])\d(?:[ ]?\d){8,10}(?![\w\-])")
# A bare run of digits is an identifier only after its name: the checksums alone pass 1 in 10.
_NAMED_IDS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"\b(?:ssn|social security)\b"), ssn.is_valid),
    (re.compile(r"\b(?:steuer|idnr|identifikationsnummer|tax id)"), idnr.is_valid),
    (re.compile(r"\b(?:bsn|burgerservicenummer|sofi)"), bsn.is_valid),
    (re.compile(r"\bnhs\b"), nhs.is_valid),
)
_NINO_WORDS = re.compile(r"\b(?:ni|nino|national insurance|insurance number)\b")


def _national_ids(scan: _Scan) -> Iterator[Span]:
    for match in _SSN.finditer(scan.text):
        if ssn.is_valid(re.sub(r"\D", "", match.group())):
            yield Span(match.start(), match.end(), "NATIONAL_ID")
    for match in _NINO.finditer(scan.text):
        spaced = bool(match.group(1))
        if spaced or _NINO_WORDS.search(scan.before(match.start())):
            yield Span(match.start(), match.end(), "NATIONAL_ID")
    for pattern, check in ((_NIR, nir.is_valid), (_DNI, dni.is_valid), (_CF, _codice)):
        for match in pattern.finditer(scan.text):
            if check(match.group()):
                yield Span(match.start(), match.end(), "NATIONAL_ID")
    yield from _named_ids(scan)


def _codice(value: str) -> bool:
    return bool(codicefiscale.is_valid(value))


def _named_ids(scan: _Scan) -> Iterator[Span]:
    for match in _DIGITS.finditer(scan.text):
        before = scan.before(match.start())
        digits = match.group().replace(" ", "")
        for words, check in _NAMED_IDS:
            if words.search(before) and check(digits):
                yield Span(match.start(), match.end(), "NATIONAL_ID")
                break


_UK_POSTCODE = re.compile(
    r"(?<![\w\-])(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}(?![\w\-])",
    re.IGNORECASE,
)
_ZIP = re.compile(r"(?<![\w\-.,/])\d{5}(-\d{4})?(?![\w\-]|[.,/]\d)")
_ADDRESS_WORDS = re.compile(
    r"(?:\b(?:zip|zip ?code|postal code|address|street|st|ave|avenue|road|rd|blvd|lane|"
    r"drive|dr|suite|apt|terrace)\b|\b[A-Z]{2},? $)",
    re.IGNORECASE,
)


def _postcodes(scan: _Scan) -> Iterator[Span]:
    for match in _UK_POSTCODE.finditer(scan.text):
        found = match.group()
        if found.isupper() or found.islower() or found.replace(" ", "").isdigit():
            yield Span(match.start(), match.end(), "POSTCODE")
    for match in _ZIP.finditer(scan.text):
        before = scan.text[max(0, match.start() - _BEFORE) : match.start()]
        if match.group(1) or _ADDRESS_WORDS.search(before):
            yield Span(match.start(), match.end(), "POSTCODE")


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = re.compile(
    r"(?<![\w\-/.])(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}\.?,? \d{{4}}|"
    rf"{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}})(?![\w])",
    re.IGNORECASE,
)
_BIRTH_WORDS = re.compile(
    r"(?:\bborn\b|\bdob\b|\bd\.o\.b\b|date of birth|\bbirth ?date|\bbirthday|\bgeboren|\bn[ée]e?\b)"
)


def _births(scan: _Scan) -> Iterator[Span]:
    for match in _DATE.finditer(scan.text):
        if _BIRTH_WORDS.search(scan.before(match.start())):
            yield Span(match.start(), match.end(), "DOB")


# Same order as TYPES.
RECOGNISERS: tuple[Callable[[_Scan], Iterator[Span]], ...] = (
    _emails,
    _ibans,
    _cards,
    _national_ids,
    _births,
    _phones,
    _postcodes,
)
_MAX_PASSES = 4


def find(text: str, options: RedactOptions | None = None, deadline: float = 0.0) -> list[Span]:
    """The personal data in *text*, sorted and non-overlapping (overlaps are merged, keeping
    the type of the most trusted recogniser)."""
    options = options or RedactOptions()
    scan = _Scan(_ascii_digits(text), options, deadline or time.monotonic() + options.time_budget_s)
    return _merged([span for recogniser in RECOGNISERS for span in recogniser(scan)])


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digits(text: str) -> str:
    """*text* with every other script's digit (٤, ４) as its ASCII digit: same length, so the
    offsets still fit the original."""
    return _OTHER_DIGIT.sub(lambda match: str(unicodedata.digit(match.group())), text)


def redact(text: str, options: RedactOptions | None = None) -> Redaction:
    """*text* with its personal data masked; redacting the result again changes nothing.

    Masking can bring a context word nearer to a number ("born ... [CARD] 1/2/1990"), so the
    masked text is searched again around each mask, and anything new is masked in the original
    too.
    """
    options = options or RedactOptions()
    deadline = time.monotonic() + options.time_budget_s
    spans = find(text, options, deadline)
    masked, placed = _mask(text, spans)
    for _ in range(_MAX_PASSES):
        more = _rescan(masked, placed, options, deadline)
        if not more:
            break
        spans = _union(spans, [_to_original(span, placed) for span in more])
        masked, placed = _mask(text, spans)
    return Redaction(masked, tuple(spans))


# What masking changes reaches this far: a context window (40) plus the longest match (~330).
_REACH = 400


def _rescan(masked: str, placed: _Placed, options: RedactOptions, deadline: float) -> list[Span]:
    """What a search of *masked* finds near a mask: elsewhere it is the text already searched."""
    windows: list[list[int]] = []
    for start, end, _, _ in placed:
        low, high = max(0, start - 2 * _REACH), min(len(masked), end + 2 * _REACH)
        if windows and low <= windows[-1][1]:
            windows[-1][1] = high
        else:
            windows.append([low, high])
    found = []
    for low, high in windows:
        for span in find(masked[low:high], options, deadline):
            start, end = span.start + low, span.end + low
            index = bisect.bisect_right(placed, (end + _REACH, _BIG)) - 1
            if index >= 0 and placed[index][1] + _REACH > start:  # near a mask
                found.append(Span(start, end, span.type))
    return found


_BIG = 1 << 62
_Placed = list[tuple[int, int, int, int]]  # (masked start, masked end, original start, end)


def _mask(text: str, spans: Sequence[Span]) -> tuple[str, _Placed]:
    parts: list[str] = []
    placed: _Placed = []
    at = length = 0
    for span in spans:
        parts.append(text[at : span.start])
        length += span.start - at
        token = f"[{span.type}]"
        placed.append((length, length + len(token), span.start, span.end))
        parts.append(token)
        length += len(token)
        at = span.end
    parts.append(text[at:])
    return "".join(parts), placed


def _to_original(span: Span, placed: _Placed) -> Span:
    return Span(_position(span.start, placed, False), _position(span.end, placed, True), span.type)


def _position(at: int, placed: _Placed, is_end: bool) -> int:
    """Where position *at* of the masked text lies in the original (inside a mask: its edge)."""
    index = bisect.bisect_right(placed, (at - 1 if is_end else at, _BIG)) - 1
    if index < 0:
        return at
    _, masked_end, start, end = placed[index]
    if at < masked_end or (is_end and at == masked_end):
        return end if is_end else start
    return end + at - masked_end


def _union(first: Sequence[Span], second: Sequence[Span]) -> list[Span]:
    return _merged([*first, *second])


def _merged(spans: Sequence[Span]) -> list[Span]:
    """*spans* sorted, overlapping ones merged into one of the most trusted type."""
    rank = {kind: index for index, kind in enumerate(TYPES)}
    items = sorted((s.start, s.end, rank[s.type], s.type) for s in spans if s.end > s.start)
    merged: list[tuple[int, int, int, str]] = []
    for start, end, order, kind in items:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), *min(last[2:], (order, kind)))
        else:
            merged.append((start, end, order, kind))
    return [Span(start, end, kind) for start, end, _, kind in merged]
