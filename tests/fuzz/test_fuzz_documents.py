"""Fuzzing Markdown, HTML and text extraction (``load_document``) through the real parsers.

A knowledge admin's folder may hold any file with a known suffix. Whatever its bytes, extraction
returns a :class:`Document` whose headings sit where it says, or raises :class:`DocumentError`
with a reason; it never hangs (every pattern is linear) and its memory stays proportional to the
file (a few copies of the text).
"""

from __future__ import annotations

from pathlib import Path

from fuzzkit import memory_box, mutated, only_documented, repeated
from hypothesis import given
from hypothesis import strategies as st

from desktop.core.knowledge.documents import Document, DocumentError, load_document

MARKDOWN = [
    "---\n",
    "+++\n",
    "title: x\n",
    'title = "x"\n',
    "```",
    "~~~",
    "# ",
    "###### ",
    "#",
    "\n",
    "\r\n",
    "\r",
    "<!--",
    "-->",
    "{{<",
    ">}}",
    "{{%",
    "%}}",
    "{{< /x >}}",
    '{{< a title="t" >}}',
    "{%",
    "%}",
    "{% raw %}",
    "[",
    "]",
    "](",
    ")",
    "![",
    "][",
    "*",
    "**",
    "_",
    "__",
    "`",
    "``",
    "|",
    "| --- |",
    "{#id}",
    "<b>",
    "</b>",
    "<",
    ">",
    "&amp;",
    "&#",
    "&#x110000;",
    "\ue000",
    "\ue0011\ue001",
    "\x00",
    "\ufeff",
    " ",
    "\t",
    "word",
]
HTML = [
    "<html>",
    "<head>",
    "</head>",
    "<title>",
    "</title>",
    "<main>",
    "</main>",
    "<article>",
    "</article>",
    "<body>",
    "<h1>",
    "</h1>",
    "<h2>",
    "<p>",
    "</p>",
    "<li>",
    "<td>",
    "<table>",
    "<script>",
    "</script>",
    "<style>",
    "<nav>",
    "</nav>",
    '<meta name="title" content="',
    '<meta name="tags" content="a, b">',
    "<!--",
    "-->",
    "<!",
    "<?",
    "<![CDATA[",
    "]]>",
    "<",
    ">",
    "</",
    '"',
    "'",
    "=",
    "&",
    "&lt;",
    "&#0;",
    "&#xFFFFFFFF;",
    "<a href='",
    "<div",
    "\n",
    "\x00",
    "text",
]
SUFFIXES = [".md", ".markdown", ".html", ".htm", ".txt", ".csv"]


def pieces(names: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(st.sampled_from(names), st.text(max_size=12)), max_size=60).map(
        "".join
    )


TEXT = st.one_of(
    pieces(MARKDOWN),
    pieces(HTML),
    st.text(),
    repeated(st.sampled_from(MARKDOWN + HTML), 20_000),  # a hostile mark thousands of times
    st.builds(lambda a, b: a + b * 5_000, pieces(MARKDOWN + HTML), pieces(MARKDOWN + HTML)),
    st.builds(lambda n: "# " + "[" * n + "\n", st.integers(0, 100_000)),  # one huge line
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """Text in some encoding, sometimes with invalid UTF-8 or NULs spliced in."""
    raw = draw(TEXT).encode(draw(ENCODINGS), errors="replace")
    if draw(st.booleans()):
        raw = draw(mutated(raw or b"x", max_edits=4))
    return raw


def check(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    result = memory_box(
        lambda: only_documented(lambda: load_document(path, path.parent), DocumentError),
        limit=40 * len(raw) + 5_000_000,
    )
    if isinstance(result, Exception):
        return
    assert isinstance(result, Document)
    assert result.text.strip() and result.text.endswith("\n")
    assert isinstance(result.title, str) and isinstance(result.meta, dict)
    for heading in result.headings:
        assert result.text[heading.start :].startswith(heading.text), heading
        assert heading.start == 0 or result.text[heading.start - 1] == "\n", heading
        assert 1 <= heading.level <= 6


@given(files(), st.sampled_from(SUFFIXES))
def test_text_document_is_extracted_or_refused(tmp_path: Path, raw: bytes, suffix: str) -> None:
    check(tmp_path / f"doc{suffix}", raw)


@given(pieces(MARKDOWN), st.sampled_from(["---", "+++"]))
def test_front_matter_in_any_shape(tmp_path: Path, body: str, fence: str) -> None:
    check(tmp_path / "doc.md", f"{fence}\n{body}\n{fence}\n# Title\ntext\n".encode())


# Failures the fuzzer found, as named regression tests.


def test_regression_html_stray_heading_end_tag(tmp_path: Path) -> None:
    """``</h1>`` with no ``<h1>`` before it made the text before it a heading of level 0."""
    path = tmp_path / "doc.html"
    path.write_text("---\n</h1>Returns take 30 days.<h2>Damaged items</h2>Call us.", "utf-8")
    document = load_document(path, tmp_path)
    assert [(h.level, h.text) for h in document.headings] == [(2, "Damaged items")]
    assert document.text.startswith("---\n")
    check(path, path.read_bytes())
