"""Extractive drafts composed for the question, from the retrieved passages' own sentences.

Every sentence of every passage is scored against the question: the cosine similarity of their
embeddings (the sentence read under its passage's heading) plus the share of the question's content
words it contains. The draft starts with the answering sentences of the article that the search and
the sentence scores rank best together (the best sentence and those nearly as good, in the
passage's order). A sentence inside a numbered or bulleted procedure brings the whole procedure, in
order. A FAQ's question brings its answer. A sentence introducing code ("Log off a user:" and the
command under it) brings the code, kept line for line. A sentence from another passage is added
only when it is about as relevant as the best one (``OTHER_MARGIN``), so the draft does not drift
to other topics. Each sentence cites its own source, and only cited sources are returned,
renumbered.

The margins and weights were chosen on the ``tune`` half of
``benchmarks/data/helpcentre_questions.jsonl`` (``benchmarks/grounding.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import takewhile

import numpy as np
import numpy.typing as npt

from desktop.core import answerable
from desktop.core import text as sentences
from desktop.core.errors import KnowledgeError
from desktop.core.generation import prompts, verify
from desktop.core.knowledge.index import Hit

Embed = Callable[[list[str]], npt.NDArray[np.float32]]

LEXICAL_WEIGHT = 0.15  # weight of the question-word share beside the embedding similarity
SAME_MARGIN = 0.3  # a sentence of the best article this close to the best one is kept
OTHER_MARGIN = 0.06  # ... a sentence of another passage only this close
MAX_SENTENCES = 5
MAX_STEPS = 12  # steps of a numbered procedure a draft keeps (most articles' are whole)
MAX_LIST_LINES = 10  # lines of any other list (a list of countries is not a procedure)
MAX_PROCEDURE_LINES = 16  # beyond this, a procedure's notes and nested items are left out
MAX_CODE_LINES = 8  # code lines a step brings: a command and a little of its output
# What a question may ask for that picks its lead article when the search's first does not state
# it. Numbers and dates are not among them: their patterns match any digit or duration.
LEAD_KINDS = frozenset({"a price", "a recommendation"})
ARTICLE_PASSAGES = 3  # passages of the lead article a draft reads (the search's and more)
MAX_PROCEDURE_CHARS = 4000  # a passage is widened to the whole procedure it cuts up to this

_NUMBERED = re.compile(r"(\d{1,2})[.)]\s")
# Inline Markdown an article's sentences carry, which a reply to a customer must not: images,
# links (a web address is kept in brackets, a link within the site only as its text), bold, a
# quote's "> " and site-generator markup ({:target="_blank"}).
_QUOTE = re.compile(r"^(?:>\s*)+")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # "\_" is "_" to a Markdown reader
_CODE_SPAN = re.compile(r"(`+)[^`]*?\1")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]*)[^)\n]*\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")

_END = re.compile(r"[.!?][\"'”’)\]]*(?:\s*\[\d+\])*\s*$")


@dataclass
class Piece:
    """One sentence of a passage, where it sits, and how well it answers the question."""

    passage: int  # index into the hits
    article: str  # the hit's document: passages of one article count as one
    line: int  # line of the passage it is on
    item: bool  # on a list item line ("1. ...", "- ...", "Step 2: ...")
    text: str
    score: float = 0.0
    code: bool = False  # a line of code (a command, its output): never split or reworded
    indent: int = 0  # the line's indent: a nested item is indented more than its step
    leads_to_code: bool = False  # ends with ":" and code follows: the code is what it says

    @property
    def candidate(self) -> bool:
        """Could stand alone in a reply: not a heading, a lead-in ("Do this:") or a marker."""
        body = plain_inline(verify.strip_list_marker(self.text))
        if self.code or body == prompts.REMOVED or not re.search(r"[A-Za-z]{2}", body):
            return False
        if body.endswith(":") and not self.leads_to_code:
            return False
        if not self.item and not _END.search(body) and len(body.split()) < 8:
            return False  # a heading
        return len(verify.content_words(body)) >= 2


def whole_procedures(hit: Hit, read: Callable[[Hit], str]) -> Hit:
    """*hit* widened, in its article's text (*read*), to the whole numbered procedure it starts
    or ends inside: a passage that starts at step 8 gets steps 1 to 7, one that ends at step 6
    gets the steps after it, so that a draft keeps a procedure whole. Up to
    MAX_PROCEDURE_CHARS; *hit* itself when it cuts no procedure or the article cannot be read
    (it is only read when the passage starts or ends on a step or an indented line)."""
    body = hit.text.strip("\n").split("\n")
    ends = (body[0], body[-1])
    if not any(_NUMBERED.match(line) or _continues(line) for line in ends):
        return hit
    try:
        document = read(hit)
    except (KnowledgeError, OSError, UnicodeDecodeError):
        return hit
    if document[hit.start : hit.end] != hit.text:
        return hit
    lines = sentences.line_offsets(document)
    starts = [o for o, _ in lines]
    first = bisect_right(starts, hit.start + len(hit.text) - len(hit.text.lstrip())) - 1
    last = bisect_right(starts, hit.start + len(hit.text.rstrip()) - 1) - 1
    start, end = hit.start, hit.end
    step = _NUMBERED.match(lines[first][1])
    if (step and int(step.group(1)) > 1) or _continues(lines[first][1]):
        top = _list_edge(lines, first, -1)
        if top is not None and end - lines[top][0] <= MAX_PROCEDURE_CHARS:
            start = lines[top][0]
    if _NUMBERED.match(lines[last][1]) or _continues(lines[last][1]):
        bottom = _list_edge(lines, last, 1)
        if bottom is not None:
            stop = lines[bottom][0] + len(lines[bottom][1])
            if stop - start <= MAX_PROCEDURE_CHARS:
                end = max(end, stop)
    if (start, end) == (hit.start, hit.end):
        return hit
    return replace(hit, start=start, end=end, text=document[start:end])


def _continues(line: str) -> bool:
    """An indented line: a step's wrapped text, a nested item or its code, inside a list."""
    return bool(line.strip()) and line[:1] in (" ", "\t")


