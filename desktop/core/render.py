"""HTML for the window's panes, built from core data: documents, answers and sources.

Qt renders the HTML; what goes into it is decided here so that it is tested without a display.
A document is rendered from the text the pack stores (headings, lists and paragraphs laid out
from its heading offsets), so the highlighted passage sits at exactly the offsets a search hit
carries, whatever the original format was.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.core.errors import UserError
from desktop.core.fileio import confined
from desktop.core.generation import verify
from desktop.core.text import LIST_ITEM, SITE_MARKUP, line_offsets, split_sentences

if TYPE_CHECKING:
    from desktop.core.assist import Answer
    from desktop.core.context import PackProblem
    from desktop.core.knowledge.index import Hit, Pack

HIGHLIGHT = "#fff2a8"
PASSAGE_ANCHOR = "passage"
NOT_SENSITIVE = "notsensitive"  # the link scheme of "Not a sensitive case: continue"
# Marked sentences keep black text so they stay readable in a dark theme too. "Check this" is
# blue, so that it is never mistaken for the yellow of the highlighted passage in the source.
VERDICT_STYLE = {
    "supported": "",
    "unsupported": "background-color:#ffc9c9; color:#000000; text-decoration:underline;",
    "no_citation": "background-color:#cfe3ff; color:#000000;",
}
# Links on those light backgrounds: the theme's link colour is light blue in a dark theme.
LINK_ON_LIGHT = "#0842a0"
VERDICT_LABEL = {
    "unsupported": "Not supported by its source",
    "no_citation": "Check this (no citation)",
}
STALE = (
    "This draft answers the previous question. Press Enter in the search box to draft a reply "
    "to the new one."
)
# A raw score in a reason ("(0.77)", "(similarity 0.42)"): for scripts, not for the agent.
_SCORE = re.compile(r"\s*\((?:similarity |relevance |score )?-?\d*\.\d+\)")
_QUANT = re.compile(r"[.-](?:[QqFf]\d\w*|IQ\d\w*|BF16|bf16|fp16|fp32)$")
_RUN_TAGS = re.compile(r"\s+(?:\d+k|Lc\d+K|Mix\d+|Ep\d+|AWQ|GPTQ)\b", re.IGNORECASE)
_CITE = re.compile(r"\[(\d+)\]")
# A list line: its indent, and a typed bullet (dropped: the list draws its own) or a number
# (kept: steps are often numbered across paragraphs, so the list draws none).
_BULLET = re.compile(r"^(\s*)(?:[-*•+]\s+|(?=\d+[.)]\s))")
_CELL = re.compile(r"[^|]+")


def _highlighted(piece: str, offset: int, start: int, end: int) -> str:
    """*piece* escaped, with the part inside [start, end) highlighted."""
    lo, hi = max(start, offset) - offset, min(end, offset + len(piece)) - offset
    if hi <= lo:
        return html.escape(piece)
    return (
        html.escape(piece[:lo])
        + f'<span style="background-color:{HIGHLIGHT}; color:#000000;">'
        + html.escape(piece[lo:hi])
        + "</span>"
        + html.escape(piece[hi:])
    )


def _marked(line: str, offset: int, start: int, end: int) -> str:
    """*line* escaped, without site markup, with the part inside [start, end) highlighted
    (offsets stay those of the stored text, so the highlight lands where the passage is)."""
    out, position = [], 0
    for match in SITE_MARKUP.finditer(line):
        out.append(_highlighted(line[position : match.start()], offset + position, start, end))
        position = match.end()
    out.append(_highlighted(line[position:], offset + position, start, end))
    return "".join(out)


def _cells(offset: int, line: str) -> list[tuple[int, str]]:
    """A table row's cells as (offset, text), or [] when *line* is not a row ("a | b")."""
    if " | " not in line and not line.lstrip().startswith("|"):
        return []
    cells = []
    for match in _CELL.finditer(line):
        text = match.group(0)
        if text.strip():
            lead = len(text) - len(text.lstrip())
            cells.append((offset + match.start() + lead, text.strip()))
    return cells if len(cells) >= 2 else []


def _table_rows(lines: list[tuple[int, str]], at: int) -> list[list[tuple[int, str]]]:
    """The rows of the table starting at line *at*: 2+ consecutive rows with as many cells."""
    rows: list[list[tuple[int, str]]] = []
    for offset, line in lines[at:]:
        cells = _cells(offset, line)
        if not cells or (rows and len(cells) != len(rows[0])):
            break
        rows.append(cells)
    return rows if len(rows) >= 2 else []


