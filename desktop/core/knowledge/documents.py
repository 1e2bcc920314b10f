"""Turn source files into plain text with structure.

Every format is reduced to the same :class:`Document`: readable plain text (what the source pane
shows and what chunk offsets point into), a title, metadata and the list of headings with their
offsets (and, for PDFs, where each page starts). Formats are Markdown (front matter read as
metadata, Hugo/Jekyll shortcodes removed without losing their text), HTML (boilerplate stripped)
and plain text here; PDF, Word and FAQ spreadsheets in :mod:`desktop.core.knowledge.office`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SUPPORTED_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".xlsx": "xlsx",
}
BINARY_FORMATS = frozenset({"pdf", "docx", "xlsx"})
# Text-like files above this are refused with a reason rather than parsed for minutes and
# indexed as thousands of passages: such files are exports or dumps, not help articles.
MAX_TEXT_BYTES = 20 * 1024 * 1024
MAX_BINARY_BYTES = 100 * 1024 * 1024
SKIPPED_NAMES = {"readme.md", "license.md", "changelog.md"}


@dataclass(frozen=True)
class Heading:
    """A heading line of a document: its level, its text and where it sits in the text."""

    level: int
    text: str
    start: int


@dataclass
class Document:
    """One source document reduced to plain text."""

    source: str
    title: str
    text: str
    format: str
    meta: dict[str, Any] = field(default_factory=dict)
    headings: list[Heading] = field(default_factory=list)
    pages: list[tuple[int, int]] = field(default_factory=list)  # (start offset, page number)

    def page_at(self, offset: int) -> int | None:
        """The page number (PDF) that *offset* falls on, or None for unpaged documents."""
        number = None
        for start, page in self.pages:
            if start > offset:
                break
            number = page
        return number

    def heading_path(self, offset: int) -> str:
        """The section path (e.g. ``Returns > Damaged items``) in force at *offset*."""
        stack: list[Heading] = []
        for heading in self.headings:
            if heading.start > offset:
                break
            stack = [h for h in stack if h.level < heading.level]
            stack.append(heading)
        return " > ".join(h.text for h in stack if h.text != self.title)


class DocumentError(ValueError):
    """A file could not be turned into a document; the message says why."""


def load_document(path: Path, root: Path) -> Document:
    """Read *path* (below *root*) as a :class:`Document`, or raise :class:`DocumentError`."""
    fmt = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DocumentError(f"unsupported file type {path.suffix!r}")
    size = path.stat().st_size
    limit = MAX_BINARY_BYTES if fmt in BINARY_FORMATS else MAX_TEXT_BYTES
    if size > limit:
        raise DocumentError(
            f"the file is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB "
            "limit for this type; split it into smaller documents"
        )
    if size == 0:
        raise DocumentError("the file is empty")
    builder = TextBuilder()
    meta = _read(fmt, path, builder)
    text = builder.text()
    if not text.strip():
        raise DocumentError("no readable text after cleaning")
    if fmt in ("csv", "xlsx"):  # an FAQ sheet's first heading is its first question
        meta.setdefault("title", path.stem.replace("_", " ").replace("-", " "))
    title = str(meta.get("title") or _first_heading(builder.headings) or path.stem)
    source = path.relative_to(root).as_posix()
    return Document(source, title.strip(), text, fmt, meta, builder.headings, builder.pages)


def _read(fmt: str, path: Path, builder: TextBuilder) -> dict[str, Any]:
    """Fill *builder* from *path*; any failure of a parser becomes a reason to skip the file."""
    try:
        if fmt in BINARY_FORMATS:
            return _read_binary(fmt, path, builder)
        return _read_text_format(fmt, _decode(path.read_bytes()), builder)
    except DocumentError:
        raise
    except Exception as exc:  # parsers raise many kinds of error on malformed files
        raise DocumentError(
            f"the file is damaged or could not be read ({type(exc).__name__}: {exc})"
        ) from exc


def _decode(raw: bytes) -> str:
    if not raw.strip():
        raise DocumentError("the file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")  # Windows "Unicode" text files
    if b"\x00" in raw[:8192]:
        raise DocumentError("the file holds binary data, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_text_format(fmt: str, content: str, builder: TextBuilder) -> dict[str, Any]:
    if fmt == "markdown":
        meta, body = split_front_matter(content)
        _markdown_to_text(body, builder)
        return meta
    if fmt == "html":
        return _html_to_text(content, builder)
    if fmt == "csv":
        from desktop.core.knowledge.office import read_csv

        return read_csv(content, builder)
    for line in content.splitlines():
        builder.line(line)
    return {}


def _read_binary(fmt: str, path: Path, builder: TextBuilder) -> dict[str, Any]:
    from desktop.core.knowledge import office

    readers = {"pdf": office.read_pdf, "docx": office.read_docx, "xlsx": office.read_xlsx}
    return readers[fmt](path, builder)


def _first_heading(headings: list[Heading]) -> str | None:
    return headings[0].text if headings else None


class TextBuilder:
    """Accumulates cleaned lines and records headings at their offsets."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._length = 0
        self.headings: list[Heading] = []
        self.pages: list[tuple[int, int]] = []

    def page(self, number: int) -> None:
        """Mark that the text from here on is on page *number*."""
        self.blank()
        self.pages.append((self._length, number))

    def line(self, text: str) -> None:
        text = text.rstrip()
        if not text:
            self.blank()
            return
        self._lines.append(text)
        self._length += len(text) + 1

    def blank(self) -> None:
        if self._lines and self._lines[-1]:
            self._lines.append("")
            self._length += 1

    def heading(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        self.blank()
        self.headings.append(Heading(level, text, self._length))
        self.line(text)
        self.blank()

    def text(self) -> str:
        return "\n".join(self._lines).rstrip() + "\n"


# --- Markdown -------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+\s*\n(.*?)\n\+\+\+\s*\n", re.S)
# Every pattern below runs in time linear in the line: a scan that starts at an opening mark
# stops at the next opening mark of its kind (and quantifiers that could be retried are
# possessive), so a line of thousands of unclosed "[", "{{<" or "*a " cannot make the build hang.
# Shortcode parameters may be quoted with "..." or Hugo's raw `...`, and quoted text may hold "}".
_SHORTCODE = re.compile(
    r"\{\{[<%]\s*+(/?)\s*+([\w.-]++)"
    r'((?:"[^"]*+"|`[^`]*+`|[^{}"`>%]|\{(?!\{[<%])|[>%](?!\}\}))*+)[>%]\}\}'
)
_LIQUID = re.compile(r"\{%-?\s*+(/?)\s*+(\w++)((?:[^%{-]++|-|\{(?!%))*?)-?%\}")
_ATTR_TEXT = re.compile(r'\b(?:title|alt|caption|text|label)\s*+=\s*+(?:"([^"]++)"|`([^`]++)`)')
_IMAGE = re.compile(r"!\[([^\[\]]*+)\]\([^\[)]*+\)")
_LINK = re.compile(r"\[([^\[\]]++)\]\([^\[)]*+\)")
_REF_LINK = re.compile(r"\[([^\[\]]++)\]\[[^\[\]]*+\]")
_BACKTICKS = re.compile(r"`+")
# Emphasis text runs to the next mark of its kind, except marks inside a word (2*3, snake_case).
_EMPHASIS = re.compile(r"(\*\*|\*)(?=\S)((?:[^*]++|(?<=\w)\*(?=\w))+?)(?<=\S)\1")
# "_" emphasis never starts or ends inside a word: snake_case names stay as they are.
_UNDERSCORE_EMPHASIS = re.compile(
    r"(?<!\w)(__|_)(?=\S)((?:[^_]++|(?<=\w)_(?=\w))+?)(?<=\S)\1(?!\w)"
)
_ANCHOR = re.compile(r"(?<!\s)\s*+\{#[\w:.-]++\}")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*+>")
_HEADING = re.compile(r"(#{1,6})\s+(.*)")


def split_front_matter(content: str) -> tuple[dict[str, Any], str]:
    """Split YAML (``---``) or TOML (``+++``) front matter from a Markdown body."""
    match = _FRONT_MATTER.match(content)
    if match:
        import yaml

        try:
            meta = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            meta = None
        return (meta if isinstance(meta, dict) else {}), content[match.end() :]
    match = _TOML_FRONT_MATTER.match(content)
    if match:
        import tomllib

        try:
            return tomllib.loads(match.group(1)), content[match.end() :]
        except tomllib.TOMLDecodeError:
            return {}, content[match.end() :]
    return {}, content


def _shortcode_text(match: re.Match[str]) -> str:
    """Keep the human text a shortcode carries (an accordion's title, an image's alt)."""
    texts = [] if match.group(1) else ["".join(t) for t in _ATTR_TEXT.findall(match.group(3))]
    text = " ".join(_ANCHOR.sub("", t).strip() for t in texts if t.strip())
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    gap_before, gap_after = before.strip() != "", after.strip() != ""
    if not text:
        return " " if gap_before and gap_after else ""
    return (" " if gap_before else "") + text + (" " if gap_after else "")


def clean_inline(line: str) -> str:
    line = _SHORTCODE.sub(_shortcode_text, line)
    line = _LIQUID.sub(_shortcode_text, line)
    code: list[str] = []
    line = _hold_code_spans(line, code)
    line = _IMAGE.sub(lambda m: m.group(1), line)
    line = _LINK.sub(lambda m: m.group(1), line)
    line = _REF_LINK.sub(lambda m: m.group(1), line)
    line = _TAG.sub("", line)
    for _ in range(2):
        line = _EMPHASIS.sub(lambda m: m.group(2), line)
        line = _UNDERSCORE_EMPHASIS.sub(lambda m: m.group(2), line)
    line = html.unescape(line)
    return re.sub("\ue000(\\d+)\ue001", lambda m: code[int(m.group(1))], line)


def _hold_code_spans(line: str, code: list[str]) -> str:
    """Put each code span's text in *code* and leave a placeholder, so no clean-up touches it.

    A span opens with a run of backticks and closes at the next run of the same length (as in
    CommonMark); runs with no partner are literal. Found in one pass over the runs.
    """
    runs = list(_BACKTICKS.finditer(line))
    partner: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = len(runs[index].group())
        partner[index] = last.get(length)
        last[length] = index
    parts, position, index = [], 0, 0
    while index < len(runs):
        close = partner[index]
        if close is None:
            index += 1
            continue
        inner = line[runs[index].end() : runs[close].start()]
        code.append(inner.strip() or inner)
        parts += [line[position : runs[index].start()], f"\ue000{len(code) - 1}\ue001"]
        position, index = runs[close].end(), close + 1
    return "".join(parts) + line[position:]


def _strip_html_comments(body: str) -> str:
    """*body* without ``<!-- ... -->`` comments (an unclosed one is kept as text)."""
    parts, position = [], 0
    while (start := body.find("<!--", position)) >= 0:
        end = body.find("-->", start + 4)
        if end < 0:
            break
        parts.append(body[position:start])
        position = end + 3
    return "".join(parts) + body[position:]


def _heading(line: str) -> tuple[int, str] | None:
    """The level and text of an ATX heading line (``## Text ##``), or None."""
    match = _HEADING.fullmatch(line)
    if not match:
        return None
    return len(match.group(1)), match.group(2).rstrip().rstrip("#").rstrip()


def _markdown_to_text(body: str, out: TextBuilder) -> None:
    body = _strip_html_comments(body)  # editors' notes, never meant for readers
    in_fence = False
    for raw_line in body.splitlines():
        stripped = raw_line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            out.line(raw_line)
            continue
        heading = _heading(stripped)
        if heading:
            out.heading(heading[0], clean_inline(heading[1]))
            continue
        if set(stripped) <= set("-|: ") and "-" in stripped:
            continue  # table separator rows and horizontal rules carry no text
        text = clean_inline(raw_line)
        if stripped.startswith("|"):
            text = " | ".join(c.strip() for c in text.strip().strip("|").split("|"))
        if not text.strip():
            out.blank()
        else:
            out.line(text)


# --- HTML -----------------------------------------------------------------------------------

_SKIP_TAGS = frozenset(
    {
        "head",
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "noscript",
        "template",
        "svg",
        "button",
        "iframe",
    }
)
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "table",
    "tr",
    "br",
    "blockquote",
    "pre",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "hr",
    "body",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HtmlExtractor(HTMLParser):
    """Collects readable text from HTML, dropping navigation, scripts and other boilerplate."""

    def __init__(self, out: TextBuilder) -> None:
        super().__init__(convert_charrefs=True)
        self.out = out
        self.skip = _SKIP_TAGS
        self.meta: dict[str, Any] = {}
        self._skip_depth = 0
        self._buffer: list[str] = []
        self._heading_level = 0
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = dict(attrs)
            name = (values.get("name") or values.get("property") or "").lower()
            if name and values.get("content") is not None:
                self.meta[name] = values["content"]
            return
        if tag == "title":
            self._in_title = True
        if tag in self.skip:
            self._skip_depth += 1
        if self._skip_depth:
            return
        if tag in _HEADINGS:
            self._flush()
            self._heading_level = _HEADINGS[tag]
        elif tag == "li":
            self._flush()
            self._buffer.append("- ")
        elif tag in ("td", "th"):
            self._buffer.append(" | " if self._buffer else "")
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.skip:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag in _HEADINGS and self._heading_level:
            self.out.heading(self._heading_level, "".join(self._buffer))
            self._buffer = []
            self._heading_level = 0
        elif tag in _BLOCK_TAGS or tag in _HEADINGS or tag == "li":  # a stray </h1> ends a line
            self._flush()
            if tag in ("p", "ul", "ol", "table", "pre", "blockquote"):
                self.out.blank()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if not self._skip_depth:
            self._buffer.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if text and text != "-":
            self.out.line(text)

    def close(self) -> None:
        super().close()
        self._flush()
        title = " ".join("".join(self._title).split())
        if title:
            self.meta.setdefault("title", title)


_META_NAMES = re.compile(r'<meta\s+name="(title)"\s+content="([^"]*)"', re.I)


def _main_part(content: str) -> str | None:
    """The first ``<main>`` or ``<article>`` element, found in one pass (no regex backtracking)."""
    best: tuple[int, int] | None = None
    for name in ("main", "article"):
        opener = re.compile(rf"<{name}\b", re.I).search(content)
        closer = re.compile(rf"</{name}>", re.I).search(content, opener.end()) if opener else None
        if opener and closer and (best is None or opener.start() < best[0]):
            best = (opener.start(), closer.end())
    return content[best[0] : best[1]] if best else None


# A "<" whose tag never closes before the next "<": the standard library's HTML parser re-reads
# the rest of the file for each of them, so thousands of them would take hours; made text here.
_UNCLOSED_TAG = re.compile(r"<(?=[^<>]*+(?:<|\Z))")


def _html_to_text(content: str, out: TextBuilder) -> dict[str, Any]:
    content = _UNCLOSED_TAG.sub("&lt;", _strip_html_comments(content))
    head_end = content.lower().find("</head>")
    head = content[: head_end + 7] if head_end >= 0 else ""
    main = _main_part(content)
    parser = _HtmlExtractor(out)
    if main:
        parser.feed(head)
        parser.skip = _SKIP_TAGS - {"header"}  # inside the article, <header> holds its h1
        parser.feed(main)
    else:
        parser.feed(content)
    parser.close()
    meta = dict(parser.meta)
    h1 = next((h.text for h in out.headings if h.level == 1), None)
    if h1 and "title" not in {k.lower() for k, _ in _META_NAMES.findall(head)}:
        meta["title"] = h1  # <title> often carries the site name; the article's h1 does not
    for key in ("tags", "triggers"):  # comma-separated lists in <meta content="a, b">
        if isinstance(meta.get(key), str):
            meta[key] = [t.strip() for t in meta[key].split(",") if t.strip()]
    return meta
