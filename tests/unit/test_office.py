"""PDF, Word and FAQ spreadsheets, and every bad-file case, on real files made here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from desktop.core.knowledge.chunking import chunk_document
from desktop.core.knowledge.documents import DocumentError, load_document
from desktop.core.knowledge.index import Pack, build_pack
from desktop.core.knowledge.search import hybrid_search

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def make_pdf(path: Path, pages: list[str], title: str = "") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 10, text)
    if title:
        pdf.set_title(title)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, text: str) -> Path:
    """A PDF whose only content is a picture of *text*: no text layer at all."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1700, 400), "white")
    font = ImageFont.truetype(str(FONT), 64) if FONT.exists() else ImageFont.load_default(64)
    ImageDraw.Draw(image).text((40, 150), text, fill="black", font=font)
    picture = path.with_suffix(".png")
    image.save(picture)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(picture), x=10, y=10, w=190)
    pdf.output(str(path))
    picture.unlink()
    return path


GUIDE_PAGES = [
    "Hub 3 router setup. Plug the Hub 3 into the wall socket and wait for the light to "
    "turn white. This takes about 4 minutes.",
    "Troubleshooting. If the light on the Hub 3 stays red, restart the router and call "
    "0800 046 1200.",
]


def test_pdf_text_layer_with_page_numbers(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "guide.pdf", GUIDE_PAGES, title="Hub 3 guide")
    doc = load_document(pdf, tmp_path)
    assert doc.title == "Hub 3 guide"
    assert doc.meta["pages"] == 2 and doc.meta["ocr"] is False
    chunks = chunk_document(doc)
    assert [c.page for c in chunks] == [1, 2]  # a passage never spans two pages
    assert "stays red" in chunks[1].text and "wall socket" in chunks[0].text
    assert doc.text[chunks[1].start : chunks[1].end].strip() == chunks[1].text


def test_password_protected_pdf_is_refused_with_reason(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", GUIDE_PAGES)
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(DocumentError, match="password-protected"):
        load_document(locked, tmp_path)


def test_corrupt_pdf_is_refused_with_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n this is not really a pdf \n%%EOF")
    with pytest.raises(DocumentError, match="damaged or unreadable"):
        load_document(bad, tmp_path)


def test_scanned_pdf_without_tesseract_is_reported_not_indexed_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = make_scanned_pdf(tmp_path / "scan.pdf", "Refunds reach your card in five days.")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no tesseract on this PATH
    with pytest.raises(DocumentError, match=r"no text layer.*install tesseract-ocr"):
        load_document(scanned, tmp_path)


@pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract OCR is not installed (apt-get install tesseract-ocr; .ci/run installs it)",
)
def test_scanned_pdf_is_read_by_ocr_when_tesseract_is_installed(tmp_path: Path) -> None:
    scanned = make_scanned_pdf(tmp_path / "scan.pdf", "Refunds reach your card in five days.")
    doc = load_document(scanned, tmp_path)
    assert doc.meta["ocr"] is True
    assert "Refunds reach your card" in doc.text
    assert chunk_document(doc)[0].page == 1


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Returns policy", 0)
    document.add_heading("Damaged items", 1)
    document.add_paragraph("Report damage within 48 hours of delivery.")
    document.add_paragraph("Take photos of the box", style="List Bullet")
    document.add_heading("Faulty items", 1)
    document.add_paragraph("Faulty items can be returned within 30 days.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Plan"
    table.cell(0, 1).text = "Price"
    table.cell(1, 0).text = "Unlimited"
    table.cell(1, 1).text = "£25"
    document.save(str(path))
    return path


def test_docx_keeps_headings_lists_and_tables(tmp_path: Path) -> None:
    doc = load_document(make_docx(tmp_path / "policy.docx"), tmp_path)
    assert doc.title == "Returns policy"
    assert [h.text for h in doc.headings] == ["Returns policy", "Damaged items", "Faulty items"]
    assert "- Take photos of the box" in doc.text
    assert "Unlimited | £25" in doc.text
    chunks = chunk_document(doc)
    assert {c.heading for c in chunks} == {"Damaged items", "Faulty items"}


def test_corrupt_docx_is_refused_with_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DocumentError, match=r"damaged or not a \.docx"):
        load_document(bad, tmp_path)


