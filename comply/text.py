"""Text normalisation shared by every path that reads untrusted text (drafts, corpus screening, prompt data), and
stored times as people in China read them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "北京时间")  # China keeps no daylight saving time: a fixed offset is exact
EMPTY = "—"  # how an empty value is shown

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")


def normalise_text(text: str) -> str:
    """Unify newlines to ``\\n`` and drop the BOM, zero-width characters and stray control characters
    (which split a phrase for a pattern but not for a reader or a model)."""
    return _INVISIBLE.sub("", _NEWLINES.sub("\n", text))


def beijing_time(moment: str | datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored time (ISO text or datetime; UTC when it names no zone) in Beijing time, to the second by default;
    text that is no timestamp (a row written by hand) is returned as it is."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime(fmt)
