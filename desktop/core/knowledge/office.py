"""Office formats: PDF (text layer, page numbers, OCR when Tesseract is installed), Word (DOCX,
headings kept) and FAQ spreadsheets (CSV/XLSX: one question/answer row is one passage).

Each reader fills a :class:`~desktop.core.knowledge.documents.TextBuilder` and returns the
document's metadata; problems are raised as :class:`DocumentError` with a reason a knowledge admin
can act on.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from desktop.core.knowledge.documents import DocumentError

if TYPE_CHECKING:
    from desktop.core.knowledge.documents import TextBuilder

QUESTION_COLUMNS = ("question", "q", "faq", "title", "query", "prompt")
ANSWER_COLUMNS = ("answer", "a", "response", "reply", "body", "text")
OCR_DPI_SCALE = 300 / 72
# Bounds on the work one PDF may cost: text extraction parses a page's drawing instructions at
# well under 1 MB/s, so a small file whose pages share one huge compressed stream would otherwise
# hold the build for hours. Real pages hold kilobytes of instructions and a few thousand letters.
MAX_PDF_PAGE_CONTENT = 4_000_000
MAX_PDF_CONTENT = 32_000_000
MAX_PDF_PAGE_CHARS = 200_000
MAX_PDF_CHARS = 10_000_000
PDF_SECONDS = 300  # last resort, checked between pages
# DOCX and XLSX are ZIP files whose parts the readers load whole: a few hundred kilobytes may
# unpack to gigabytes (a "ZIP bomb"). The sizes each part declares are checked first (the ZIP
# reader never unpacks more than a part declares). XML parts become trees several times larger.
MAX_UNZIPPED_BYTES = 300_000_000
MAX_UNZIPPED_XML = 100_000_000
MAX_ZIP_PARTS = 10_000
# A sheet may declare a million empty rows in a few bytes; the reader would list them all.
MAX_SHEET_ROWS = 100_000
MAX_SHEET_COLUMNS = 64


# --- PDF ------------------------------------------------------------------------------------


def read_pdf(path: Path, out: TextBuilder) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("the PDF is password-protected; save an unprotected copy")
        _check_pdf_content(reader.pages)
        texts = _pdf_texts(reader.pages, time.monotonic() + PDF_SECONDS)
        info: Any = reader.metadata or {}
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"the PDF is damaged or unreadable ({exc})") from exc
    except Exception as exc:  # pypdf raises many exception types on malformed files
        if type(exc).__module__.startswith("pypdf"):
            raise DocumentError(f"the PDF is damaged or unreadable ({exc})") from exc
        raise
    ocr = False
    if not any(text.strip() for text in texts):
        texts = _ocr_pdf(path, len(texts), time.monotonic() + PDF_SECONDS)
        ocr = True
    for number, text in enumerate(texts, start=1):
        out.page(number)
        for line in text.splitlines():
            out.line(line)
        out.blank()
    meta: dict[str, Any] = {"pages": len(texts), "ocr": ocr}
    title = info.get("/Title") if hasattr(info, "get") else None
    if title and str(title).strip():
        meta["title"] = str(title).strip()
    return meta


def _content_size(page: Any) -> int:
    """Bytes of drawing instructions on *page* once decompressed (what text extraction parses)."""
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    if contents is None:
        return 0
    streams = contents if isinstance(contents, list) else [contents]
    return sum(len(stream.get_object().get_data()) for stream in streams)


def _check_pdf_content(pages: Any) -> None:
    """Refuse, before any text is extracted, a PDF whose drawing instructions would take minutes
    to read: a page with megabytes of them, or pages that share one huge stream."""
    total = 0
    for number, page in enumerate(pages, start=1):
        size = _content_size(page)
        if size > MAX_PDF_PAGE_CONTENT:
            raise DocumentError(
                f"page {number} of the PDF holds {size / 1e6:.0f} MB of drawing instructions, "
                f"over the {MAX_PDF_PAGE_CONTENT / 1e6:.0f} MB a page may hold; the file is "
                "malformed or a drawing, so save the text pages as a separate PDF"
            )
        total += size
        if total > MAX_PDF_CONTENT:
            raise DocumentError(
                f"the PDF holds over {MAX_PDF_CONTENT / 1e6:.0f} MB of drawing instructions "
                f"by page {number} (pages may share one huge stream); split it into smaller PDFs"
            )


def _pdf_texts(pages: Any, deadline: float) -> list[str]:
    """The text of every page, within a character and a time budget for the whole file."""
    texts: list[str] = []
    total = 0
    for number, page in enumerate(pages, start=1):
        if time.monotonic() > deadline:
            raise DocumentError(
                f"reading the PDF took over {PDF_SECONDS} s (stopped at page {number}); "
                "split it into smaller PDFs"
            )
        text = page.extract_text() or ""
        total += len(text)
        if len(text) > MAX_PDF_PAGE_CHARS or total > MAX_PDF_CHARS:
            raise DocumentError(
                f"the PDF holds more text than it can (page {number} has {len(text):,} "
                f"characters; a page may have {MAX_PDF_PAGE_CHARS:,} and the file "
                f"{MAX_PDF_CHARS:,}); split it into smaller PDFs"
            )
        texts.append(text)
    return texts


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _ocr_pdf(path: Path, pages: int, deadline: float) -> list[str]:
    """Text of a scanned PDF by OCR, or a DocumentError saying how to enable OCR.

    OCR takes seconds a page, so it has the same time budget as text extraction, checked
    between pages (a damaged or huge scan otherwise held the build for as long as it had pages).
    """
    if not tesseract_available():
        raise DocumentError(
            f"the PDF has no text layer ({pages} scanned page(s)) and Tesseract OCR is not "
            "installed; install tesseract-ocr to index scanned PDFs"
        )
    import pypdfium2
    import pytesseract

    document = pypdfium2.PdfDocument(str(path))
    try:
        texts = []
        for number, page in enumerate(document, start=1):
            if time.monotonic() > deadline:
                raise DocumentError(
                    f"reading the scanned PDF by OCR took over {PDF_SECONDS} s (stopped at page "
                    f"{number}); split it into smaller PDFs"
                )
            image = page.render(scale=OCR_DPI_SCALE).to_pil()
            texts.append(pytesseract.image_to_string(image))
        if not any(t.strip() for t in texts):
            raise DocumentError("the PDF has no text layer and OCR found no text in it")
        return texts
    finally:
        document.close()


# --- Word and spreadsheets: ZIP containers ----------------------------------------------------


def check_zip(path: Path, damaged: str) -> None:
    """Refuse a DOCX/XLSX whose parts would unpack to more than the readers should hold.

    *damaged* is the reason given when the file is not a readable ZIP at all.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"{damaged} ({exc})") from exc
    xml = sum(p.file_size for p in parts if p.filename.lower().endswith((".xml", ".rels")))
    total = sum(p.file_size for p in parts)
    if len(parts) > MAX_ZIP_PARTS or xml > MAX_UNZIPPED_XML or total > MAX_UNZIPPED_BYTES:
        raise DocumentError(
            f"the file unpacks to {total / 1e6:,.0f} MB in {len(parts):,} parts ({xml / 1e6:,.0f} "
            f"MB of it text markup), over the {MAX_UNZIPPED_BYTES / 1e6:,.0f} MB, "
            f"{MAX_ZIP_PARTS:,} parts and {MAX_UNZIPPED_XML / 1e6:,.0f} MB of markup a document "
            "may have; it is damaged or built to exhaust memory, so save it again or split it"
        )


