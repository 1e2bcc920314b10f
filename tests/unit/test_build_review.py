"""Review findings on `pack build` (issue 11): what a build may replace, which files it may read,
and how much one bad file may cost, on real files made here with the real embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from desktop.core.errors import KnowledgeError
from desktop.core.knowledge.build import build_pack
from desktop.core.knowledge.documents import DocumentError, load_document
from desktop.core.knowledge.index import Pack

ARTICLE = (
    "---\ntitle: Refunds\n---\n# Refunds\n\nRefunds reach your card within five working days.\n"
)


def write_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "refunds.md").write_text(ARTICLE, encoding="utf-8")
    (folder / "roaming.md").write_text("# Roaming\n\nRoaming in Europe costs nothing.\n")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def sources(pack: Path) -> set[str]:
    return {entry["source"] for entry in json.loads((pack / "documents.json").read_text())}


# --- Where a build may write (finding 2) --------------------------------------------------------


@pytest.mark.slow
def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path: Path, embedder) -> None:
    src = write_articles(tmp_path / "src")
    dest = tmp_path / "project"
    (dest / "notes").mkdir(parents=True)
    (dest / "notes" / "todo.md").write_text("my notes")
    (dest / "manifest.json").write_text('{"name": "a web app", "version": "1"}')
    before, around = snapshot(dest), set(tmp_path.iterdir())

    with pytest.raises(KnowledgeError, match="not a knowledge pack") as caught:
        build_pack(src, dest, embedder, pack_id="kb")

    assert "new or empty folder" in caught.value.fix
    assert snapshot(dest) == before
    assert set(tmp_path.iterdir()) == around  # no cache or staging folder left beside it


@pytest.mark.slow
@pytest.mark.parametrize("where", ["the source itself", "inside the source", "above the source"])
def test_the_source_folder_and_folders_inside_or_above_it_are_refused(
    tmp_path: Path, embedder, where: str
) -> None:
    project = tmp_path / "project"
    src = write_articles(project / "articles")
    dest = {
        "the source itself": src,
        "inside the source": src / "pack",
        "above the source": project,
    }
    before = snapshot(project)

    with pytest.raises(KnowledgeError, match="documents folder") as caught:
        build_pack(src, dest[where], embedder, pack_id="kb")

    assert "outside" in caught.value.fix
    assert snapshot(project) == before
    assert sorted(p.name for p in project.iterdir()) == ["articles"]


@pytest.mark.slow
def test_a_new_or_empty_folder_and_a_pack_built_before_are_replaced(
    tmp_path: Path, embedder
) -> None:
    src = write_articles(tmp_path / "src")
    empty = tmp_path / "empty"
    empty.mkdir()
    build_pack(src, empty, embedder, pack_id="kb")
    (src / "roaming.md").unlink()
    (empty / "manifest.json").unlink()  # a damaged pack may still be rebuilt
    build_pack(src, empty, embedder, pack_id="kb", version="2")
    assert sources(empty) == {"refunds.md"}
    assert Pack(empty, embedder).version == "2"


# --- What a build may read (finding 5) ----------------------------------------------------------


@pytest.mark.slow
def test_links_leading_out_of_the_source_folder_are_skipped_with_a_reason(
    tmp_path: Path, embedder
) -> None:
    src = write_articles(tmp_path / "src")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "keys").mkdir(parents=True)
    (elsewhere / "credentials.md").write_text("# Credentials\n\nThe admin password is hunter2.\n")
    (elsewhere / "keys" / "api.md").write_text("# API\n\nThe API key is sk-live-123.\n")
    (src / "credentials.md").symlink_to(elsewhere / "credentials.md")
    (src / "keys").symlink_to(elsewhere / "keys", target_is_directory=True)
    (src / "refunds-again.md").symlink_to(src / "refunds.md")  # inside: kept

    report = build_pack(src, tmp_path / "pack", embedder, pack_id="kb")

    skipped = dict(report.skipped)
    assert set(skipped) == {"credentials.md", "keys"}
    assert all("outside the documents folder" in reason for reason in skipped.values())
    assert sources(tmp_path / "pack") == {"refunds.md", "refunds-again.md", "roaming.md"}
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"refunds.md", "refunds-again.md", "roaming.md"}
    saved = json.loads((tmp_path / "pack" / "build-report.json").read_text())
    assert {s["source"] for s in saved["skipped"]} == {"credentials.md", "keys"}
    pack_text = "".join(p.read_text() for p in (tmp_path / "pack" / "docs").iterdir())
    assert "hunter2" not in pack_text and "sk-live" not in pack_text


# --- How much one file may cost (finding 6) -----------------------------------------------------

MEGABYTE = 1_000_000
# One-line files that made the old Markdown and HTML clean-up quadratic (or worse).
PATHOLOGICAL = {
    "brackets.md": "[" * MEGABYTE,
    "parens.md": "(" * MEGABYTE,
    "angles.md": "<" * MEGABYTE,
    "backticks.md": "`" * MEGABYTE,
    "code-runs.md": "`` a ``` b " * (MEGABYTE // 11),
    "shortcodes.md": "{{< x " * (MEGABYTE // 6),
    "shortcode-spaces.md": "{{<" + " " * MEGABYTE,
    "percent-shortcodes.md": "{{% x " * (MEGABYTE // 6),
    "liquid.md": "{%" + " " * MEGABYTE,
    "liquid-unclosed.md": "{% x " * (MEGABYTE // 5),
    "images.md": "![a" * (MEGABYTE // 3),
    "emphasis.md": "*a " * (MEGABYTE // 3),
    "strong.md": "**a " * (MEGABYTE // 4),
    "underscores.md": "_a " * (MEGABYTE // 3),
    "comments.md": "<!--" * (MEGABYTE // 4),
    "heading.md": "# a" + " " * MEGABYTE + "b",
    "tags.html": "<a " * (MEGABYTE // 3),
    "comments.html": "<!--" * (MEGABYTE // 4),
}
# The script is run in a child process so that a hang fails the test instead of stalling it.
TIMED_LOAD = """
import json, sys, time
from pathlib import Path
from desktop.core.knowledge.documents import DocumentError, load_document
root = Path(sys.argv[1])
for path in sorted(root.iterdir()):
    started = time.perf_counter()
    try:
        outcome = len(load_document(path, root).text)
    except DocumentError as exc:
        outcome = str(exc)
    print(json.dumps([path.name, time.perf_counter() - started, outcome]), flush=True)
