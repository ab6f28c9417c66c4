"""The drafts of a batch review job, from a JSON body or uploaded files, each checked on its own.

Uploads: JSONL (one ``{"id", "text"}`` object a line, checked as ``comply review --drafts`` checks its lines), XLSX
(columns ``id`` and ``text``, or 编号 and 文案, on the first sheet), ZIP of TXT/DOCX/PDF files, or a TXT/DOCX/PDF file
itself (read by :func:`review.inputs.read_draft`, which bounds what a DOCX or PDF expands to). Every problem (a bad
line, row, archive entry or file) becomes one :class:`DraftInput` with an ``error`` naming where it is, and the rest
goes on; a job holds at most :data:`MAX_DRAFTS` drafts, and parsing stops as soon as there are more.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from comply.config import Settings
from comply.files.jsonl import batch_lines
from comply.files.limits import ReadLimits, expanded_error, format_size
from review.draft import DraftError, draft_from_text
from review.inputs import IMAGE_SUFFIXES, read_draft

MAX_DRAFTS = 2_000
MAX_ID_CHARS = 200
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_ID_HEADERS = ("id", "编号")
_TEXT_HEADERS = ("text", "文案")
_ZIP_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|\._|Thumbs\.db$)")
_UTF8_NAMES = 0x800  # the ZIP flag saying entry names are UTF-8 (otherwise Windows tools write GBK)


class TooManyDrafts(ValueError):
    """More than :data:`MAX_DRAFTS` drafts in one job; ``str(e)`` is the Chinese message."""


@dataclass(frozen=True)
class DraftInput:
    """One draft of a job: its id and text, or why it cannot be reviewed, and where it came from."""

    id: str | None
    text: str = ""
    error: str = ""
    file: str | None = None
    line: int | None = None

    def problem(self) -> dict:
        """The ``errors`` entry of the submission's answer."""
        return {"file": self.file, "line": self.line, "id": self.id, "error": self.error}


