"""How pages show values: empty table cells as —, stored UTC times in Beijing time, a case's source with its link."""

from __future__ import annotations

import math
import re
from urllib.parse import quote, urlsplit

from comply.text import EMPTY
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
