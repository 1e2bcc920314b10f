"""`deskmate pack build --out .` inside a project refuses instead of deleting it (issue 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _project_files(project: Path, home: Path) -> list[Path]:
    """Every path in the project, except Deskmate's own home (this test's, where its log goes)."""
    return sorted(p.relative_to(project) for p in project.rglob("*") if not p.is_relative_to(home))


def test_pack_build_out_dot_in_a_project_refuses_and_keeps_every_file(
    deskmate: Any, tmp_path: Path, deskmate_home: Path
) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "refunds.md").write_text("# Refunds\n\nRefunds take five days.\n")
    (tmp_path / "README.txt").write_text("my project")
    before = _project_files(tmp_path, deskmate_home)

    result = deskmate("pack", "build", "articles", "--out", ".", timeout=120)

    assert result.returncode != 0 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("deskmate: Cannot build the pack into") and "Nothing was changed" in line
    assert "Choose an output folder outside" in line
    assert _project_files(tmp_path, deskmate_home) == before
    assert (articles / "refunds.md").read_text() == "# Refunds\n\nRefunds take five days.\n"
