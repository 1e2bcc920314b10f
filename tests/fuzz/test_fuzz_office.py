"""Fuzzing DOCX, XLSX, PDF and CSV extraction with mutated real files, through the real parsers.

The base files are made by python-docx, openpyxl and fpdf2. A mutation either edits the file's
bytes (a damaged download) or edits one part inside the ZIP and packs it again with valid
checksums, so the XML readers themselves see broken, truncated and spliced markup. Extraction
returns a :class:`Document` or raises :class:`DocumentError`; it never hangs and never takes
memory out of proportion to the file.
"""

from __future__ import annotations

import io
import zipfile
from functools import cache
from pathlib import Path

import pytest
from fuzzkit import memory_box, mutated, only_documented, time_box
from hypothesis import given
from hypothesis import strategies as st

from desktop.core.knowledge import office
from desktop.core.knowledge.documents import Document, DocumentError, load_document

XML_SPLICES = [b"<", b">", b"</w:p>", b"<w:p>", b'"', b"&", b"&#0;", b"<!DOCTYPE x [", b"\x00"]


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Returns policy", 0)
    document.add_heading("Damaged items", 1)
    document.add_paragraph("Report damage within 48 hours of delivery.")
    document.add_paragraph("Take photos of the box", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(1, 1).text = "Plan", "£25"
    document.core_properties.title = "Returns"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Question", "Answer"])
    sheet.append(["How long is delivery?", "Three working days."])
    sheet.append(["Can I return an item?", "Yes, within 30 days."])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pdf_bytes(compress: bool) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(compress)
    for text in ("Returns within 30 days.", "Delivery takes three working days."):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 10, text)
    pdf.set_title("Policies")
    return bytes(pdf.output())


@cache
def base(kind: str) -> bytes:
    makers = {
        "docx": docx_bytes,
        "xlsx": xlsx_bytes,
        "pdf": lambda: pdf_bytes(True),
        "raw.pdf": lambda: pdf_bytes(False),
    }
    return makers[kind]()


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Make the base files and import the parsers once, outside the examples' time limits."""
    folder = tmp_path_factory.mktemp("base")
    for kind in ("docx", "xlsx", "pdf", "raw.pdf"):
        path = folder / f"base.{kind}"
        path.write_bytes(base(kind))
        assert load_document(path, folder).text.strip()


def rezipped(original: bytes, member: int, edit: bytes) -> bytes:
    """*original* (a ZIP) with member number *member* replaced by *edit*, checksums valid."""
    source = zipfile.ZipFile(io.BytesIO(original))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for index, info in enumerate(source.infolist()):
            target.writestr(info.filename, edit if index == member else source.read(info))
    return out.getvalue()


@st.composite
def damaged_zip(draw: st.DrawFn, kind: str) -> bytes:
    original = base(kind)
    if draw(st.booleans()):
        return draw(mutated(original))
    names = zipfile.ZipFile(io.BytesIO(original)).namelist()
    member = draw(st.integers(0, len(names) - 1))
    part = zipfile.ZipFile(io.BytesIO(original)).read(names[member])
    edit = draw(st.one_of(mutated(part), st.sampled_from(XML_SPLICES).map(lambda s: part + s)))
    return rezipped(original, member, edit)


def check(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    result = memory_box(
        lambda: only_documented(lambda: load_document(path, path.parent), DocumentError),
        limit=100 * len(raw) + 60_000_000,
    )
    if isinstance(result, Document):
        assert result.text.strip()
        for heading in result.headings:
            assert result.text[heading.start :].startswith(heading.text)


@given(st.data(), st.sampled_from(["docx", "xlsx"]))
def test_damaged_office_file_is_read_or_refused(
    tmp_path: Path, data: st.DataObject, kind: str
) -> None:
    check(tmp_path / f"doc.{kind}", data.draw(damaged_zip(kind)))


@given(st.data(), st.sampled_from(["pdf", "raw.pdf"]))
def test_damaged_pdf_is_read_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject, kind: str
) -> None:
    # A PDF whose text the damage hides goes to OCR, seconds a page (time-boxed itself, see
    # the regression test below); here the PDF parser is what is fuzzed.
    monkeypatch.setattr(office, "tesseract_available", lambda: False)
    check(tmp_path / "doc.pdf", data.draw(mutated(base(kind), max_edits=6)))


