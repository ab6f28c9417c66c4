"""Long drafts cut into sections at paragraph breaks, headings or sentence ends, keeping their offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from comply.lawtext.numerals import ITEM_NUMERAL, NUMERAL


@dataclass(frozen=True)
class Section:
    """A slice of a draft: ``draft[start:start + len(text)] == text``."""

    start: int
    text: str


_HEADING = rf"[ \t\u3000]*(?:#{{1,6}}\s|第{NUMERAL}[编章节条部分]|{ITEM_NUMERAL}[、.．]|（{ITEM_NUMERAL}）|【)"
# Cut points, strongest first: paragraph breaks (blank lines, or a line starting a heading), line
# ends, sentence ends (after any closing quotes), and clause ends (only for over-long sentences).
_BREAKS = (
    re.compile(rf"\n[ \t\u3000]*\n|\n(?={_HEADING})"),
    re.compile(r"\n"),
    re.compile(r"[。！？!?；;…]+[”’」』）)】\"']*"),
    re.compile(r"[，,、：:]"),
)
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_HEADING_LINE = re.compile(rf"{_HEADING}[^\n]{{0,40}}$")


def split_sections(text: str, max_chars: int = 1500) -> list[Section]:
    """Cut a draft into sections of at most ``max_chars`` characters, at paragraph breaks, headings or
    sentence ends (inside a sentence only when it is longer than ``max_chars``).

    Sections keep their offsets (``text[s.start:s.start + len(s.text)] == s.text``), are in order,
    do not overlap, and have no leading or trailing whitespace; only whitespace is left out.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    return [Section(a, text[a:b]) for a, b in _split(text, 0, len(text), max_chars, 0)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split(text: str, start: int, end: int, max_chars: int, level: int) -> list[tuple[int, int]]:
    start, end = _trim(text, start, end)
    if start >= end:
        return []
    if end - start <= max_chars:
        return [(start, end)]
    if level == len(_BREAKS):
        pieces = [_trim(text, a, min(a + max_chars, end)) for a in range(start, end, max_chars)]
        return [(a, b) for a, b in pieces if a < b]
    cuts = [start, *(m.end() for m in _BREAKS[level].finditer(text, start, end) if start < m.end() < end), end]
    pieces = [piece for a, b in zip(cuts, cuts[1:]) for piece in _split(text, a, b, max_chars, level + 1)]
    return _pack(text, pieces, max_chars)


def _pack(text: str, pieces: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Merge neighbouring pieces greedily up to ``max_chars``; a heading moves on with what follows it."""
    groups: list[list[tuple[int, int]]] = []
    for piece in pieces:
        if groups and piece[1] - groups[-1][0][0] <= max_chars:
            groups[-1].append(piece)
            continue
        if groups and len(groups[-1]) > 1 and _HEADING_LINE.match(text, *groups[-1][-1]):
            last = groups[-1][-1]
            if piece[1] - last[0] <= max_chars:
                groups[-1].pop()
                groups.append([last, piece])
                continue
        groups.append([piece])
    return [(group[0][0], group[-1][1]) for group in groups]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences of ``text`` (cut at sentence ends, semicolons and line ends), blank ones left out."""
    return [_trim(text, m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip()]