def _table_html(rows: list[list[tuple[int, str]]], start: int, end: int) -> str:
    out = ['<table border="1" cellspacing="0" cellpadding="4">']
    for number, row in enumerate(rows):
        tag = "th" if number == 0 else "td"
        cells = "".join(f"<{tag}>{_marked(t, o, start, end)}</{tag}>" for o, t in row)
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</table>"


class _Lists:
    """Nested bulleted lists from indented list lines; a wrapped line continues its item."""

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts
        self.indents: list[int] = []

    def item(self, indent: int, body: str, numbered: bool = False) -> None:
        while self.indents and indent < self.indents[-1]:
            self.parts.append("</li></ul>")
            self.indents.pop()
        if self.indents and indent == self.indents[-1]:
            self.parts.append("</li>")
        else:
            self.parts.append('<ul style="list-style-type:none">' if numbered else "<ul>")
            self.indents.append(indent)
        self.parts.append(f"<li>{body}")

    def continues(self, line: str) -> bool:
        return bool(self.indents) and line[:1].isspace()

    def close(self) -> None:
        while self.indents:
            self.parts.append("</li></ul>")
            self.indents.pop()


def document_html(
    text: str,
    headings: Sequence[tuple[int, str, int]] = (),
    start: int = 0,
    end: int = 0,
    pages: Sequence[tuple[int, int]] = (),
) -> str:
    """*text* as readable HTML with [start, end) highlighted and an anchor where it starts:
    headings, (nested) lists without their typed markers, tables ("a | b" rows) as tables, and
    site markup left out.

    *headings* are (level, text, offset) and *pages* (offset, page number), as a pack stores them.
    """
    heading_at = {offset: level for level, _, offset in headings}
    page_at = {offset: number for offset, number in pages}
    lines = line_offsets(text)
    parts: list[str] = []
    lists = _Lists(parts)
    anchored = end <= start
    at = 0
    while at < len(lines):
        offset, line = lines[at]
        rows = [] if offset in heading_at else _table_rows(lines, at)
        taken = len(rows) or 1
        last_offset, last_line = lines[at + taken - 1]
        at += taken
        if offset in page_at:
            parts.append(f"<p><i>— Page {page_at[offset]} —</i></p>")  # theme's own text colour
        bullet = None if rows else _BULLET.match(line)
        if not bullet and not (lists.continues(line) and line.strip()):
            lists.close()
        if not anchored and last_offset + len(last_line) >= start:
            parts.append(f'<a name="{PASSAGE_ANCHOR}"></a>')
            anchored = True
        if rows:
            parts.append(_table_html(rows, start, end))
        elif not SITE_MARKUP.sub("", line).strip():
            continue
        elif offset in heading_at:
            level = min(6, max(2, heading_at[offset] + 1))
            parts.append(f"<h{level}>{_marked(line, offset, start, end)}</h{level}>")
        elif bullet:
            body = _marked(line[bullet.end() :], offset + bullet.end(), start, end)
            numbered = bullet.end() == len(bullet.group(1))
            lists.item(len(bullet.group(1).expandtabs()), body, numbered)
        elif line.startswith("> "):
            parts.append(f"<blockquote>{_marked(line[2:], offset + 2, start, end)}</blockquote>")
        elif lists.indents:
            indent = len(line) - len(line.lstrip())
            parts.append(" " + _marked(line.strip(), offset + indent, start, end))
        else:
            parts.append(f"<p>{_marked(line, offset, start, end)}</p>")
    lists.close()
    return "".join(parts)


def _cite_links(text: str, on_light: bool = False) -> str:
    style = f' style="color:{LINK_ON_LIGHT};"' if on_light else ""
    return _CITE.sub(lambda m: f'<a href="cite:{m.group(1)}"{style}>[{m.group(1)}]</a>', text)


def agent_text(text: str) -> str:
    """*text* for the agent: raw scores left out ("reads as fraud (0.77)" -> "reads as fraud")."""
    return _SCORE.sub("", text)


def rule_text(rule: str) -> str:
    """A company rule without its own "Rule:" label (the window labels it already)."""
    return re.sub(r"^\s*Rule:\s*", "", rule)


def model_label(name: str, path: Path) -> str:
    """A model's display name: its release file's name without the quantisation
    ("SmolLM2-135M-Instruct.Q4_1.gguf" -> "SmolLM2 135M Instruct"), else its own name without
    training-run tags ("Qwen2.5 Coder 0.5B Instruct AWQ" -> "Qwen2.5 Coder 0.5B Instruct")."""
    stem = path.stem
    if _QUANT.search(stem):
        return re.sub(r"[-_]+", " ", _QUANT.sub("", stem)).strip()
    return _RUN_TAGS.sub("", name).strip() or stem