def item_id(value: object) -> str | None:
    """A draft's id as stored: text as given, another JSON value as JSON, at most :data:`MAX_ID_CHARS` characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _SURROGATE.sub("\ufffd", text)[:MAX_ID_CHARS]


def checked(draft_id: object, text: str, max_chars: int, *, file: str | None = None, line: int | None = None) -> DraftInput:
    """A draft whose text is normalised, not empty and within ``max_chars``; otherwise the draft with its error."""
    where = {"file": file, "line": line}
    if _SURROGATE.search(text):
        return DraftInput(item_id(draft_id), error="含无效的 Unicode 字符（孤立的代理码位）", **where)
    if not text.strip():
        return DraftInput(item_id(draft_id), error="文案为空", **where)
    try:
        return DraftInput(item_id(draft_id), draft_from_text(text, max_chars).text, **where)
    except DraftError as exc:
        return DraftInput(item_id(draft_id), error=exc.message, **where)


def json_drafts(drafts: Iterable[tuple[object, str]], max_chars: int) -> list[DraftInput]:
    """The drafts of a JSON body, numbered from 1 in ``line``."""
    return [checked(draft_id, text, max_chars, line=n) for n, (draft_id, text) in enumerate(drafts, start=1)]


def upload_drafts(files: Iterable[tuple[str, bytes]], settings: Settings) -> list[DraftInput]:
    """The drafts of uploaded files (name, bytes), in upload order.

    Raises:
        TooManyDrafts: more than :data:`MAX_DRAFTS` drafts (parsing stops there).
    """
    out: list[DraftInput] = []
    for name, data in files:
        for draft in _file_drafts(_base_name(name), data, settings):
            out.append(draft)
            if len(out) > MAX_DRAFTS:
                raise TooManyDrafts(f"一个任务最多 {MAX_DRAFTS} 篇文案，上传的文件中超过了这个数，请拆分后分批提交")
    return out


def _base_name(name: str) -> str:
    return re.split(r"[\\/]", name or "")[-1].strip() or "上传文件"


def _file_drafts(name: str, data: bytes, settings: Settings) -> Iterator[DraftInput]:
    suffix = Path(name).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl(name, data, settings.max_draft_chars)
    elif suffix == ".xlsx":
        yield from _xlsx(name, data, settings)
    elif suffix == ".zip":
        yield from _zip(name, data, settings)
    else:
        yield _document(name, name, data, settings)


def _document(name: str, draft_id: str, data: bytes, settings: Settings, archive: str | None = None) -> DraftInput:
    """One TXT/DOCX/PDF file (or archive entry) as a draft; its id is its name."""
    file = archive or name
    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
        return DraftInput(draft_id, error=f"{name}：批量任务不接受图片，请单独上传审核", file=file)
    try:
        draft = read_draft(name, data, settings.max_file_mb, ReadLimits.of(settings))
    except DraftError as exc:
        return DraftInput(draft_id, error=exc.message, file=file)
    return checked(draft_id, draft.text, settings.max_draft_chars, file=file)


# --- JSONL -----------------------------------------------------------------------------------------------------


def _jsonl(name: str, data: bytes, max_chars: int) -> Iterator[DraftInput]:
    """Each non-blank line: an object whose ``text`` is a non-empty string (the checks of ``comply review --drafts``)."""
    for line in batch_lines(io.BytesIO(data), "text"):
        yield (DraftInput(item_id(line.id), error=line.error, file=name, line=line.line) if line.error
               else checked(line.id, line.text, max_chars, file=name, line=line.line))


# --- XLSX ------------------------------------------------------------------------------------------------------


def _xlsx(name: str, data: bytes, settings: Settings) -> Iterator[DraftInput]:
    """The rows of the first sheet under its header row (columns id/编号 and text/文案); ``line`` is the sheet's row."""
    from openpyxl import load_workbook

    def bad(error: str) -> DraftInput:
        return DraftInput(name, error=f"{name}：{error}", file=name)

    if problem := _zip_problem(name, data, ReadLimits.of(settings), max_entries=10_000):
        yield bad(problem)
        return
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl reports a broken workbook as many types
        yield bad(f"无法读取 Excel 文件（{type(exc).__name__}），请确认是 .xlsx 格式")
        return
    try:
        columns: tuple[int | None, int] | None = None
        for number, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
            cells = ["" if v is None else str(v).strip() if isinstance(v, str) else str(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = _xlsx_columns(cells)
                if columns is None:
                    yield bad(f"第 {number} 行（表头）应有 text（或“文案”）列，id（或“编号”）列可选")
                    return
                continue
            id_col, text_col = columns
            draft_id = cells[id_col] if id_col is not None and id_col < len(cells) and cells[id_col] else None
            text = cells[text_col] if text_col < len(cells) else ""
            yield checked(draft_id, text, settings.max_draft_chars, file=name, line=number)
    except Exception as exc:  # noqa: BLE001 - a sheet broken half-way through
        yield bad(f"读取工作表时出错（{type(exc).__name__}）")
    finally:
        workbook.close()


def _xlsx_columns(header: list[str]) -> tuple[int | None, int] | None:
    names = [h.strip().lower() for h in header]
    text_col = next((i for i, h in enumerate(names) if h in _TEXT_HEADERS), None)
    id_col = next((i for i, h in enumerate(names) if h in _ID_HEADERS), None)
    return None if text_col is None else (id_col, text_col)


# --- ZIP -------------------------------------------------------------------------------------------------------


def _zip_problem(name: str, data: bytes, limits: ReadLimits, max_entries: int) -> str:
    """Why an archive may not be opened: corrupt, too many entries, or declared to expand past the limit ('' if none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        return "文件已损坏或不是有效的压缩包"
    if len(members) > max_entries:
        return f"压缩包内有 {len(members)} 个文件，超过上限 {max_entries} 个"
    if sum(m.file_size for m in members) > limits.expanded_bytes:
        return expanded_error(name, limits).message.removeprefix(f"{name}：")
    return ""


def _entry_name(info: zipfile.ZipInfo) -> str:
    """An entry's name; names a Windows tool wrote in GBK (without the UTF-8 flag) are decoded as such."""
    if info.flag_bits & _UTF8_NAMES:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _zip(name: str, data: bytes, settings: Settings) -> Iterator[DraftInput]:
    """Each file of the archive (folders and system files skipped) as a draft whose id is its path in the archive.

    The entries' declared sizes are held to ``max_expanded_mb`` together and ``max_file_mb`` each; :mod:`zipfile`
    never inflates an entry past its declared size, so a header that lies gets a corrupt entry, not more bytes."""
    limits = ReadLimits.of(settings)
    if problem := _zip_problem(name, data, limits, max_entries=MAX_DRAFTS * 2):
        yield DraftInput(name, error=f"{name}：{problem}", file=name)
        return
    max_entry = int(settings.max_file_mb * 2**20)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            entry = _entry_name(info)
            if info.is_dir() or _ZIP_JUNK.search(entry):
                continue
            if info.file_size > max_entry:
                yield DraftInput(entry, error=f"{entry}：解压后 {format_size(info.file_size)}，超过单个文件上限 {format_size(max_entry)}",
                                 file=name)
                continue
            try:
                content = archive.read(info)
            except RuntimeError:  # an encrypted entry
                yield DraftInput(entry, error=f"{entry}：文件已加密，无法读取", file=name)
                continue
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError):
                yield DraftInput(entry, error=f"{entry}：无法解压（文件已损坏）", file=name)
                continue
            yield _document(entry, entry, content, settings, archive=name)
