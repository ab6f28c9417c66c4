"""Turn a file (PDF, DOCX, Markdown, TXT in UTF-8 or GBK) into plain text, or raise a clear ReadError."""

from __future__ import annotations

import re
from pathlib import Path

from comply.files.errors import ReadError
from comply.files.limits import (
    DEFAULT_LIMITS,
    ReadLimits,
    check_paragraphs,
    check_pdf_pages,
    check_zip_package,
    expanded_error,
    oversize_message,
    pdf_bounds,
)
from comply.lawtext.numerals import ITEM_NUMERAL, NUMERAL

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".pdf", ".docx"}
_TERMINAL = "。；：！？!?;:」』”）)"
_SOFT_TERMINAL = "」』”）)"  # may also end a line that wraps mid-sentence
_STRUCTURE_START = re.compile(rf"^\s*(第{NUMERAL}[编章节条]|（{ITEM_NUMERAL}）|{ITEM_NUMERAL}、|附\s*则|附件)")
_PAGE_NUMBER = re.compile(r"^\s*(-\s*\d+\s*-|第\s*\d+\s*页(\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+)\s*$")


def decode_text(data: bytes, name: str = "") -> str:
    """Decode bytes as UTF-8 (with or without BOM), else GB18030 (a superset of GBK).

    Raises:
        ReadError: ``undecodable`` when neither encoding fits.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
        if controls <= max(2, len(text) // 200):
            return text.replace("\r\n", "\n").replace("\r", "\n")
    raise ReadError("undecodable", f"{name}：无法识别文本编码（既不是 UTF-8 也不是 GBK/GB18030），请转存为 UTF-8 后重试")


def _display_width(line: str) -> float:
    """Width of a line in full-width characters (ASCII letters and digits count as half)."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in line)


def _join_pdf_lines(page_texts: list[str]) -> str:
    """Re-flow PDF lines into paragraphs.

    A line continues the previous one unless the previous line ends a sentence (。；：！？), or the
    line starts a structural heading (第X章/第X条/（一）/附则/附件). A previous line ending with a
    closing bracket or quote ends the paragraph only when it is visibly shorter than a full line
    (a full-width line that ends with "）" is a mid-sentence wrap). Before the first heading, a line
    that opens with a bracket (the "（2008年…公布）" note under a title) starts a new paragraph.
    """
    lines = [ln.strip() for page in page_texts for ln in page.splitlines()]
    lines = [ln for ln in lines if ln and not _PAGE_NUMBER.match(ln)]
    widths = sorted(_display_width(ln) for ln in lines)
    full_width = widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 8 else None
    out: list[str] = []
    last_line = ""
    seen_structure = False
    for line in lines:
        structural = bool(_STRUCTURE_START.match(line))
        if out and not structural and not last_line.endswith(tuple(_TERMINAL)):
            new_paragraph = not seen_structure and line[0] in "（("
        elif out and not structural and last_line.endswith(tuple(_SOFT_TERMINAL)):
            new_paragraph = full_width is None or _display_width(last_line) < 0.9 * full_width
        else:
            new_paragraph = True
        if new_paragraph:
            out.append(line)
        else:
            out[-1] += line
        seen_structure = seen_structure or structural
        last_line = line
    return "\n\n".join(out)


def read_pdf(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """Extract text from a PDF with pypdf, page by page within the page, expansion and paragraph limits.

    Raises:
        ReadError: ``encrypted``, ``corrupt``, ``empty``, ``image_only`` or ``oversize``.
    """
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        with pdf_bounds(limits):
            reader = PdfReader(str(path), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                    opened = 0
                if not opened:
                    raise ReadError("encrypted", f"{path.name}：PDF 已加密，需要密码才能读取，请提供未加密的版本")
            check_pdf_pages(path.name, len(reader.pages), limits)
            pages = list(reader.pages)
            if not pages:
                raise ReadError("empty", f"{path.name}：PDF 没有任何页面")
            texts = _page_texts(path.name, pages, limits)
            has_images = any(_page_has_images(page) for page in pages)
    except ReadError:
        raise
    except LimitReachedError as exc:
        raise expanded_error(path.name, limits) from exc
    except Exception as exc:  # noqa: BLE001 - malformed PDFs make pypdf raise almost anything
        # (PdfReadError, ValueError, KeyError, NotImplementedError for an unknown /Filter, zlib.error…)
        raise ReadError("corrupt", f"{path.name}：PDF 文件已损坏或格式无效（{type(exc).__name__}）") from exc
    if not any(t.strip() for t in texts):
        if has_images:
            raise ReadError("image_only", f"{path.name}：PDF 只有图片、没有文字层（扫描件），请先做文字识别（OCR）")
        raise ReadError("empty", f"{path.name}：PDF 中没有可提取的文字")
    return _join_pdf_lines(texts)


def _page_texts(name: str, pages: list, limits: ReadLimits) -> list[str]:
    """The text of each page; the pages' decoded content and their text lines are counted against the limits."""
    texts: list[str] = []
    expanded = lines = 0
    for page in pages:
        contents = page.get_contents()
        expanded += len(contents.get_data()) if contents is not None else 0
        if expanded > limits.expanded_bytes:
            raise expanded_error(name, limits)
        texts.append(page.extract_text() or "")
        lines += sum(1 for line in texts[-1].splitlines() if line.strip())
        check_paragraphs(name, lines, limits)
    return texts


def _page_has_images(page: object) -> bool:
    try:
        return bool(page.images)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a broken image stream still means "has images"
        return True


def read_docx(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """Extract paragraphs and table rows from a DOCX file, once its package is known to stay within the limits.

    Raises:
        ReadError: ``corrupt`` when the file is not a valid DOCX, ``oversize`` when it expands past the limits.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip_package(path, limits)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise ReadError("corrupt", f"{path.name}：DOCX 文件已损坏或不是有效的 Word 文档") from exc
    except Exception as exc:  # noqa: BLE001 - zipfile/lxml errors surface as many types
        raise ReadError("corrupt", f"{path.name}：DOCX 文件无法解析（{type(exc).__name__}）") from exc
    from docx.table import Table

    # Walk the body in document order, so a table stays where it stands (not moved to the end).
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            parts.extend(_table_rows(block))
        elif block.text.strip():
            parts.append(block.text.strip())
    return "\n\n".join(parts)


def _table_rows(table: object) -> list[str]:
    """One line per non-empty row, cells joined by " | " (a merged cell counted once)."""
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # noqa: SLF001 - merged cells repeat the same <w:tc>
                continue
            seen.add(id(cell._tc))  # noqa: SLF001
            cells.append(cell.text.strip())
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def read_file(path: Path, max_bytes: int, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """Read any supported file into text, enforcing the size limit first and the expansion limits while reading.

    Raises:
        ReadError: for oversize, unsupported, empty, undecodable, encrypted, corrupt or image-only input.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ReadError("unsupported", f"{path.name}：不支持的文件类型 {suffix or '（无扩展名）'}，支持 PDF、DOCX、MD、TXT")
    size = path.stat().st_size
    if size > max_bytes:
        raise ReadError("oversize", oversize_message(path.name, size, max_bytes))
    if size == 0:
        raise ReadError("empty", f"{path.name}：文件为空")
    if suffix == ".pdf":
        text = read_pdf(path, limits)
    elif suffix == ".docx":
        text = read_docx(path, limits)
    else:
        text = decode_text(path.read_bytes(), path.name)
        check_paragraphs(path.name, sum(1 for line in text.splitlines() if line.strip()), limits)
    if not text.strip():
        raise ReadError("empty", f"{path.name}：文件中没有文字内容")
    return text
