"""Reading client tables exported from spreadsheets: CSV (UTF-8, UTF-8 with BOM or GBK) or .xlsx.

The first non-blank row is the header. Every value comes back as a stripped string keyed by its header;
blank rows are skipped, and each row keeps its number as a spreadsheet shows it, so that errors can name it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
CSV_ENCODINGS = (("utf-8-sig", "UTF-8"), ("gbk", "GBK"))


class TableError(ValueError):
    """A file that cannot be read as a table; ``str(e)`` is the Chinese message."""


@dataclass(frozen=True)
class Table:
    """The rows of one file, its name and the SHA-256 of its bytes."""

    name: str
    sha256: str
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    row_numbers: tuple[int, ...]  # the spreadsheet row (1-based, header included) of each entry of ``rows``

    def numbered(self) -> Iterator[tuple[int, dict[str, str]]]:
        """Each row with its spreadsheet row number."""
        return zip(self.row_numbers, self.rows)


def _too_big(name: str) -> TableError:
    return TableError(f"文件 {name} 超过 {MAX_BYTES / (1024 * 1024):g} MB，请拆分后再导入")


def read_table(path: Path | str) -> Table:
    """Read a .csv or .xlsx file (the first sheet of a workbook); raise :class:`TableError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"文件不存在：{path}")
    if path.stat().st_size > MAX_BYTES:
        raise _too_big(path.name)
    return parse_table(path.read_bytes(), path.name)


def parse_table(data: bytes, name: str) -> Table:
    """Parse the bytes of a .csv or .xlsx file called ``name`` (e.g. an upload)."""
    if len(data) > MAX_BYTES:
        raise _too_big(name)
    if not data.strip():
        raise TableError(f"文件 {name} 是空文件")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        lines = _csv_lines(data, name)
    elif suffix == ".xlsx":
        lines = _xlsx_lines(data, name)
    elif suffix == ".xls":
        raise TableError(f"不支持旧版 Excel 文件 {name}，请另存为 .xlsx 或 CSV")
    else:
        raise TableError(f"不支持的文件类型 {name}：只接受 .csv 或 .xlsx")
    return _table(lines, name, hashlib.sha256(data).hexdigest())


def _csv_lines(data: bytes, name: str) -> Iterable[list[str]]:
    for encoding, _label in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        labels = " 或 ".join(label for _enc, label in CSV_ENCODINGS)
        raise TableError(f"无法识别文件 {name} 的编码：请另存为 {labels} 编码的 CSV")
    if "\x00" in text:
        raise TableError(f"文件 {name} 含有空字符，不是文本 CSV（UTF-16 或二进制文件？请另存为 UTF-8 CSV）")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise TableError(f"文件 {name} 不是有效的 CSV：{exc}") from exc


def _xlsx_lines(data: bytes, name: str) -> Iterator[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise TableError(f"无法读取 Excel 文件 {name}：{exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        workbook.close()


def _cell(value: object) -> str:
    """A cell as text: dates as YYYY-MM-DD, whole floats without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table(lines: Iterable[list[str]], name: str, sha256: str) -> Table:
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    for number, raw in enumerate(lines, start=1):
        cells = [c.strip() for c in raw]
        if not any(cells):
            continue
        if header is None:
            header = _header(cells, name)
            continue
        if len(rows) >= MAX_ROWS:
            raise TableError(f"文件 {name} 超过 {MAX_ROWS} 行，请拆分后再导入")
        extra = [c for c in cells[len(header):] if c]
        if extra:
            raise TableError(f"文件 {name} 第 {number} 行的列数多于表头")
        cells += [""] * (len(header) - len(cells))
        rows.append({h: v for h, v in zip(header, cells) if h})
        numbers.append(number)
    if header is None:
        raise TableError(f"文件 {name} 没有表头")
    return Table(name, sha256, tuple(h for h in header if h), tuple(rows), tuple(numbers))


def _header(cells: list[str], name: str) -> list[str]:
    # trailing empty header cells are common in spreadsheet exports; keep positions, drop names
    while cells and not cells[-1]:
        cells.pop()
    seen: set[str] = set()
    for cell in cells:
        if cell in seen:
            raise TableError(f"文件 {name} 的表头有重复列：{cell}")
        if cell:
            seen.add(cell)
    return cells