def legend_html() -> str:
    """What the sentence marks mean, in the marks' own colours."""
    check, unsupported = VERDICT_STYLE["no_citation"], VERDICT_STYLE["unsupported"]
    return (
        "<p><small>Marks: plain text = supported by its source · "
        f'<span style="{check}">check this</span> = no source cited, check it · '
        f'<span style="{unsupported}">not supported</span> = its source does not say this, '
        "correct or remove it</small></p>"
    )


def stale_html(question: str) -> str:
    """The banner over a draft that answers the question before the current search."""
    return (
        '<p style="background-color:#e0e0e0; color:#000000;"><b>Previous question:</b> '
        f"“{html.escape(question[:120])}”. {html.escape(STALE)}</p>"
    )


def edited_html(text: str) -> str:
    """The agent's edited reply once they press Done (what Copy copies), over the draft."""
    body = html.escape(text).replace("\n", "<br>")
    return (
        '<p style="background-color:#e0e0e0; color:#000000;"><b>Edited by you.</b> Copy copies '
        "this text; Edit (Ctrl+E) changes it again. The draft as checked is below it.</p>"
        f"<p>{body}</p><hr>"
    )


def _sentence_html(text: str, sentence: verify.Sentence) -> str:
    style = VERDICT_STYLE.get(sentence.verdict, "")
    body = _cite_links(html.escape(text), on_light=bool(style))
    if not style:
        return body
    label = VERDICT_LABEL.get(sentence.verdict, sentence.verdict)
    tip = html.escape(f"{label}: {agent_text(sentence.reason)}")
    return f'<span style="{style}" title="{tip}">{body}</span>'


def draft_html(draft: str, sentences: Sequence[verify.Sentence | None]) -> str:
    """*draft* with the verdict of each sentence shown inline; None means not judged yet."""
    spans = verify.sentence_spans(draft)
    body, cursor = [], 0
    for index, (start, end) in enumerate(spans):
        sentence = sentences[index] if index < len(sentences) else None
        body.append(html.escape(draft[cursor:start]).replace("\n", "<br>"))
        if sentence is None:
            body.append(_cite_links(html.escape(draft[start:end])))
        else:
            body.append(_sentence_html(draft[start:end], sentence))
        cursor = end
    body.append(_cite_links(html.escape(draft[cursor:])).replace("\n", "<br>"))
    return "<p>" + "".join(body) + "</p>"


def answer_html(answer: Answer) -> str:
    """The finished answer: a verified draft, or why there is none and what to do instead."""
    if answer.status == "route_to_human":
        route = {k: html.escape(v) for k, v in answer.route.items()}
        article = (
            f'<p><b>Handling article:</b> <a href="cite:1" style="color:{LINK_ON_LIGHT};">'
            f"[1] {route['title']}</a></p>"
            if answer.sources
            else ""
        )
        return (
            '<div style="background-color:#fde2c8; color:#000000;">'
            f"<h3>Route to a person: {route['topic'].replace('_', ' ')}</h3>"
            "<p>Deskmate does not draft replies for this kind of case.</p>"
            f"<p><b>Why:</b> {agent_text(route['reason'])}</p>"
            f"<p><b>Company rule:</b> {rule_text(route['rule'])}</p>"
            f"{article}"
            f'<p><a href="{NOT_SENSITIVE}:{route["topic"]}" style="color:{LINK_ON_LIGHT};">'
            "Not a sensitive case: continue</a> (your choice is recorded)</p></div>"
        )
    if answer.status == "no_source":
        nearest = "".join(f"<li>{html.escape(h.title)}</li>" for h in answer.nearest)
        return (
            f"<h3>No approved source</h3><p><b>{html.escape(answer.draft)}</b></p>"
            "<p>Do not improvise an answer: check with a team lead or route the case.</p>"
            + (f"<p>Nearest articles (not relevant enough):</p><ul>{nearest}</ul>" * bool(nearest))
        )
    parts = [state_html(answer)]
    if answer.notice:
        parts.append(f"<p><i>{html.escape(answer.notice)}</i></p>")
    if answer.mode == "extractive":
        parts.append("<p><i>Extractive draft: built from the sources' own sentences.</i></p>")
    if answer.stopped:
        parts.append("<p><i>Stopped: the draft is incomplete.</i></p>")
    parts.append(draft_html(answer.draft, answer.sentences))
    if answer.sentences:
        parts.append(legend_html())
    flagged = [s for s in answer.sentences if s.verdict != "supported"]
    if flagged:
        items = "".join(
            f"<li>{html.escape(s.text[:80])} — {html.escape(agent_text(s.reason))}</li>"
            for s in flagged
        )
        heading = f"Check before sending ({len(flagged)} flagged):"
        parts.append(f"<p><b>{heading}</b></p><ul>{items}</ul>")
    parts.append(sources_html(answer.sources))
    return "".join(parts)