@pytest.mark.skipif(not office.tesseract_available(), reason="Tesseract OCR is not installed")
def test_regression_pdf_ocr_is_time_boxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One flipped byte ("/Type .Pages") hides a PDF's text layer from pypdf, so it went to OCR:
    2-3 s a page with no time budget at all (a long damaged scan held the build for hours)."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(base("pdf").replace(b"/Type /Pages", b"/Type .Pages"))
    monkeypatch.setattr(office, "PDF_SECONDS", 0.2)  # OCR of page 1 alone takes longer
    with time_box(30), pytest.raises(DocumentError, match="by OCR took over"):
        load_document(path, tmp_path)


CELLS = st.one_of(
    st.sampled_from(['"', '""', ",", ";", "\t", "\n", "\r\n", "\x00", "Question", "Answer"]),
    st.text(max_size=10),
)


@given(st.lists(st.lists(CELLS, max_size=5).map("".join), max_size=12).map("\n".join))
def test_csv_is_read_or_refused(tmp_path: Path, text: str) -> None:
    check(tmp_path / "faq.csv", ("Question,Answer\n" + text).encode("utf-8", "replace"))


def padded_document(padding: int) -> bytes:
    """The base DOCX with *padding* bytes of blanks in its document.xml (compresses ~1000:1)."""
    original = base("docx")
    names = zipfile.ZipFile(io.BytesIO(original)).namelist()
    member = names.index("word/document.xml")
    xml = zipfile.ZipFile(io.BytesIO(original)).read("word/document.xml")
    return rezipped(original, member, xml.replace(b"<w:body>", b"<w:body>" + b" " * padding, 1))


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_regression_zip_bomb_is_refused_before_unpacking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A 30 kB DOCX whose document.xml unpacks to 30 MB made python-docx hold all of it and its
    XML tree (memory grows with what the ZIP claims, not with the file). The limits are lowered
    here so the test stays small; the check reads only the sizes the ZIP's directory declares."""
    monkeypatch.setattr(office, "MAX_UNZIPPED_XML", 10_000_000)
    raw = padded_document(30_000_000)
    if kind == "xlsx":  # the same part inside a spreadsheet: also only declared sizes count
        raw = rezipped(base("xlsx"), 0, zipfile.ZipFile(io.BytesIO(raw)).read("word/document.xml"))
    assert len(raw) < 100_000
    path = tmp_path / f"doc.{kind}"
    path.write_bytes(raw)
    error = memory_box(
        lambda: only_documented(lambda: load_document(path, tmp_path), DocumentError),
        limit=2_000_000,
    )
    assert isinstance(error, DocumentError) and "unpacks to" in str(error)


def test_padded_document_under_the_limits_is_read(tmp_path: Path) -> None:
    path = tmp_path / "doc.docx"
    path.write_bytes(padded_document(1_000_000))
    assert "48 hours" in load_document(path, tmp_path).text


def test_regression_damaged_sheet_leaves_no_open_file(tmp_path: Path) -> None:
    """A worksheet part that is not XML: openpyxl raised and left the .xlsx open (a
    ResourceWarning in the deep fuzz run; on Windows the file stays locked)."""
    import gc
    import warnings

    original = base("xlsx")
    names = zipfile.ZipFile(io.BytesIO(original)).namelist()
    path = tmp_path / "faq.xlsx"
    path.write_bytes(rezipped(original, names.index("xl/worksheets/sheet1.xml"), b"<"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = only_documented(lambda: load_document(path, tmp_path), DocumentError)
        assert "damaged" in str(error)
        del error  # its traceback would keep the reader's objects (and a leaked file) alive
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
