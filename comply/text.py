"""Text normalisation shared by every path that reads untrusted text: drafts, corpus screening, prompt data."""

from __future__ import annotations

import re

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")


def normalise_text(text: str) -> str:
    """Unify newlines to ``\\n`` and drop the BOM, zero-width characters and stray control characters
    (which split a phrase for a pattern but not for a reader or a model)."""
    return _INVISIBLE.sub("", _NEWLINES.sub("\n", text))
