"""Untrusted text (corpus and case text, titles, names, answers, drafts, file names) made safe for Streamlit's Markdown.

``st.markdown``, captions, alerts, subheaders, toasts, status and expander / button / widget labels all
render Markdown: an image there (``![](http://…)``) makes every reader's browser fetch the URL. Such
text goes through :func:`plain` first; ``st.code``, ``st.text``, tables and select options show text as is.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character: all Markdown can act on


def plain(text: object) -> str:
    """The text as Markdown that shows it literally: every ASCII punctuation character backslash-escaped
    (no image, link, HTML, emphasis, heading, list, code, math or directive survives), line breaks kept."""
    escaped = _PUNCTUATION.sub(r"\\\1", str(text).replace("\r\n", "\n"))
    return escaped.replace("\n", "  \n")
