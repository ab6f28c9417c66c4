"""How pages show values: empty table cells as —, stored UTC times in Beijing time, a case's source with its link, long
table text wrapped in full."""

from __future__ import annotations

import math
import re
from urllib.parse import quote, urlsplit

import streamlit as st

from comply.text import EMPTY
from review.pipeline import ReviewReport
from review.stages import MODEL
from ui.safe_text import plain

_LEADING_URL = re.compile(r"\s*(https?://[!-~]+)(.*)", re.IGNORECASE | re.DOTALL)  # an ASCII address, then the rest
_URL_SAFE = "/:?#[]@!$&'*+,;=%-._~"  # kept as is in a link's address; anything else is percent-encoded


def is_empty(value: object) -> bool:
    """None, NaN or a blank string."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def table_rows(rows: list[dict]) -> list[dict]:
    """Rows for ``st.dataframe`` with every empty cell shown as :data:`EMPTY`; a column with an empty cell is shown
    as text throughout (a table column holds one type)."""
    gaps = {k for r in rows for k, v in r.items() if is_empty(v)}
    return [{k: (EMPTY if is_empty(v) else str(v)) if k in gaps else v for k, v in r.items()} for r in rows]


def source_markdown(source: str) -> str:
    """A case's source as Markdown: a leading http(s) address becomes a link (its text escaped, its address
    percent-encoded where needed but never escaped), whatever follows it and any other source is plain text."""
    match = _LEADING_URL.fullmatch(source)
    if match is None:
        return plain(source.strip())
    address, rest = match.groups()
    url = address.rstrip(".,;:!?")
    rest = address[len(url):] + rest
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed address, say an unclosed [IPv6
        return plain(source.strip())
    if not parts.hostname:
        return plain(source.strip())
    link = f"[{plain(url)}]({quote(url, safe=_URL_SAFE)})"
    return f"{link}{plain(rest.rstrip())}" if rest.strip() else link


# A wrapped text column of st.dataframe: its width, the cell padding on each side, and the height of one line of its
# 14 px text; a row grows to the tallest wrapped cell (Streamlit wraps cell text only when rows are taller than 4rem).
WRAP_WIDTH_PX = 280
_CELL_PADDING_PX = 8
_FONT_PX = 14
_LINE_PX = 21
_WRAP_MIN_ROW_PX = 65
FINDING_WRAPPED = ("原因", "依据条款")  # a findings table's columns read in full, shown after 片段 and 类别


def wrapped_lines(text: object, width_px: int = WRAP_WIDTH_PX) -> int:
    """How many lines ``text`` takes in a wrapped column, every character counted as wide as a Chinese one."""
    per_line = max(1, (width_px - 2 * _CELL_PADDING_PX) // _FONT_PX)
    return sum(max(1, math.ceil(len(part) / per_line)) for part in str(text).split("\n"))


def wrapping(rows: list[dict], columns: tuple[str, ...], first: tuple[str, ...] = ()) -> dict:
    """``st.dataframe`` arguments that show the long text ``columns`` in full: each a wrapped column of
    :data:`WRAP_WIDTH_PX` placed right after the ``first`` columns, every row as tall as its tallest wrapped cell
    needs, and the table as tall as its rows."""
    lines = max((wrapped_lines(r[c]) for r in rows for c in columns if c in r and not is_empty(r[c])), default=1)
    config = {c: st.column_config.TextColumn(width=WRAP_WIDTH_PX) for c in columns}
    names = list(dict.fromkeys(k for r in rows for k in r))
    order = [*first, *columns, *(k for k in names if k not in first and k not in columns)]
    base = {"column_config": config, "column_order": [k for k in order if k in names]}
    if lines == 1:
        return base
    return {**base, "row_height": max(_WRAP_MIN_ROW_PX, lines * _LINE_PX + 2 * _CELL_PADDING_PX),
            "height": "content"}


def model_note(report: ReviewReport) -> str:
    """After a review's mode (仅规则), why the model did not review it — 审核（大模型未运行：已在配置中关闭）— so the reason
    is never read as the rules' own; empty when the model reviewed it or the review has no model stage."""
    stage = next((s for s in report.stages if s.name == MODEL and not s.ran), None)
    return f"审核（大模型未运行：{stage.reason}）" if stage else ""
