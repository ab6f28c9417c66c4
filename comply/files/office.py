"""Office exports shared by every download: CSV that Excel opens as UTF-8, and Word documents set in a CJK font.

Every CSV cell that a spreadsheet would read as a formula is defused (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docx.document import Document

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell starting like a formula (= + - @, tab, carriage return) prefixed with ' so it stays text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text starting with a byte-order mark (written as UTF-8, Excel reads the Chinese correctly), cells defused."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return BOM + buf.getvalue()


def dicts_csv(rows: Sequence[dict]) -> bytes:
    """Rows (dicts with the same keys) as UTF-8 CSV with a byte-order mark; nothing but the mark when empty."""
    if not rows:
        return BOM.encode("utf-8")
    header = list(rows[0])
    return csv_text(header, ([row[k] for k in header] for row in rows)).encode("utf-8")


def word_document(landscape: bool = False) -> Document:
    """A new Word document whose Normal style is 宋体 10 pt (East Asian font included), optionally landscape."""
    from docx import Document as new_document
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = new_document()
    if landscape:
        section = doc.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    normal = doc.styles["Normal"]
    normal.font.name = "宋体"
    normal.font.size = Pt(10)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    return doc


def add_table(doc: Document, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A bordered table with a header row."""
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, header):
        cell.text = name
    for row in rows:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value


def docx_bytes(doc: Document) -> bytes:
    """The document saved as .docx bytes."""
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
