"""Plain-text tables for terminals, pipes and text reports, laid out by rich (no colour, CJK-width aware)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from io import StringIO

from rich.console import Console
from rich.table import Table

UNBOUNDED = 10_000  # a width no row reaches: every row stays on one line, no cell is cut


def text_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, right: Collection[str] = (),
               width: int = UNBOUNDED) -> str:
    """``rows`` under a header line of ``columns``, those named in ``right`` right-aligned; "" when there are no rows.

    Cells are printed as given (``str()``; no rich markup); a cell wider than ``width`` allows folds onto more
    lines, never cut. Trailing spaces are dropped from every line.
    """
    table = Table(box=None, pad_edge=False, header_style="")
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    if not table.row_count:
        return ""
    out = StringIO()
    Console(file=out, width=width, color_system=None, markup=False, emoji=False, highlight=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