def _list_edge(lines: list[tuple[int, str]], at: int, direction: int) -> int | None:
    """From line *at* of a numbered list, the list's first step's line (*direction* -1) or its
    last non-blank line (+1); None when no step lies that way. Blank and indented lines belong
    to the list; a line at the margin that is not a step ends it, and so does a "1." going
    forward (another list)."""
    found = None
    number = at + direction
    while 0 <= number < len(lines):
        line = lines[number][1]
        step = _NUMBERED.match(line)
        if step:
            if direction > 0 and int(step.group(1)) == 1:
                break
            found = number
            if direction < 0 and int(step.group(1)) == 1:
                break
        elif line.strip() and not _continues(line):
            break
        elif line.strip() and direction > 0:
            found = number
        number += direction
    return found


def _merged(hits: list[Hit]) -> list[Hit]:
    """*hits* with the passages of one document that overlap joined into the first of them, so
    that no sentence is drafted twice (a passage widened to its procedure may hold another)."""
    out: list[Hit] = []
    for hit in hits:
        for n, kept in enumerate(out):
            same = (kept.pack, kept.source) == (hit.pack, hit.source)
            if not same or not (hit.start < kept.end and kept.start < hit.end):
                continue
            lo, hi = sorted((kept, hit), key=lambda h: (h.start, -h.end))
            shared = lo.text[hi.start - lo.start :]
            if not (hi.text.startswith(shared) or shared.startswith(hi.text)):
                continue  # not one document's text at those offsets: keep both
            text = lo.text if lo.end >= hi.end else lo.text[: hi.start - lo.start] + hi.text
            out[n] = replace(kept, start=lo.start, end=max(lo.end, hi.end), text=text)
            break
        else:
            out.append(hit)
    return out


def pieces(passage: str, index: int, article: str = "") -> list[Piece]:
    """The sentences of *passage*, each with its line and whether that line is a list item."""
    found: list[Piece] = []
    text = sentences.unwrap(passage)
    code = sentences.code_lines(text)
    for number, line in enumerate(text.splitlines()):
        if number in code:
            if line.strip() and not line.lstrip().startswith("```"):
                found.append(Piece(index, article, number, False, line.strip(), code=True))
                if found[-2:-1] and not found[-2].code and found[-2].text.rstrip().endswith(":"):
                    found[-2].leads_to_code = True
            continue
        item = bool(sentences.LIST_ITEM.match(line))
        indent = sentences.indent_of(line)
        for sentence in sentences.split_sentences(line):
            found.append(Piece(index, article, number, item, sentence, indent=indent))
    return found


