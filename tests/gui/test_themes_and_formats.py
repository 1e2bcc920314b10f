"""The window in a dark theme, and over a PDF pack: readable colours, pages shown as pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from guikit import QUESTION, context_with, draft, norm, start, type_search
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QTextCharFormat
from PySide6.QtWidgets import QApplication, QTextEdit

from desktop.core.knowledge.index import build_pack
from desktop.gui.panes import RICH_ROLE

pytestmark = [pytest.mark.slow, pytest.mark.qt_log_ignore("propagateSizeHints")]

WCAG_AA = 4.5  # the minimum contrast ratio for normal-size text


def luminance(color: QColor) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * linear(color.redF())
        + 0.7152 * linear(color.greenF())
        + 0.0722 * linear(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def dark_palette() -> QPalette:
    """What a dark OS theme hands to Qt: dark bases, light text."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b",
        QPalette.ColorRole.WindowText: "#e8e8e8",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.Text: "#e8e8e8",
        QPalette.ColorRole.Button: "#333333",
        QPalette.ColorRole.ButtonText: "#e8e8e8",
        QPalette.ColorRole.Highlight: "#3d6fb4",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.ToolTipBase: "#333333",
        QPalette.ColorRole.ToolTipText: "#e8e8e8",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    return palette


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.palette()
    if request.param == "dark":
        app.setPalette(dark_palette())
    yield request.param
    app.setPalette(before)


def unreadable_fragments(view: QTextEdit) -> list[str]:
    """Every run of text in *view* whose colours fall below WCAG AA, with its colours."""
    base = view.palette().color(QPalette.ColorRole.Base)
    text = view.palette().color(QPalette.ColorRole.Text)
    link = view.palette().color(QPalette.ColorRole.Link)
    bad = []
    block = view.document().begin()
    while block.isValid():
        behind = block.blockFormat().background()  # a <div style="background…"> paints here
        block_bg = behind.color() if behind.style() != Qt.BrushStyle.NoBrush else base
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt: QTextCharFormat = fragment.charFormat()
            if fragment.text().strip():
                own_fg = fmt.foreground().style() != Qt.BrushStyle.NoBrush
                fg = fmt.foreground().color() if own_fg else link if fmt.isAnchor() else text
                own_bg = fmt.background().style() != Qt.BrushStyle.NoBrush
                bg = fmt.background().color() if own_bg else block_bg
                if contrast(fg, bg) < WCAG_AA:
                    bad.append(f"{fragment.text()[:40]!r}: {fg.name()} on {bg.name()}")
            it += 1
        block = block.next()
    return bad


def test_every_colour_we_add_stays_readable_in_the_light_and_the_dark_theme(
    qtbot: Any, make_window: Any, context: Any, theme: str
) -> None:
    context.settings.set("answer.min_supported", 0.0)  # show the model's draft, verdicts and all
    window = make_window(context)
    start(qtbot, window)
    base = window.source.view.palette().color(QPalette.ColorRole.Base)
    assert (base.lightness() < 80) == (theme == "dark"), "the window did not take the theme"

    type_search(qtbot, window, QUESTION)
    answer = draft(qtbot, window)
    assert answer.status == "answered"
    # Something in each pane carries a colour of ours: the passage highlight, sentence verdicts.
    assert window.parts["source"].highlighted_text()
    assert any(s.verdict != "supported" for s in answer.sentences)
    assert unreadable_fragments(window.source.view) == []
    assert unreadable_fragments(window.draft.view) == []

    # A route-to-person banner has its own background.
    window.search.box.setText("My husband died last week and I need to close his account")
    routed = draft(qtbot, window)
    assert routed.status == "route_to_human"
    assert unreadable_fragments(window.draft.view) == []

    # The stale-sync warning in the status bar, and again after the OS switches theme.
    window.parts["sync"].set_status("Knowledge last synced 9 days ago", warning=True)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    for palette in (app.palette(), dark_palette() if theme == "light" else QPalette()):
        app.setPalette(palette)
        QApplication.processEvents()
        color = re.search(r"color:(#[0-9a-f]{6})", window.parts["sync"].label.styleSheet())
        assert color, window.parts["sync"].label.styleSheet()
        behind = app.palette().color(QPalette.ColorRole.Window)
        assert contrast(QColor(color.group(1)), behind) >= WCAG_AA


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


PDF_PAGES = [
    "Northwind loyalty programme. Members collect points on every bill paid on time.",
    "Redeeming points. To redeem loyalty points for a phone upgrade, open Account, choose "
    "Rewards and select Upgrade. Points are taken when the new phone is dispatched.",
    "Expiry. Loyalty points expire 24 months after they were collected.",
]


def test_a_pdf_source_is_shown_by_page_with_the_passage_on_its_page(
    qtbot: Any, make_window: Any, tmp_path: Path, embedder: Any
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_pdf(src / "loyalty-guide.pdf", PDF_PAGES)
    pack = tmp_path / "pdf-pack"
    build_pack(src, pack, embedder, pack_id="loyalty", title="Loyalty guide")
    window = make_window(context_with(embedder, pack_dirs=[pack]))
    start(qtbot, window)

    hits = type_search(qtbot, window, "redeem loyalty points for a phone upgrade")
    assert hits[0].source == "loyalty-guide.pdf" and hits[0].page == 2
    assert "page 2" in window.source.meta.text()
    shown = norm(window.source.view.toPlainText())
    # Every page is there, labelled, in order, and the highlighted passage sits on page 2.
    labels = [shown.index(f"— Page {n} —") for n in (1, 2, 3)]
    assert labels == sorted(labels)
    highlighted = norm(window.parts["source"].highlighted_text())
    assert "redeem loyalty points for a phone upgrade" in highlighted
    at = shown.index(highlighted[:40])
    assert labels[1] < at < labels[2]
    assert "24 months" not in highlighted


def test_text_scales_with_the_font_setting_everywhere(
    qtbot: Any, make_window: Any, context: Any
) -> None:
    from desktop.gui.parts.settings import apply_font_scale

    window = make_window(context)
    start(qtbot, window)
    type_search(qtbot, window, QUESTION)
    results = window.search.results
    row_before = results.visualItemRect(results.item(0)).height()
    source_before = window.source.view.document().defaultFont().pointSizeF()
    try:
        window.context.settings.set("ui.font_scale", 1.5)
        window.parts["settings"].settings_saved()  # what OK in the settings dialog does
        QApplication.processEvents()
        qtbot.waitUntil(lambda: results.visualItemRect(results.item(0)).height() > row_before * 1.3)
        doc = window.search.results.delegate.document(
            results.item(0).data(RICH_ROLE), results.viewport().width()
        )
        assert doc.defaultFont().pointSizeF() == pytest.approx(source_before * 1.5, rel=0.05)
        assert window.source.view.document().defaultFont().pointSizeF() == pytest.approx(
            source_before * 1.5, rel=0.05
        )
    finally:
        apply_font_scale(1.0)