def by_article(sources: Sequence[Hit]) -> list[tuple[Hit, list[int]]]:
    """Each cited article once, with the citation numbers of its passages: a draft that reads
    two passages of one article lists it once ("[1] [3] Title"), not twice."""
    numbers: dict[tuple[str, str], tuple[Hit, list[int]]] = {}
    for n, hit in enumerate(sources, start=1):
        numbers.setdefault((hit.pack, hit.source), (hit, []))[1].append(n)
    return list(numbers.values())


def sources_html(sources: Sequence[Hit]) -> str:
    items = "".join(
        "<li>"
        + " ".join(f'<a href="cite:{n}">[{n}]</a>' for n in numbers)
        + f" {html.escape(hit.title)}</li>"
        for hit, numbers in by_article(sources)
    )
    return f"<p><b>Sources</b></p><ul>{items}</ul>"


_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")


def plain(text: str) -> str:
    """*text* with no markup: HTML tags and comments dropped (``</script>``), entities decoded,
    and any tag an entity spelled out dropped too; ordinary "<" and ">" in prose stay."""
    for _ in range(3):
        stripped = html.unescape(_TAG.sub("", text))
        if stripped == text:
            break
        text = stripped
    return _TAG.sub("", text)


def copy_text(answer: Answer, with_sources: bool = False) -> str:
    """What Copy puts on the clipboard: the draft as plain text (no markup reaches the
    customer), optionally with its sources."""
    text = plain(answer.draft).strip()
    if with_sources and answer.sources:
        titles = "\n".join(
            f"[{', '.join(map(str, numbers))}] {plain(hit.title)}"
            for hit, numbers in by_article(answer.sources)
        )
        text += "\n\nSources:\n" + titles
    return text


# The answer card's state, shown first (light backgrounds, black text: readable in both themes).
STATES = {
    "verified": ("#d7f0dd", "✔ Verified: every sentence is backed by its source. Ready to send."),
    "check": ("#fff0c2", "⚠ Check {n} before sending: {why}."),
    "unverified": ("#f8d0d0", "✖ Not verified: do not send it as it is. {why}."),
}


def answer_state(answer: Answer) -> tuple[str, str]:
    """(state, one line for the agent) of an answered draft: *verified* (every sentence
    supported, complete), *check* (some sentences flagged) or *unverified* (stopped, cut short,
    or no sentence verified)."""
    flagged = sum(s.verdict != "supported" for s in answer.sentences)
    cut = incomplete(answer)
    if cut or not answer.sentences or flagged == len(answer.sentences):
        why = cut.capitalize() or "No sentence is backed by an approved source"
        return "unverified", STATES["unverified"][1].format(why=why)
    if flagged:
        n = f"{flagged} sentence{'s' * (flagged > 1)}"
        why = f"{flagged} of its {len(answer.sentences)} sentences are marked below"
        return "check", STATES["check"][1].format(n=n, why=why)
    return "verified", STATES["verified"][1]


def state_html(answer: Answer) -> str:
    state, line = answer_state(answer)
    return (
        f'<p style="background-color:{STATES[state][0]}; color:#000000;">'
        f"<b>{html.escape(line)}</b></p>"
    )


def incomplete(answer: Answer) -> str:
    """Why *answer*'s draft is not complete, or "": stopped, or the model's own draft cut short
    (a draft of the sources' sentences that replaced it is complete)."""
    if answer.stopped:
        return "it was stopped before it was finished"
    if answer.limit and answer.mode == "model":
        return "it was cut short (time limit or repetition)"
    return ""


def copy_warning(answer: Answer) -> str:
    """Why copying *answer* needs a second look ("" when every sentence is supported and the
    draft is complete): flagged sentences, and a draft that was stopped or ran out of time."""
    why = []
    flagged = sum(s.verdict != "supported" for s in answer.sentences)
    if flagged:
        why.append(f"{flagged} of its {len(answer.sentences)} sentences are not verified")
    if incomplete(answer):
        why.append(incomplete(answer))
    return ("This draft needs checking: " + "; ".join(why) + ".") if why else ""