def with_code(found: list[Piece], unit: list[Piece]) -> list[Piece]:
    """*unit* and, after each of its pieces that introduces code, the code lines under it."""
    out: list[Piece] = []
    for piece in unit:
        out.append(piece)
        if piece.leads_to_code:
            after = found[found.index(piece) + 1 :]
            out += [p for p in takewhile(lambda p: p.code, after[:MAX_CODE_LINES]) if p not in unit]
    return out


def score(
    question: str, found: list[Piece], embed: Embed | None, headings: Sequence[str] = ()
) -> None:
    """Set each piece's score: meaning similarity to the question plus shared question words.

    A sentence is embedded under its passage's heading (*headings*, by passage index): "Not at
    this time." answers "Can I pay for more?" only under the heading that asks it.
    """
    asked = {verify.stem(w) for w in verify.content_words(question)}
    texts = [verify.strip_list_marker(p.text) for p in found]
    similarity = np.zeros(len(found), dtype=np.float32)
    if embed is not None and found:
        shown = [
            f"{headings[p.passage]}: {text}"
            if p.passage < len(headings) and headings[p.passage]
            else text
            for p, text in zip(found, texts, strict=True)
        ]
        vectors = embed([question, *shown])
        similarity = vectors[1:] @ vectors[0]
    for piece, body, similar in zip(found, texts, similarity, strict=True):
        words = {verify.stem(w) for w in verify.content_words(body)}
        share = len(asked & words) / len(asked) if asked else 0.0
        piece.score = float(similar) + LEXICAL_WEIGHT * share


