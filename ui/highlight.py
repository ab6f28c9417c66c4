"""The reviewed draft as HTML: problem phrases marked by category, everything else escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

from review.findings import Located

# One background colour per taxonomy category (shared/eval/taxonomy.json); unknown ids get DEFAULT_COLOR.
CATEGORY_COLORS: Mapping[str, str] = {
    "guaranteed_return": "#ffb3b3",
    "absolute_terms": "#ffd59e",
    "performance_display": "#fff09e",
    "missing_risk_disclosure": "#d9c2ff",
    "misleading_statement": "#ffc2e6",
    "improper_solicitation": "#b8e6c2",
    "illegal_stock_tips": "#a8d8ff",
    "discretionary_trading": "#c7f0f0",
    "disparaging_competitors": "#e0d4b8",
    "personal_info": "#d0d0d0",
}
DEFAULT_COLOR = "#ffe08a"


def color(category: str) -> str:
    """The highlight colour of a category."""
    return CATEGORY_COLORS.get(category, DEFAULT_COLOR)


def highlight_html(text: str, findings: Sequence[Located], names: Mapping[str, str]) -> str:
    """The draft as escaped HTML, each stretch covered by findings in a ``<mark>`` coloured by category.

    Overlapping findings split the text at every boundary. A stretch takes the colour of the most
    specific (shortest) finding covering it; when a broader finding of another category covers it too
    (e.g. a sentence lacking a risk warning), that one's colour underlines it. The tooltip names every
    category covering the stretch. Line breaks are kept (``white-space: pre-wrap``); offsets outside
    the text are clipped.
    """
    n = len(text)
    spans = [(max(0, f.start), min(n, f.end), f.category) for f in findings]
    spans = [s for s in spans if s[0] < s[1]]
    cuts = sorted({0, n, *(p for s in spans for p in s[:2])})
    parts: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        piece = html.escape(text[a:b])
        covering = sorted((e - s, c) for s, e, c in spans if s <= a and b <= e)
        if not covering:
            parts.append(piece)
            continue
        inner, outer = covering[0][1], covering[-1][1]
        underline = f";box-shadow:inset 0 -3px 0 {color(outer)}" if outer != inner else ""
        title = html.escape("、".join(dict.fromkeys(names.get(c, c) for _, c in covering)))
        parts.append(
            f'<mark data-category="{html.escape(inner)}" title="{title}" '
            f'style="background:{color(inner)};padding:0{underline}">{piece}</mark>'
        )
    return f'<div class="draft" style="white-space:pre-wrap;line-height:1.9">{"".join(parts)}</div>'


def legend_html(categories: Iterable[str], names: Mapping[str, str]) -> str:
    """A one-line colour key for the categories present (each named once, in the given order)."""
    items = [
        f'<mark data-category="{html.escape(c)}" style="background:{color(c)};padding:0 6px;border-radius:3px">'
        f"{html.escape(names.get(c, c))}</mark>"
        for c in dict.fromkeys(categories)
    ]
    return f'<div class="legend" style="line-height:2">{" ".join(items)}</div>'
