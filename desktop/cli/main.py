"""The ``deskmate`` command. Qt-free: only the bare ``deskmate`` (open the window) touches Qt."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import click

from desktop import __version__
from desktop.cli.admin import pack
from desktop.cli.audit import audit, report
from desktop.cli.common import (
    EXIT_USER_ERROR,
    clean_text,
    emit_json,
    json_option,
    read_stdin,
    text_file,
    user_errors,
)
from desktop.cli.policy import policy
from desktop.cli.redact import redact
from desktop.cli.repo import pack_publish, pack_retire, repo
from desktop.cli.sync import pack_rollback, sync
from desktop.core import tasks

VERDICT_MARKS = {"supported": "ok", "unsupported": "UNSUPPORTED", "no_citation": "NO CITATION"}


def _context(packs: tuple[Path, ...] = (), model: Path | None = None) -> Any:
    from desktop.core import logs
    from desktop.core.context import AppContext

    context = AppContext.from_env(pack_dirs=list(packs) or None, model_path=model)
    logs.setup(context.paths, context.settings)
    for problem in context.settings.problems:
        click.echo(f"deskmate: warning: {problem}", err=True)
    return context


def _audit(context: Any) -> Any:
    """The audit trail's recorder, once the machine policy in force is recorded if it changed."""
    recorder = context.audit
    recorder.policy(context.settings.machine)
    return recorder


def _warn_pack_problems(context: Any) -> None:
    """One warning line on stderr per pack that is not served (damaged, not fully installed)."""
    for problem in context.pack_problems():
        click.echo(f"deskmate: warning: pack {problem.pack} not searched: {problem}", err=True)


def _ensure_demo(context: Any) -> None:
    if context.ensure_demo_pack_needed():
        click.echo("Building the demo knowledge pack (first run)...", err=True)
        context.build_demo_pack()