def procedure(found: list[Piece], at: Piece) -> list[Piece]:
    """The list *at* is an item of, around *at*; just *at* when it is not on a list item.

    A list is its passage's consecutive item lines and the indented lines among them (a step's
    note, a nested item). A numbered procedure is kept whole up to MAX_STEPS of its steps (its
    notes and nested items go with their step); any other list, MAX_LIST_LINES lines of it.
    """
    if not at.item:
        return with_code(found, [at])
    same = [p for p in found if p.passage == at.passage]
    lines = sorted({p.line for p in same if not p.code})
    item_lines = {p.line for p in same if p.item}
    indent = {p.line: p.indent for p in same}
    inside = item_lines | {line for line in lines if indent[line] > 0}
    position = lines.index(at.line)
    first = last = position
    while first > 0 and lines[first - 1] in inside:
        first -= 1
    while last + 1 < len(lines) and lines[last + 1] in inside:
        last += 1
    while lines[first] not in item_lines:  # a passage that starts inside a step's note
        first += 1
    run = lines[first : last + 1]
    margin = min(indent[line] for line in run if line in item_lines)
    steps = [line for line in run if line in item_lines and indent[line] == margin]
    heads: dict[int, str] = {}
    for piece in same:
        heads.setdefault(piece.line, piece.text)  # a line's first sentence holds its marker
    numbered = all(_NUMBERED.match(heads[line].lstrip()) for line in steps)
    units, limit = (
        (steps, MAX_STEPS) if numbered else (sorted(item_lines & set(run)), MAX_LIST_LINES)
    )
    mine = max(n for n, line in enumerate(units) if line <= at.line or n == 0)
    begin = max(0, min(mine - limit // 2, len(units) - limit))
    low = units[begin]
    high = units[begin + limit] if begin + limit < len(units) else run[-1] + 1
    kept = {line for line in run if low <= line < high}
    if len(kept) > MAX_PROCEDURE_LINES:  # notes and nested items galore: the steps, and *at*
        kept = {line for line in kept if line in units or line == at.line}
    return with_code(found, [p for p in same if p.line in kept and not p.code])


def answer_to(found: list[Piece], question: Piece) -> list[Piece]:
    """A FAQ's question ("Can I pay for more?") stands for the sentences answering it."""
    same = [p for p in found if p.passage == question.passage]
    after = same[same.index(question) + 1 :]
    answer = []
    for piece in after[:2]:
        if piece.text.rstrip().endswith("?") or piece.item != question.item:
            break
        answer.append(piece)
    return answer


def choose(
    found: list[Piece],
    lead: str = "",
    asked: frozenset[str] = frozenset(),
    words: dict[str, set[str]] | None = None,
) -> list[Piece]:
    """The pieces of the draft, in draft order, starting with the *lead* article's (when it has
    a candidate; else the article of the best sentence).

    Pieces are taken best first; the first one that falls outside its margin ends the draft, so
    a weaker sentence of another article also closes the best article's list (choosing on the
    tune half, this kept citation precision higher than skipping it and carrying on). A sentence
    of another article is cited only when it holds one of the question's words (*asked*,
    stemmed) that the lead article's passages (*words*, by article: their stemmed words with
    title and heading) never use: otherwise the lead article already says what it is about, and
    the other sentence is another article's take on another topic.
    """
    ranked = sorted((p for p in found if p.candidate), key=lambda p: -p.score)
    if not ranked:
        return []
    # The lead article's pieces are taken first: its best one sets the margins.
    ranked.sort(key=lambda p: p.article != lead)
    best = ranked[0]
    covered = (words or {}).get(best.article) or {
        w for p in found if p.article == best.article for w in _stems(p.text)
    }
    chosen: list[Piece] = []
    units = 0
    for piece in ranked:
        margin = SAME_MARGIN if piece.article == best.article else OTHER_MARGIN
        if piece.score < best.score - margin or units >= MAX_SENTENCES:
            break
        if piece in chosen or (piece.article != best.article and not _adds(piece, asked, covered)):
            continue
        unit = procedure(found, piece)
        if piece.text.rstrip().endswith("?") and len(unit) == 1:
            unit = answer_to(found, piece)
        fresh = [p for p in unit if p not in chosen]
        if fresh:
            chosen += fresh
            units += 1 if len(unit) == 1 else MAX_SENTENCES // 2
    order = [p.passage for p in ranked if p.article == best.article]
    order += [p.passage for p in ranked if p.article != best.article]
    rank = {passage: n for n, passage in enumerate(dict.fromkeys(order))}
    return sorted(chosen, key=lambda p: (rank[p.passage], found.index(p)))


def _stems(text: str) -> set[str]:
    return {verify.stem(w) for w in verify.content_words(verify.strip_list_marker(text))}


def _adds(piece: Piece, asked: frozenset[str], covered: set[str]) -> bool:
    """Whether *piece* holds a question word the lead article does not (see :func:`choose`)."""
    return bool((_stems(piece.text) & asked) - covered)


def _article_words(hits: Sequence[Hit]) -> dict[str, set[str]]:
    """Each article's (``pack/source``) stemmed words: its passages' titles, headings, texts."""
    words: dict[str, set[str]] = {}
    for hit in hits:
        key = f"{hit.pack}/{hit.source}"
        words[key] = words.get(key, set()) | _stems(f"{hit.title}. {hit.heading}. {hit.text}")
    return words


def _more_of(
    lead: str, hits: Sequence[Hit], article: Callable[[Hit], list[Hit]] | None
) -> list[Hit]:
    """The lead article's passages *article* finds that *hits* do not already hold."""
    first = next((hit for hit in hits if f"{hit.pack}/{hit.source}" == lead), None)
    if first is None or article is None:
        return []
    held = {(hit.pack, hit.source, hit.start, hit.end) for hit in hits}
    return [h for h in article(first) if (h.pack, h.source, h.start, h.end) not in held]


def lead_article(question: str, hits: Sequence[Hit], words: dict[str, set[str]]) -> str:
    """The article (``pack/source``) a draft starts with: the search's first that uses one of the
    question's words (*words*: each article's stemmed words), as the search ranks whole passages
    by meaning and by the question's telling words; but when the question asks for a price or a
    recommendation that this article does not state, the best-ranked article that states one
    (``answerable.asked_for``): a passage that says what to do answers "should I restart or
    reset it?" better than the reset procedure the search put first."""
    asked = _stems(question)
    articles = list(dict.fromkeys(f"{hit.pack}/{hit.source}" for hit in hits))
    if not articles:
        return ""
    lead = next((a for a in articles if words[a] & asked), articles[0])
    kinds = set(answerable.asked_for(question)) & LEAD_KINDS
    for article in [lead, *(a for a in articles if a != lead)] if kinds else ():
        passages = [hit for hit in hits if f"{hit.pack}/{hit.source}" == article]
        if kinds & answerable.stated(passages, len(passages)):
            return article
    return lead


def extractive(
    question: str,
    hits: Sequence[Hit],
    embed: Embed | None = None,
    lead: str = "",
    article: Callable[[Hit], list[Hit]] | None = None,
) -> tuple[str, list[Hit]]:
    """A draft of the sources' own sentences answering *question*, and the sources it cites;
    the *lead* article's (``pack/source``) sentences first.

    *article*, given a passage, returns more passages of its article (best for the question
    first): the lead article is then read in those passages too, not only in the ones the search
    ranked among *hits*.
    """
    given = list(hits)
    # Without an embedding model (hits a caller put together, not the search's ranking), the
    # shared words alone choose the article.
    if not lead and embed is not None:
        lead = lead_article(question, hits, _article_words(hits))
    hits = _merged([*hits, *_more_of(lead, hits, article)])
    found = [
        piece
        for index, hit in enumerate(hits)
        for piece in pieces(prompts.passage(hit), index, f"{hit.pack}/{hit.source}")
    ]
    score(question, found, embed, [hit.heading for hit in hits])
    chosen = choose(found, lead, frozenset(_stems(question)), _article_words(hits))
    # The lead article first, as chosen; an article's passages in the article's own order, so a
    # procedure split across two passages reads from its first step.
    articles = list(dict.fromkeys(p.article for p in chosen))
    chosen.sort(key=lambda p: (articles.index(p.article), hits[p.passage].start))
    # Markdown aside (a wrapped line joined by unwrap keeps the next line's indent: one space
    # for it).
    bodies = {id(p): plain_inline(verify.strip_list_marker(p.text)) for p in chosen if not p.code}
    # Markup left alone after a sentence ('{:target="_blank"}') is not a sentence to draft.
    chosen = [p for p in chosen if p.code or bodies[id(p)]]
    if not chosen:
        return "", given
    cited = list(dict.fromkeys(p.passage for p in chosen))
    lines = []
    last_step: tuple[int, int, int] | None = None  # passage, indent and number of the last step
    for piece in chosen:
        number = cited.index(piece.passage) + 1
        if piece.code:
            lines.append((piece, f"    {piece.text} [{number}]"))
            continue
        body = bodies[id(piece)]
        marker = sentences.LIST_ITEM.match(piece.text) if piece.item else None
        step = _NUMBERED.match(marker.group(0).strip() + " ") if marker else None
        if step:  # "1." for every step, as Markdown allows, is drafted 1, 2, 3 as it shows
            n = int(step.group(1))
            if last_step and last_step[:2] == (piece.passage, piece.indent) and n <= last_step[2]:
                n = last_step[2] + 1
            last_step = (piece.passage, piece.indent, n)
            body = f"{n}{step.group(0).strip()[-1]} {body}"
        elif marker:  # "-   Visit" -> "- Visit"
            body = f"{marker.group(0).strip()} {body}"
        elif not piece.item and piece.indent == 0:
            last_step = None  # a paragraph at the margin ends the list
        lines.append((piece, f"{body} [{number}]"))
    return _layout(lines), [hits[i] for i in cited]


def plain_inline(sentence: str) -> str:
    """*sentence* as a customer may read it: without images and bold marks, a link as its text
    and, for an address on the web, the address in brackets ("Cloud Control Panel
    (https://login.rackspace.com)"). Code marks stay: a command is quoted as the article did."""

    def link(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if not target.startswith(("http://", "https://")) or target in text:
            return text
        return f"{text} ({target})"

    sentence = _LINK.sub(link, _IMAGE.sub("", sentences.SITE_MARKUP.sub("", sentence)))
    sentence = _BOLD.sub(r"\2", _QUOTE.sub("", sentence.strip()))
    # Backslash escapes are read outside code spans only (inside, a backslash is the code's).
    parts, cursor = [], 0
    for span in _CODE_SPAN.finditer(sentence):
        parts += [_ESCAPED.sub(r"\1", sentence[cursor : span.start()]), span.group(0)]
        cursor = span.end()
    parts.append(_ESCAPED.sub(r"\1", sentence[cursor:]))
    return " ".join("".join(parts).split())


def _layout(lines: list[tuple[Piece, str]]) -> str:
    """Prose sentences run on; list items and code lines each start a line of their own."""
    out = ""
    previous: Piece | None = None
    for piece, line in lines:
        if previous is None:
            out = line
        elif piece.code or previous.code:
            out += "\n" + line
        elif piece.item or previous.item:
            same_line = previous.line == piece.line and previous.passage == piece.passage
            out += (" " if same_line else "\n") + line
        else:
            out += " " + line
        previous = piece
    return out
