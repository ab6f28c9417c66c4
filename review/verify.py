"""Verification of model findings: spans must be verbatim in the draft, clause ids must be clauses that were given."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from review.findings import ClauseRef
from review.llm_review import LlmFinding

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class CheckedFinding:
    """A model finding whose span was located in the draft, with the clauses it may cite."""

    finding: LlmFinding
    start: int
    end: int
    citations: list[ClauseRef]


def locate(span: str, text: str) -> tuple[int, int] | None:
    """Offsets of ``span`` in ``text``: verbatim, else ignoring whitespace differences; ``None`` if absent."""
    start = text.find(span)
    if start >= 0:
        return start, start + len(span)
    stripped = "".join(span.split())
    if len(stripped) < 2:
        return None
    pattern = r"\s*".join(map(re.escape, stripped))
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


def check_findings(findings: list[LlmFinding], text: str, offset: int, clauses: list[ClauseRef]) -> tuple[list[CheckedFinding], list[dict]]:
    """Keep findings whose span is in ``text`` (a section starting at ``offset`` of the draft).

    Citations keep only clause ids that were given; the rest are dropped (and reported, when any clause was given).
    Returns the kept findings and, for each dropped one, why.
    """
    kept: list[CheckedFinding] = []
    dropped: list[dict] = []
    for f in findings:
        where = locate(f.span, text)
        if where is None:
            dropped.append({"span": f.span, "category": f.category, "reason": "片段不在文案中（模型改写或编造了原文）"})
            continue
        refs = [clauses[i - 1] for i in dict.fromkeys(f.clause_ids) if 1 <= i <= len(clauses)]
        invalid = [i for i in f.clause_ids if not 1 <= i <= len(clauses)]
        if invalid and clauses:  # with no clauses offered, ids are meaningless and ignored
            dropped.append({"span": f.span, "category": f.category, "reason": f"引用了未提供的条款编号 {invalid}，已移除该引用"})
        kept.append(CheckedFinding(f, where[0] + offset, where[1] + offset, refs))
    return kept, dropped


_CN_FIGURE = re.compile(
    r"百分之[零〇一二两三四五六七八九十百点]+|[零〇一二两三四五六七八九十百千]+(?:成|倍|番)|[零〇一二两三四五六七八九十百千]{2,}[万亿]"
)


def figures(text: str) -> set[str]:
    """The figures a text states: numbers (full-width digits count, NFKC; 12.50 and 12.5 are one figure) and
    figures in Chinese numerals (百分之十二, 三成, 翻一番, 一百二十亿), each as written."""
    text = unicodedata.normalize("NFKC", text)
    numbers = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    return numbers | set(_CN_FIGURE.findall(text))


def new_figures(original: str, rewritten: str) -> list[str]:
    """Figures (see :func:`figures`) in the rewrite that the original never contained: a rewrite must not invent any."""
    return sorted(figures(rewritten) - figures(original))