pack_option = click.option(
    "--pack",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Search this pack folder instead of the installed packs (repeatable).",
)


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="Deskmate")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Deskmate: search approved knowledge and draft grounded replies, on this PC only.

    Run without a command to open the window.
    """
    if ctx.invoked_subcommand is None:
        from desktop.app import run_gui

        sys.exit(run_gui())


@cli.command()
@click.argument("query", required=False)
@pack_option
@click.option("--limit", type=click.IntRange(1, 100), default=None, help="At most N results.")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Only passages from documents of this category (repeatable).",
)
@click.option("--locale", default=None, help="Only documents in this locale (e.g. en-GB, en).")
@click.option(
    "--queries",
    type=text_file,
    default=None,
    help="Run one search per line of FILE, printing one JSON line per query.",
)
@json_option
@user_errors
def search(
    query: str | None,
    packs: tuple[Path, ...],
    limit: int | None,
    categories: tuple[str, ...],
    locale: str | None,
    queries: Any,
    as_json: bool,
) -> None:
    """Search the approved knowledge for QUERY."""
    from desktop.core.assist import Assistant

    if (query is None) == (queries is None):
        raise click.UsageError("Give either a QUERY or --queries FILE.")
    context = _context(packs)
    context.preload()  # the embedding model and LanceDB load at once, on two threads
    _ensure_demo(context)
    assistant = Assistant(context)
    audit = _audit(context)
    if queries is not None:
        for line in queries:
            if line.strip():
                hits = assistant.search(line.strip(), limit, categories, locale)
                audit.search(line.strip(), hits, "cli")
                click.echo(
                    json.dumps(
                        {"query": line.strip(), "hits": [h.to_json() for h in hits]},
                        ensure_ascii=False,
                    )
                )
        _warn_pack_problems(context)
        return
    assert query is not None
    query = clean_text(query)
    hits = assistant.search(query, limit, categories, locale)
    audit.search(query, hits, "cli")
    _warn_pack_problems(context)
    if as_json:
        emit_json([hit.to_json() for hit in hits])
        return
    if not hits:
        click.echo("No approved source matches this query.")
    for rank, hit in enumerate(hits, start=1):
        where = f" > {hit.heading}" if hit.heading else ""
        page = f", page {hit.page}" if hit.page else ""
        click.echo(
            click.style(f"{rank}. {hit.title}{where}", bold=True)
            + f"  [{hit.pack}:{hit.source}{page}, score {hit.score:.2f}]"
        )
        click.echo("   " + " ".join(hit.text.split())[:240])


@cli.command()
@click.argument("question", required=False)
@pack_option
@click.option(
    "--model",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Use this GGUF model file for this request.",
)
@click.option(
    "--task",
    type=click.Choice(list(tasks.TASKS)),
    default="reply",
    show_default=True,
    help="reply: answer from the knowledge; wrapup: wrap-up note of a pasted conversation; "
    "rewrite: your own text, rephrased.",
)
@click.option(
    "--tone",
    type=click.Choice(list(tasks.TONES)),
    default="shorter",
    show_default=True,
    help="For --task rewrite.",
)
@click.option(
    "--questions",
    type=text_file,
    default=None,
    help="Answer one question per line of FILE, printing one JSON object per line.",
)
@json_option
@user_errors
def ask(
    question: str | None,
    packs: tuple[Path, ...],
    model: Path | None,
    task: str,
    tone: str,
    questions: Any,
    as_json: bool,
) -> None:
    """Draft a grounded, cited reply to QUESTION from the approved knowledge.

    QUESTION may be "-" to read it (for example a pasted conversation) from standard input.
    """
    from desktop.core.assist import Assistant

    if (question is None) == (questions is None):
        raise click.UsageError("Give either a QUESTION or --questions FILE.")
    context = _context(packs, model)
    if model is not None and not context.settings.is_locked("generation.replies"):
        context.settings.set("generation.replies", True)  # a model named for this request writes
    _ensure_demo(context)
    assistant = Assistant(context)
    audit = _audit(context)
    if questions is not None:
        for line in questions:
            if line.strip():
                answer = _run_ask(assistant, line.strip(), task, tone, stream=False)
                audit.answer(answer, "cli")
                click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        _warn_pack_problems(context)
        return
    assert question is not None
    text = read_stdin() if question == "-" else clean_text(question)
    answer = _run_ask(assistant, text, task, tone, stream=not as_json)
    audit.answer(answer, "cli")
    _warn_pack_problems(context)
    if as_json:
        emit_json(answer.to_json())
        return
    _print_answer(answer)


def _run_ask(assistant: Any, text: str, task: str, tone: str, stream: bool) -> Any:
    from desktop.core.assist import Done, Error, Token

    answer = None
    streamed = False
    for event in assistant.ask(text, stop=threading.Event(), task=task, tone=tone):
        if isinstance(event, Token) and stream:
            # Header on the first token: a missing model is replaced by an extract silently.
            if not streamed:
                click.echo(click.style("Draft (local model):", bold=True))
                streamed = True
            click.echo(event.text, nl=False)
        elif isinstance(event, Error) and streamed:
            click.echo(click.style(f"\n[discarded: {event.message}]", fg="red"))
            streamed = False
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    return answer


def _print_answer(answer: Any) -> None:
    from desktop.core import render

    if answer.status == "route_to_human":
        click.echo(click.style(f"ROUTE TO A PERSON ({answer.route['topic']})", bold=True))
        click.echo(f"Why: {render.agent_text(answer.route['reason'])}")
        click.echo(f"Company rule: {render.rule_text(answer.route['rule'])}")
        click.echo(f"Handling article: {answer.route['title']} [{answer.route['source']}]")
        return
    if answer.status == "no_source":
        click.echo(answer.draft)
        for hit in answer.nearest:
            click.echo(f"  nearest: {hit.title} [{hit.source}]")
        return
    if answer.mode == "extractive":
        click.echo(click.style("Draft (extractive, from the sources' own sentences):", bold=True))
        click.echo(answer.draft)
    click.echo("\n")
    if answer.notice:
        click.echo(f"Note: {answer.notice}")
    click.echo(click.style("Sentences:", bold=True))
    for sentence in answer.sentences:
        mark = VERDICT_MARKS.get(sentence.verdict, sentence.verdict)
        reason = (
            f" - {sentence.reason}" if sentence.reason and sentence.verdict != "supported" else ""
        )
        click.echo(f"  [{mark}] {sentence.text}{reason}")
    click.echo(click.style("Sources:", bold=True))
    for number, hit in enumerate(answer.sources, start=1):
        where = f"{hit.pack}:{hit.source}, chars {hit.start}-{hit.end}"
        click.echo(f"  [{number}] {hit.title} ({where})")


@cli.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check the model, embedding model, knowledge packs, policy, keyring and the last crash."""
    from desktop.core import logs
    from desktop.core.doctor import run_checks

    context = _context()
    checks = run_checks(context)
    if as_json:
        try:
            crash = logs.last_crash(context.paths)
        except (OSError, ValueError):
            crash = None  # the "last crash" check says why
        emit_json(
            {
                "ok": all(c.status != "error" for c in checks),
                "checks": [c.to_json() for c in checks],
                "last_crash": crash,
            }
        )
    else:
        for check in checks:
            click.echo(f"[{check.status.upper():7}] {check.name}: {check.message}")
            if check.fix and check.status != "ok":
                click.echo(f"          fix: {check.fix}")
    if any(c.status == "error" for c in checks):
        sys.exit(EXIT_USER_ERROR)


