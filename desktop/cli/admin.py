"""Commands for knowledge admins: ``deskmate pack ...``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from desktop.core.knowledge.build import BuildReport

from desktop.cli.common import EXIT_USER_ERROR, emit_json, json_option, user_errors
from desktop.cli.sync import pack_repair


class _ProgressLine:
    """One updating line on stderr: stage, count, rate and ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started: dict[str, float] = {}
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        start = self.started.setdefault(stage, now)
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        rate = done / (now - start) if now > start else 0.0
        eta = (total - done) / rate if rate else 0.0
        unit = "files" if stage == "read" else "passages"
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r{stage:>5} [{bar}] {done}/{total} {unit} {rate:,.1f}/s ETA {eta:,.0f}s ",
            err=True,
            nl=done >= total,
        )


@click.group()
def pack() -> None:
    """Build knowledge packs from folders of documents (for knowledge admins)."""


@pack.command("build")
@click.argument("src", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the pack to (replaced atomically when the build succeeds).",
)
@click.option("--id", "pack_id", help="Pack id (default: the output folder's name).")
@click.option("--title", default="", help="Human title of the pack.")
@click.option("--version", "version", default="1", show_default=True, help="Pack version.")
@click.option(
    "--golden-threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.9,
    show_default=True,
    help="Share of the golden questions (SRC/golden.jsonl) that must pass; workstations refuse "
    "a version below it.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@json_option
@user_errors
def pack_build(
    src: Path,
    out: Path,
    pack_id: str | None,
    title: str,
    version: str,
    golden_threshold: float,
    progress: bool,
    as_json: bool,
) -> None:
    """Build a knowledge pack from every supported document below SRC.

    Markdown, HTML, text, PDF, Word (.docx) and FAQ spreadsheets (.csv, .xlsx). Files that cannot
    be read are skipped and listed with the reason; unchanged files are not embedded again, and
    an interrupted build resumes where it stopped. When SRC holds golden.jsonl, its questions
    run against the new pack; below --golden-threshold the pack is written but the command
    exits 1, and it must not be published.
    """
    from desktop.core.knowledge.build import build_pack
    from desktop.core.knowledge.embedder import Embedder

    report = build_pack(
        src.resolve(),
        out.resolve(),
        Embedder(),
        pack_id=pack_id or out.name,
        title=title,
        version=version,
        progress=_ProgressLine(progress),
        golden_threshold=golden_threshold,
    )
    if as_json:
        emit_json({"pack": str(out), **report.to_json(), "refused": report.golden_shortfall})
    else:
        _print_build(out, report)
    if report.golden_shortfall:
        click.echo(
            f"deskmate: {out}: {report.golden_shortfall}. Do not publish this pack: workstations "
            "refuse it. Fix the documents or the questions (each failure is listed in "
            f"{out / 'build-report.json'}), then build again.",
            err=True,
        )
        sys.exit(EXIT_USER_ERROR)


def _print_build(out: Path, report: BuildReport) -> None:
    state = "unchanged" if report.unchanged else f"built in {report.seconds:.1f} s"
    click.echo(
        f"{out}: {report.documents} documents, {report.chunks} passages ({state}; "
        f"{report.embedded_chunks} embedded, {report.reused_chunks} reused)"
    )
    for source, reason in report.skipped:
        click.echo(f"  skipped {source}: {reason}")
    golden = report.golden
    if golden:
        click.echo(
            f"Golden questions: {golden['passed']} of {golden['total']} passed "
            f"({golden['pass_rate']:.0%}; threshold {golden['threshold']:.0%})"
        )
        for result in golden["results"]:
            if not result["passed"]:
                click.echo(
                    f"  failed (line {result['line']}) {result['question']!r}: {result['reason']}"
                )
    click.echo(f"Build report: {out / 'build-report.json'}")


@pack.command("info")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False, exists=True))
@user_errors
def pack_info(path: Path) -> None:
    """Print a pack's manifest."""
    from desktop.core.knowledge.index import _read_manifest

    manifest = _read_manifest(path)
    manifest.pop("files", None)
    click.echo(json.dumps(manifest, indent=2))


pack.add_command(pack_repair)
