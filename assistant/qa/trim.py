"""Trim a retrieved clause to the 款 / 项 that bear on the question, so the prompt stays short.

What is kept is verbatim text of the clause, in its order; each omission is marked "……". Whole 款 and 项 are
kept (a chosen 项 brings its lead-in, e.g. "……并不得含有下列内容："); a sentence is cut only when the most
relevant 款 alone is over the budget. Relevance is lexical: how many of the query's character bigrams (and
ASCII words) a part contains. Deterministic, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comply.lawtext.numerals import ITEM_NUMERAL

GAP = "……"
MIN_CHARS = 20  # room for a short sentence between two omission marks
_PARAGRAPH = re.compile(r"[^\n]+")
_SENTENCE = re.compile(r"[^。；！？!?;]+[。；！？!?;]*")
_PHRASE = re.compile(r"[^，、：,:]+[，、：,:]*")
_ITEM = re.compile(rf"^\s*[（(]{ITEM_NUMERAL}[）)]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Part:
    """A span of text: a paragraph (款 or 项), or a sentence or phrase inside one."""

    start: int
    end: int
    lead: int | None = None  # for a 项: the index of its lead-in 款


def _grams(text: str) -> set[str]:
    text = text.lower()
    grams = {run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)}
    return grams | set(_ASCII_WORD.findall(text))


def _paragraphs(text: str) -> list[_Part]:
    parts: list[_Part] = []
    lead: int | None = None
    for m in _PARAGRAPH.finditer(text):
        if not m.group().strip():
            continue
        is_item = bool(_ITEM.match(m.group()))
        parts.append(_Part(m.start(), m.end(), lead if is_item else None))
        if not is_item:
            lead = len(parts) - 1
    return parts


def _scores(text: str, parts: list[_Part], query: set[str]) -> list[int]:
    """Query bigrams in each part; with no overlap anywhere (or no query) earlier parts rank first."""
    scores = [len(query & _grams(text[p.start : p.end])) for p in parts]
    return scores if any(scores) else list(range(len(parts), 0, -1))


def _render(text: str, parts: list[_Part], chosen: set[int], inline: bool) -> str:
    """The chosen parts in order: neighbours joined by the text between them, gaps by "……"."""
    gap = GAP if inline else f"\n{GAP}\n"
    order = sorted(chosen)
    out = [GAP if inline else f"{GAP}\n"] if order[0] > 0 else []
    for k, i in enumerate(order):
        if k:
            prev = order[k - 1]
            out.append(text[parts[prev].end : parts[i].start] if i == prev + 1 else gap)
        out.append(text[parts[i].start : parts[i].end])
    if order[-1] < len(parts) - 1:
        out.append(GAP if inline else f"\n{GAP}")
    return "".join(out)


def _select(text: str, parts: list[_Part], scores: list[int], max_chars: int, inline: bool) -> set[int]:
    """The best-scoring part (a 项 with its lead-in), then the next best while the result fits ``max_chars``;
    empty when even the best does not fit."""
    chosen: set[int] = set()
    for i in sorted(range(len(parts)), key=lambda i: (-scores[i], i)):
        if scores[i] <= 0:
            break
        wanted = chosen | {i} | ({parts[i].lead} if parts[i].lead is not None else set())
        if len(_render(text, parts, wanted, inline)) <= max_chars:
            chosen = wanted
        elif not chosen:
            return chosen
    return chosen


def _cut(body: str, query: set[str], max_chars: int, patterns: tuple[re.Pattern, ...] = (_SENTENCE, _PHRASE)) -> str:
    """One paragraph over the budget: its most relevant sentences; if even the best sentence is too long, its most
    relevant phrases; at last the best phrase cut short."""
    if len(body) <= max_chars:
        return body
    pieces = [_Part(m.start(), m.end()) for m in patterns[0].finditer(body)] if patterns else []
    if not pieces:
        return body[: max(0, max_chars - len(GAP))] + GAP
    scores = _scores(body, pieces, query)
    chosen = _select(body, pieces, scores, max_chars, inline=True)
    if chosen:
        return _render(body, pieces, chosen, inline=True)
    best = pieces[max(range(len(pieces)), key=lambda i: (scores[i], -i))]
    pre, post = (GAP if best.start > 0 else ""), (GAP if best.end < len(body) else "")
    inner = _cut(body[best.start : best.end], query, max_chars - len(pre) - len(post), patterns[1:])
    return (pre if not inner.startswith(GAP) else "") + inner + (post if not inner.endswith(GAP) else "")


def _lead_in(body: str, room: int) -> str:
    """The lead-in 款's last sentence (the one that introduces its 项), or as many of its last phrases as fit in
    ``room``, "……" before it when it is not the whole 款; empty when not even the last phrase fits."""
    sentences = list(_SENTENCE.finditer(body)) or list(_PARAGRAPH.finditer(body))
    last = sentences[-1].group()
    for m in [None, *_PHRASE.finditer(last)]:
        start = sentences[-1].start() + (m.start() if m else 0)
        piece = (GAP if start > 0 else "") + body[start:]
        if len(piece) <= room:
            return piece
    return ""


def relevant_part(text: str, query: str, max_chars: int) -> str:
    """``text`` (one clause) cut to at most ``max_chars`` characters, keeping the 款 / 项 most relevant to ``query``.

    A clause that fits is returned unchanged. Otherwise 款 and 项 are chosen by how many of the query's character
    bigrams they contain, best first, while the result fits; a 项 comes with its lead-in 款, the original order is
    kept and every omission is marked "……". With no overlap at all (or no query) the 款 are taken in order. When the most
    relevant 款 (or 项 with its lead-in) alone is over the budget, it is cut by sentence, then by phrase; a 项 then
    keeps as much of its lead-in's last sentence as fits in a third of the budget.

    Raises:
        ValueError: ``max_chars`` is below :data:`MIN_CHARS`.
    """
    if max_chars < MIN_CHARS:
        raise ValueError(f"条款截取长度至少 {MIN_CHARS} 字，收到 {max_chars}")
    if len(text) <= max_chars:
        return text
    parts = _paragraphs(text)
    if not parts:  # only blank lines
        return ""
    grams = _grams(query)
    scores = _scores(text, parts, grams)
    chosen = _select(text, parts, scores, max_chars, inline=False)
    if chosen:
        return _render(text, parts, chosen, inline=False)
    top = max(range(len(parts)), key=lambda i: (scores[i], -i))
    lead = parts[top].lead
    head = _lead_in(text[parts[lead].start : parts[lead].end], max_chars // 3) if lead is not None else ""
    if head:
        before = f"{GAP}\n" if lead and not head.startswith(GAP) else ""
        head = before + head + ("\n" if top == lead + 1 else f"\n{GAP}\n")
    elif top > 0:
        head = f"{GAP}\n"
    tail = f"\n{GAP}" if top < len(parts) - 1 else ""
    return head + _cut(text[parts[top].start : parts[top].end], grams, max_chars - len(head) - len(tail)) + tail