@cli.group(invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Show every effective setting and the layer it comes from."""
    if ctx.invoked_subcommand is not None:
        return
    context = _context()
    for item in context.settings.effective():
        lock = " (locked by policy)" if item.locked else ""
        click.echo(f"{item.setting.key} = {json.dumps(item.value)}  [{item.source}]{lock}")


@config.command("set")
@click.argument("key")
@click.argument("value")
@user_errors
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in your user settings."""
    context = _context()
    stored = context.settings.set(key, value)
    context.settings.save()
    click.echo(f"{key} = {json.dumps(stored)}")


@config.command("reset")
@click.argument("key")
@user_errors
def config_reset(key: str) -> None:
    """Remove your own value for KEY (back to the default or the policy value)."""
    context = _context()
    context.settings.reset(key)
    context.settings.save()
    click.echo(f"{key} = {json.dumps(context.settings.get(key))}")


@cli.group()
def index() -> None:
    """Manage the built-in demo knowledge pack."""


@index.command("rebuild")
@user_errors
def index_rebuild() -> None:
    """Build the demo knowledge pack from the bundled demo articles."""
    context = _context()
    report = context.build_demo_pack()
    click.echo(
        f"Built {report.documents} documents into {report.chunks} passages "
        f"in {report.seconds:.1f} s at {context.demo_pack_dir}"
    )
    for source, reason in report.skipped:
        click.echo(f"  skipped {source}: {reason}")


@cli.command("listen")
@click.option(
    "--text",
    "conversation",
    type=text_file,
    default=None,
    help="The conversation as text (Customer: / Agent: lines, or unlabelled text).",
)
@click.option(
    "--audio",
    type=click.Path(path_type=Path),
    default=None,
    help="Or the call's audio (WAV; stereo: agent left, customer right), transcribed first.",
)
@pack_option
@json_option
@user_errors
def listen_command(
    conversation: Any, audio: Path | None, packs: tuple[Path, ...], as_json: bool
) -> None:
    """Per customer turn: the need, the suggested articles and any route to a person, as the
    window's listen panel works them out."""
    from desktop.core import listen
    from desktop.core.conversation import turns
    from desktop.core.errors import UserError

    if (conversation is None) == (audio is None):
        raise UserError("Give the conversation as --text FILE or as --audio FILE (one of them).")
    context = _context(packs)
    if audio is None:
        text = conversation.read()
    else:
        # As in the window: Whisper is told the packs' words (product and topic names).
        from desktop.core.speech import vocabulary

        _ensure_demo(context)
        text = _transcript(audio, hotwords=vocabulary.hotwords(context.packs())).conversation()
    steps = listen.customer_prefixes(text)
    if not steps:
        raise UserError(
            "The conversation has no customer turns.",
            "Give a text file with lines such as 'Customer: my parcel has not arrived'.",
        )
    context.preload()
    _ensure_demo(context)
    results = [
        {"turn": n, "text": turns(step)[-1].text, **listen.suggest(context, step).to_json()}
        for n, step in enumerate(steps, start=1)
    ]
    _warn_pack_problems(context)
    if as_json:
        emit_json(results)
        return
    for result in results:
        click.echo(click.style(f"Turn {result['turn']}: {result['text'][:100]}", bold=True))
        click.echo(f"  Need: {result['need']}")
        for article in result["articles"]:
            click.echo(
                f"  [{article['n']}] {article['title']}  ({article['pack']}:{article['source']})"
            )
        route = result["route"]
        if route:
            click.echo(click.style(f"  ROUTE TO A PERSON: {route['label']}", fg="red", bold=True))
            click.echo(f"    Why: {route['reason']}")


@cli.command("transcribe")
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@user_errors
def transcribe_command(audio: tuple[Path, ...], as_json: bool) -> None:
    """Transcribe a call on this PC: one WAV (stereo: agent left, customer right; mono: the
    customer) or two mono files (agent's, customer's). Nothing is sent anywhere or kept."""
    transcript = _transcript(*audio)
    if as_json:
        emit_json(transcript.to_json())
        return
    for turn in transcript.to_json()["turns"]:
        click.echo(f"[{turn['start']:7.1f}s] {turn['speaker'].capitalize()}: {turn['text']}")


def _transcript(*audio: Path, hotwords: str = "") -> Any:
    """The call in *audio* transcribed (a CallTranscript), unless IT locked listening off;
    *hotwords*: the words Whisper is told to expect (see desktop.core.speech.vocabulary)."""
    from desktop.core.errors import UserError
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings
    from desktop.core.speech.audio import FileSource
    from desktop.core.speech.live import CallTranscript, Final, listen
    from desktop.core.speech.whisper import Speech

    settings = Settings.load(Paths.from_env())
    if settings.is_locked("listen.audio") and not settings.get("listen.audio"):
        raise UserError("Listening to call audio is turned off by your IT department.")
    transcript = CallTranscript()
    speech = Speech.default()
    speech.hotwords = hotwords
    if hotwords:
        logging.getLogger(__name__).info(
            "Whisper listens for %d characters of the packs' words", len(hotwords)
        )
    for event in listen(FileSource(*audio), speech, partials=False):
        if isinstance(event, Final):
            transcript.add(event)
    return transcript


cli.add_command(pack)
for command in (pack_publish, pack_retire, pack_rollback):
    pack.add_command(command)
cli.add_command(repo)
cli.add_command(sync)
cli.add_command(policy)
cli.add_command(redact)
cli.add_command(audit)
cli.add_command(report)


def _start_log() -> None:
    """The bug tier for every command: the file log and the crash hooks (no dialog here)."""
    from desktop.core import logs
    from desktop.core.paths import Paths
    from desktop.core.settings import Settings

    # Defaults only (no customer text): Settings.load moves a broken settings file aside, and
    # _context() must be the one to report that. It applies the user's log setting.
    paths = Paths.from_env()
    logs.setup(paths, Settings(paths))
    logs.install_hooks(paths)


def main() -> None:
    _start_log()
    cli(prog_name="deskmate")


if __name__ == "__main__":
    main()