"""


def test_pathological_markdown_and_html_are_read_in_linear_time(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for name, text in PATHOLOGICAL.items():
        (folder / name).write_text(text, encoding="utf-8")
    # Each took from minutes to hours before; now each takes well under a second.
    result = subprocess.run(
        [sys.executable, "-c", TIMED_LOAD, str(folder)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert result.returncode == 0, result.stderr
    timings = {
        name: (seconds, outcome)
        for name, seconds, outcome in map(json.loads, result.stdout.splitlines())
    }
    assert set(timings) == set(PATHOLOGICAL)
    slow = {name: seconds for name, (seconds, _) in timings.items() if seconds > 15}
    assert not slow, slow
    assert isinstance(timings["brackets.md"][1], int)  # read as text, not refused


def test_the_rewritten_markdown_clean_up_keeps_what_it_did(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "**2*3 = 6** and _a snake_case name_ and **bold *it* x** and ``a ` b`` c `d` "
        'and [a link](https://x.example) and {{< hint title="Tip {#tip}" >}}kept{{< /hint >}}'
        ' and {% include note.html text="{{ page.title }}" %}\n# Costs ##\n',
        encoding="utf-8",
    )
    doc = load_document(path, tmp_path)
    assert doc.text.splitlines()[0] == (
        "2*3 = 6 and a snake_case name and bold it x and a ` b c d and a link and Tip kept "
        "and {{ page.title }}"
    )
    assert [h.text for h in doc.headings] == ["Costs"]


def shared_stream_pdf(path: Path, pages: int = 20, megabytes: int = 8) -> Path:
    """A small PDF whose pages all draw one huge compressed stream of text operators."""
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    base = FPDF()
    base.add_page()
    base.set_font("helvetica", size=12)
    base.multi_cell(0, 10, "Refunds")
    base.output(str(path.with_suffix(".base")))
    writer = PdfWriter()
    first = writer.add_page(PdfReader(path.with_suffix(".base")).pages[0])
    path.with_suffix(".base").unlink()
    operator = b"BT /F1 12 Tf 72 712 Td (Refunds take five days) Tj ET\n"
    stream = DecodedStreamObject()
    stream.set_data(operator * (megabytes * MEGABYTE // len(operator)))
    shared = writer._add_object(stream.flate_encode())
    first[NameObject("/Contents")] = shared
    for _ in range(pages - 1):
        page = writer.add_blank_page()
        page[NameObject("/Resources")] = first["/Resources"]
        page[NameObject("/Contents")] = shared
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_pdf_pages_sharing_one_huge_stream_are_refused_before_any_text_is_extracted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PageObject

    pdf = shared_stream_pdf(tmp_path / "bomb.pdf")
    assert pdf.stat().st_size < 100_000
    parsed: list[int] = []
    real_extract = PageObject.extract_text

    def counting_extract(self: PageObject, *args: object, **kwargs: object) -> str:
        parsed.append(len(self.get_contents().get_data()))  # type: ignore[union-attr]
        if sum(parsed) > 4 * MEGABYTE:  # the work measure: bytes of instructions parsed
            raise AssertionError(f"parsed {sum(parsed):,} bytes of drawing instructions")
        return real_extract(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PageObject, "extract_text", counting_extract)
    with pytest.raises(DocumentError, match="drawing instructions"):
        load_document(pdf, tmp_path)
    assert parsed == []


def test_pdf_reading_stops_at_the_time_budget_between_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.core.knowledge import office
    from tests.unit.test_office import GUIDE_PAGES, make_pdf

    monkeypatch.setattr(office, "PDF_SECONDS", -1)
    with pytest.raises(DocumentError, match="took over"):
        load_document(make_pdf(tmp_path / "guide.pdf", GUIDE_PAGES), tmp_path)


def broken_office_files(folder: Path) -> None:
    """A CSV with an unclosed quote and a Word file and a workbook whose XML is cut short."""
    import docx
    import openpyxl

    (folder / "faq.csv").write_text('Question,Answer\nRefund?,"' + "x" * 200_000 + "\n")
    document = docx.Document()
    for number in range(50):
        document.add_paragraph(f"Paragraph {number} about returns and refunds. " * 10)
    document.save(folder / "whole.docx")
    workbook = openpyxl.Workbook()
    for number in range(500):
        workbook.active.append([f"Question {number}?", f"Answer {number}."])
    workbook.save(folder / "whole.xlsx")
    for suffix, member in ((".docx", "word/document.xml"), (".xlsx", "xl/worksheets/sheet1.xml")):
        whole = folder / f"whole{suffix}"
        with zipfile.ZipFile(whole) as old, zipfile.ZipFile(folder / f"cut{suffix}", "w") as new:
            for item in old.infolist():
                data = old.read(item)
                new.writestr(item, data[: len(data) // 2] if item.filename == member else data)
        whole.unlink()


@pytest.mark.slow
def test_one_unreadable_file_is_skipped_and_the_rest_is_built(tmp_path: Path, embedder) -> None:
    src = write_articles(tmp_path / "src")
    broken_office_files(src)

    report = build_pack(src, tmp_path / "pack", embedder, pack_id="kb")

    reasons = dict(report.skipped)
    assert set(reasons) == {"faq.csv", "cut.docx", "cut.xlsx"}
    assert "field larger than field limit" in reasons["faq.csv"] and "quote" in reasons["faq.csv"]
    assert all("damaged" in reasons[name] for name in ("cut.docx", "cut.xlsx"))
    assert sources(tmp_path / "pack") == {"refunds.md", "roaming.md"}