def original_file(source: str, roots: Sequence[Path]) -> Path | None:
    """The original file of *source*, if one of *roots* (tried in order) still has it.

    *source* comes from the pack: an absolute name, ``..`` or a symlink that leads out of its
    root is never returned (see :func:`original_refused`).
    """
    if ".." in Path(source).parts:
        return None
    for root in roots:
        candidate = confined(root / source, root)
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def original_refused(source: str, roots: Sequence[Path]) -> bool:
    """Whether a file for *source* exists in one of *roots* but leads out of it (refused)."""
    return original_file(source, roots) is None and any((root / source).is_file() for root in roots)


def _flat(text: str) -> str:
    """*text* on one line, without the list markers ("- ", "1. ") that begin its lines."""
    lines = (LIST_ITEM.sub("", line, count=1) for line in text.splitlines())
    return " ".join(" ".join(lines).split())


def _query_words(query: str) -> list[str]:
    return [w for w in re.findall(r"\w{3,}", query.lower()) if w not in _STOP]


def _bold_words(escaped: str, words: list[str]) -> str:
    if not words:
        return escaped
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)
    return pattern.sub(lambda m: f"<b>{m.group(1)}</b>", escaped)


def card_line_html(text: str, query: str, length: int = 120) -> str:
    """One line for a suggestion card: the sentence of *text* that shares most of the query's
    words (the first one on a tie), cut at a word before *length* characters, words in bold.

    A suggestion is read at a glance in the middle of a call, so it says one thing: the snippet
    of a search result, three lines from around the first match, is too long for that.
    """
    words = _query_words(query)
    sentences = [s for s in (_flat(s) for s in split_sentences(text)) if s] or [_flat(text)]
    stems = {w[:5] for w in words}  # "cracked" finds "cracks", "returns" finds "return"
    best = max(sentences, key=lambda s: sum(stem in s.lower() for stem in stems))
    cut = best
    if len(best) > length:
        cut = best[: best.rfind(" ", 0, length) if " " in best[:length] else length]
        cut = cut.rstrip(" ,;:-") + "…"
    return _bold_words(html.escape(cut), words)


def snippet_html(text: str, query: str, length: int = 180) -> str:
    """A short snippet of *text* around the query's words, with those words in bold."""
    flat = _flat(text)
    words = _query_words(query)
    lower = flat.lower()
    first = min((i for i in (lower.find(w) for w in words) if i >= 0), default=0)
    begin = max(0, first - length // 3)
    if begin:
        begin = flat.find(" ", begin) + 1 or begin
    piece = flat[begin : begin + length]
    out = _bold_words(html.escape(piece), words)
    prefix = "…" if begin else ""
    suffix = "…" if begin + length < len(flat) else ""
    return prefix + out + suffix


_STOP = frozenset(
    ("the", "and", "for", "you", "your", "are", "can", "how", "what", "with", "this", "that")
)


def problem_text(exc: Exception) -> str:
    """One line for the agent about *exc*: a user error as it is, anything else as a bug."""
    if isinstance(exc, UserError):
        return str(exc)
    return f"Something went wrong: {exc}"


def problem_html(exc: Exception) -> str:
    """*exc* for a pane: what happened in bold, then what to do."""
    if isinstance(exc, UserError):
        return f"<p><b>{html.escape(exc.message)}</b></p><p>{html.escape(exc.fix)}</p>"
    return (
        f"<p><b>Something went wrong:</b> {html.escape(str(exc))}</p>"
        "<p>Try again; if it keeps happening, run <code>deskmate doctor</code>.</p>"
    )


def packs_summary(packs: Sequence[Pack], problems: Sequence[PackProblem]) -> tuple[str, str]:
    """The packs in service and any left out (damaged, half installed), for the status bar, and
    what to do about those left out (its tooltip): ``(text, tip)``, both plain text."""
    text = "Knowledge: " + ", ".join(
        f"{pack.title} v{pack.version}" for pack in packs if pack.damage is None
    )
    if problems:
        text += " · not searched: " + ", ".join(problem.pack for problem in problems)
    return text, "\n".join(f"{p.pack}: {p.message} {p.fix}" for p in problems)


def source_details(pack: Pack, hit: Hit) -> str:
    """The line under a source's title, plain text: its pack and version, last update,
    category and page, as far as known."""
    meta = pack.document_meta(hit.source)
    details = [f"Pack: {pack.title} v{pack.version}"]
    if meta.get("updated"):
        details.append(f"last updated {meta['updated']}")
    if hit.category:
        details.append(f"category {hit.category}")
    if hit.page:
        details.append(f"page {hit.page}")
    return " · ".join(details)
