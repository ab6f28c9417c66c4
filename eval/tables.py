"""Plain-text tables for the suites' text reports, laid out by rich (no colour, no wrapping, CJK-width aware)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import StringIO

from rich.console import Console
from rich.table import Table

_WIDTH = 10_000  # wide enough that no table is ever wrapped or truncated


def text_table(columns: Sequence[str], rows: Iterable[Sequence[object]], left: int = 1) -> str:
    """``rows`` under a header line of ``columns``, the first ``left`` columns left-aligned and the rest right-aligned.

    Cells are printed as given (``str()``; no rich markup), and trailing spaces are dropped from every line.
    """
    table = Table(box=None, pad_edge=False, header_style="")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    out = StringIO()
    Console(file=out, width=_WIDTH, color_system=None, markup=False, emoji=False, highlight=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