def test_csv_faq_one_row_one_passage(tmp_path: Path) -> None:
    faq = tmp_path / "billing-faq.csv"
    faq.write_text(
        "Question,Answer\nHow do I pay?,Pay by Direct Debit or card.\n"
        "What is the late fee?,A £4.99 fee is added 7 days after the due date.\n"
        ",an answer without a question is ignored\n",
        encoding="utf-8",
    )
    doc = load_document(faq, tmp_path)
    assert doc.title == "billing faq"
    chunks = chunk_document(doc)
    assert [(c.heading, c.text) for c in chunks] == [
        ("How do I pay?", "Pay by Direct Debit or card."),
        ("What is the late fee?", "A £4.99 fee is added 7 days after the due date."),
    ]


def test_xlsx_faq_and_semicolon_csv(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Answer", "Question"])  # columns found by name, in any order
    sheet.append(["Yes, in 47 destinations.", "Can I roam in Europe?"])
    book.save(str(tmp_path / "roaming.xlsx"))
    chunks = chunk_document(load_document(tmp_path / "roaming.xlsx", tmp_path))
    assert [(c.heading, c.text) for c in chunks] == [
        ("Can I roam in Europe?", "Yes, in 47 destinations.")
    ]
    semi = tmp_path / "semi.csv"
    semi.write_text("question;answer\nIs 5G included?;Yes, on every plan.\n", encoding="utf-8")
    assert chunk_document(load_document(semi, tmp_path))[0].text == "Yes, on every plan."


def test_spreadsheet_without_rows_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("Question,Answer\n,\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="no question/answer rows"):
        load_document(empty, tmp_path)


def test_oversized_html_is_skipped_with_reason(tmp_path: Path) -> None:
    big = tmp_path / "export.html"
    with big.open("wb") as handle:
        handle.write(b"<html><body><main>")
        block = b"<p>" + b"lorem ipsum dolor sit amet " * 40 + b"</p>\n"
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(block)
        handle.write(b"</main></body></html>")
    with pytest.raises(DocumentError, match=r"52 MB, over the 21 MB limit"):
        load_document(big, tmp_path)


@pytest.mark.slow
def test_pack_build_skips_each_bad_file_and_builds_the_rest(tmp_path: Path, embedder) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_pdf(src / "guide.pdf", GUIDE_PAGES, title="Hub 3 guide")
    make_docx(src / "policy.docx")
    (src / "faq.csv").write_text(
        "Question,Answer\nWhat is the late fee?,A £4.99 fee.\n", encoding="utf-8"
    )
    (src / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (src / "empty.md").write_text("", encoding="utf-8")
    (src / "binary.md").write_bytes(b"\x00\x01\x02 binary \x00")
    (src / "notes.txt").write_bytes("Caf\xe9 opening hours: 9am to 5pm daily.".encode("cp1252"))
    report = build_pack(src, tmp_path / "pack", embedder, pack_id="mixed")
    skipped = dict(report.skipped)
    assert set(skipped) == {"bad.pdf", "empty.md", "binary.md"}
    assert "damaged" in skipped["bad.pdf"] and "empty" in skipped["empty.md"]
    assert "binary" in skipped["binary.md"]
    assert report.documents == 4
    pack = Pack(tmp_path / "pack", embedder)
    hits = hybrid_search([pack], embedder, "router light stays red what do I do", limit=3)
    assert hits[0].source == "guide.pdf" and hits[0].page == 2
    cafe = hybrid_search([pack], embedder, "café opening hours", limit=1)
    assert cafe[0].source == "notes.txt" and "Café" in cafe[0].text