# --- Word -----------------------------------------------------------------------------------


def read_docx(path: Path, out: TextBuilder) -> dict[str, Any]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    damaged = "the Word file is damaged or not a .docx file"
    check_zip(path, damaged)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"{damaged} ({exc})") from exc
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            _docx_paragraph(Paragraph(child, document), out)
        elif tag == "tbl":
            table = Table(child, document)
            for row in table.rows:
                out.line(" | ".join(cell.text.strip() for cell in row.cells))
            out.blank()
    meta: dict[str, Any] = {}
    title = document.core_properties.title
    if title and title.strip():
        meta["title"] = title.strip()
    return meta


def _docx_paragraph(paragraph: Any, out: TextBuilder) -> None:
    text = paragraph.text.strip()
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if not text:
        out.blank()
    elif style == "Title":
        out.heading(1, text)
    elif style.startswith("Heading"):
        level = int(style.split()[-1]) if style.split()[-1].isdigit() else 2
        out.heading(min(level + 1, 6), text)
    elif style.startswith("List"):
        out.line(f"- {text}")
    else:
        out.line(text)
        out.blank()


# --- FAQ spreadsheets -----------------------------------------------------------------------


def _faq_columns(header: list[str]) -> tuple[int, int] | None:
    names = [h.strip().lower() for h in header]
    question = next((i for i, n in enumerate(names) if n in QUESTION_COLUMNS), None)
    answer = next((i for i, n in enumerate(names) if n in ANSWER_COLUMNS), None)
    if question is None or answer is None:
        return None
    return question, answer


def _write_faq(rows: list[list[str]], out: TextBuilder) -> dict[str, Any]:
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DocumentError("the spreadsheet is empty")
    columns = _faq_columns(rows[0])
    if columns is None:
        columns = (0, 1)
    else:
        rows = rows[1:]
    q, a = columns
    count = 0
    for row in rows:
        question = row[q].strip() if q < len(row) else ""
        answer = row[a].strip() if a < len(row) else ""
        if not question or not answer:
            continue
        out.heading(2, question)
        for line in answer.splitlines():
            out.line(line)
        out.blank()
        count += 1
    if not count:
        raise DocumentError("no question/answer rows found (expected Question and Answer columns)")
    return {"faq_rows": count}


def read_csv(raw: str, out: TextBuilder) -> dict[str, Any]:
    try:
        dialect = csv.Sniffer().sniff(raw[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(raw), dialect))
    except csv.Error as exc:
        raise DocumentError(
            f"the CSV file cannot be parsed ({exc}); a quote that is never closed makes the "
            "rest of the file one cell, so check its quotes"
        ) from exc
    return _write_faq(rows, out)


def read_xlsx(path: Path, out: TextBuilder) -> dict[str, Any]:
    damaged = "the spreadsheet is damaged or not an .xlsx file"
    check_zip(path, damaged)
    # Our own handle, closed on every path: openpyxl leaves its file open when a damaged sheet
    # fails to parse (on Windows that also locks the file until the process ends).
    with path.open("rb") as handle:
        return _read_workbook(handle, damaged, out)


def _read_workbook(handle: IO[bytes], damaged: str, out: TextBuilder) -> dict[str, Any]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentError(f"{damaged} ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        rows: list[list[str]] = []
        for row in sheet.iter_rows(max_col=MAX_SHEET_COLUMNS, values_only=True):
            if len(rows) == MAX_SHEET_ROWS:
                raise DocumentError(
                    f"the spreadsheet has over {MAX_SHEET_ROWS:,} rows (counting empty ones); "
                    "an FAQ sheet this long is an export, so split it"
                )
            rows.append(["" if v is None else str(v) for v in row])
    finally:
        workbook.close()
    return _write_faq(rows, out)
