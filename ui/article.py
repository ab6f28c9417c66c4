"""A generated article (model output, untrusted) as Markdown that keeps its layout and nothing that acts.

Headings, lists, quotes, paragraphs and emphasis render; every other ASCII punctuation character is backslash-escaped,
so no link, image, HTML, code, math, table or Streamlit directive (``:red[…]``, ``:material/…:``) survives, and no
address becomes a link. Each line of a paragraph keeps its own line (a hard break).
"""

from __future__ import annotations

import re

# A line's block markers: up to three spaces, then headings (#), quotes (>), bullets (- * +) and numbers (1. or 1)).
_BLOCK = re.compile(r"( {0,3}(?:(?:#{1,6}|>|[-*+]|\d{1,9}[.)])[ \t]+)*)(.*)")
_ACTIVE = re.compile(r"([!-)+-/:-@\[-^`{-}])")  # every ASCII punctuation character but * _ ~ (emphasis)


def article_markdown(text: str) -> str:
    """The article as safe Markdown: block markers and emphasis kept, all other Markdown syntax shown literally."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        marker, rest = _BLOCK.fullmatch(line.rstrip()).groups()
        body = _ACTIVE.sub(r"\\\1", rest)
        hard_break = "" if marker.lstrip().startswith("#") else "  "  # a heading ends its own line
        lines.append(f"{marker}{body}{hard_break}" if body else marker.rstrip())
    return "\n".join(lines)
