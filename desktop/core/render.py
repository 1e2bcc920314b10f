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

if TYPE_CHECKING:
    from desktop.core.assist import Answer
    from desktop.core.context import PackProblem
    from desktop.core.knowledge.index import Hit, Pack

HIGHLIGHT = "#fff2a8"
PASSAGE_ANCHOR = "passage"
NOT_SENSITIVE = "notsensitive"  # the link scheme of "Not a sensitive case: continue"
# Marked sentences keep black text so they stay readable in a dark theme too.
VERDICT_STYLE = {
    "supported": "",
    "unsupported": "background-color:#ffc9c9; color:#000000; text-decoration:underline;",
    "no_citation": "background-color:#ffe9a8; color:#000000;",
}
# Links on those light backgrounds: the theme's link colour is light blue in a dark theme.
LINK_ON_LIGHT = "#0842a0"
VERDICT_LABEL = {
    "unsupported": "Not supported by its source",
    "no_citation": "No citation",
}
_CITE = re.compile(r"\[(\d+)\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line) for every line of *text*, newline excluded."""
    out, offset = [], 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def _marked(line: str, offset: int, start: int, end: int) -> str:
    """*line* escaped, with the part inside [start, end) highlighted."""
    lo, hi = max(start, offset) - offset, min(end, offset + len(line)) - offset
    if hi <= lo:
        return html.escape(line)
    return (
        html.escape(line[:lo])
        + f'<span style="background-color:{HIGHLIGHT}; color:#000000;">'
        + html.escape(line[lo:hi])
        + "</span>"
        + html.escape(line[hi:])
    )


def document_html(
    text: str,
    headings: Sequence[tuple[int, str, int]] = (),
    start: int = 0,
    end: int = 0,
    pages: Sequence[tuple[int, int]] = (),
) -> str:
    """*text* as readable HTML with [start, end) highlighted and an anchor where it starts.

    *headings* are (level, text, offset) and *pages* (offset, page number), as a pack stores them.
    """
    heading_at = {offset: level for level, _, offset in headings}
    page_at = {offset: number for offset, number in pages}
    parts: list[str] = []
    anchored = end <= start
    in_list = False
    for offset, line in _lines(text):
        if offset in page_at:
            parts.append(f"<p><i>— Page {page_at[offset]} —</i></p>")  # theme's own text colour
        if not anchored and offset + len(line) >= start:
            parts.append(f'<a name="{PASSAGE_ANCHOR}"></a>')
            anchored = True
        bullet = _BULLET.match(line)
        if in_list and not bullet:
            parts.append("</ul>")
            in_list = False
        if not line.strip():
            continue
        body = _marked(line, offset, start, end)
        if offset in heading_at:
            level = min(6, max(2, heading_at[offset] + 1))
            parts.append(f"<h{level}>{body}</h{level}>")
        elif bullet:
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{_marked(line, offset, start, end)}</li>")
        else:
            parts.append(f"<p>{body}</p>")
    if in_list:
        parts.append("</ul>")
    return "".join(parts)


def _cite_links(text: str, on_light: bool = False) -> str:
    style = f' style="color:{LINK_ON_LIGHT};"' if on_light else ""
    return _CITE.sub(lambda m: f'<a href="cite:{m.group(1)}"{style}>[{m.group(1)}]</a>', text)


def _sentence_html(text: str, sentence: verify.Sentence) -> str:
    style = VERDICT_STYLE.get(sentence.verdict, "")
    body = _cite_links(html.escape(text), on_light=bool(style))
    if not style:
        return body
    tip = html.escape(f"{VERDICT_LABEL.get(sentence.verdict, sentence.verdict)}: {sentence.reason}")
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
            f"<p><b>Why:</b> {route['reason']}</p>"
            f"<p><b>Company rule:</b> {route['rule']}</p>"
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
    parts = []
    if answer.notice:
        parts.append(f"<p><i>{html.escape(answer.notice)}</i></p>")
    if answer.mode == "extractive":
        parts.append("<p><i>Extractive draft: built from the sources' own sentences.</i></p>")
    if answer.stopped:
        parts.append("<p><i>Stopped: the draft is incomplete.</i></p>")
    parts.append(draft_html(answer.draft, answer.sentences))
    flagged = [s for s in answer.sentences if s.verdict != "supported"]
    if flagged:
        items = "".join(
            f"<li>{html.escape(s.text[:80])} — {html.escape(s.reason)}</li>" for s in flagged
        )
        heading = f"Check before sending ({len(flagged)} flagged):"
        parts.append(f"<p><b>{heading}</b></p><ul>{items}</ul>")
    parts.append(sources_html(answer.sources))
    return "".join(parts)


def sources_html(sources: Sequence[Hit]) -> str:
    items = "".join(
        f'<li><a href="cite:{n}">[{n}]</a> {html.escape(h.title)}</li>'
        for n, h in enumerate(sources, start=1)
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
        titles = "\n".join(f"[{n}] {plain(h.title)}" for n, h in enumerate(answer.sources, start=1))
        text += "\n\nSources:\n" + titles
    return text


def copy_warning(answer: Answer) -> str:
    """Why copying *answer* needs a second look ("" when every sentence is supported and the
    draft is complete): flagged sentences, and a draft that was stopped or ran out of time."""
    why = []
    flagged = sum(s.verdict != "supported" for s in answer.sentences)
    if flagged:
        why.append(f"{flagged} of its {len(answer.sentences)} sentences are not verified")
    if answer.stopped:
        why.append("it was stopped before it was finished")
    elif answer.limit:
        why.append("it was cut short (time limit or repetition)")
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


def snippet_html(text: str, query: str, length: int = 180) -> str:
    """A short snippet of *text* around the query's words, with those words in bold."""
    flat = " ".join(text.split())
    words = [w for w in re.findall(r"\w{3,}", query.lower()) if w not in _STOP]
    lower = flat.lower()
    first = min((i for i in (lower.find(w) for w in words) if i >= 0), default=0)
    begin = max(0, first - length // 3)
    if begin:
        begin = flat.find(" ", begin) + 1 or begin
    piece = flat[begin : begin + length]
    out = html.escape(piece)
    if words:
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)
        out = pattern.sub(lambda m: f"<b>{m.group(1)}</b>", out)
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
