"""Turn a file (PDF, DOCX, Markdown, TXT in UTF-8 or GBK) into plain text, or raise a clear IngestError."""

from __future__ import annotations

import re
from pathlib import Path

from kb_ingest.errors import IngestError

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".pdf", ".docx"}
_TERMINAL = "。；：！？!?;:」』”）)"
_STRUCTURE_START = re.compile(r"^\s*(第[〇零一二三四五六七八九十百千\d]+[编章节条]|（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、|附\s*则|附件)")
_PAGE_NUMBER = re.compile(r"^\s*(-\s*\d+\s*-|第\s*\d+\s*页(\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+)\s*$")


def decode_text(data: bytes, name: str = "") -> str:
    """Decode bytes as UTF-8 (with or without BOM), else GB18030 (a superset of GBK).

    Raises:
        IngestError: ``undecodable`` when neither encoding fits.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
        if controls <= max(2, len(text) // 200):
            return text.replace("\r\n", "\n").replace("\r", "\n")
    raise IngestError("undecodable", f"{name}：无法识别文本编码（既不是 UTF-8 也不是 GBK/GB18030），请转存为 UTF-8 后重试")


def _join_pdf_lines(page_texts: list[str]) -> str:
    """Re-flow PDF lines: keep a break after sentence-final punctuation or before a structural heading."""
    lines = [ln.strip() for page in page_texts for ln in page.splitlines()]
    lines = [ln for ln in lines if ln and not _PAGE_NUMBER.match(ln)]
    out: list[str] = []
    for line in lines:
        if out and not out[-1].endswith(tuple(_TERMINAL)) and not _STRUCTURE_START.match(line):
            out[-1] += line
        else:
            out.append(line)
    return "\n\n".join(out)


def read_pdf(path: Path) -> str:
    """Extract text from a PDF with pypdf.

    Raises:
        IngestError: ``encrypted``, ``corrupt``, ``empty`` or ``image_only``.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                opened = 0
            if not opened:
                raise IngestError("encrypted", f"{path.name}：PDF 已加密，需要密码才能读取，请提供未加密的版本")
        pages = list(reader.pages)
        if not pages:
            raise IngestError("empty", f"{path.name}：PDF 没有任何页面")
        texts = [page.extract_text() or "" for page in pages]
        has_images = any(_page_has_images(page) for page in pages)
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise IngestError("corrupt", f"{path.name}：PDF 文件已损坏或格式无效（{type(exc).__name__}）") from exc
    if not any(t.strip() for t in texts):
        if has_images:
            raise IngestError("image_only", f"{path.name}：PDF 只有图片、没有文字层（扫描件），请先做文字识别（OCR）")
        raise IngestError("empty", f"{path.name}：PDF 中没有可提取的文字")
    return _join_pdf_lines(texts)


def _page_has_images(page: object) -> bool:
    try:
        return bool(page.images)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a broken image stream still means "has images"
        return True


def read_docx(path: Path) -> str:
    """Extract paragraphs and table rows from a DOCX file.

    Raises:
        IngestError: ``corrupt`` when the file is not a valid DOCX.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise IngestError("corrupt", f"{path.name}：DOCX 文件已损坏或不是有效的 Word 文档") from exc
    except Exception as exc:  # noqa: BLE001 - zipfile/lxml errors surface as many types
        raise IngestError("corrupt", f"{path.name}：DOCX 文件无法解析（{type(exc).__name__}）") from exc
    parts = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                parts.append(" | ".join(cells))
    return "\n\n".join(parts)


def read_file(path: Path, max_bytes: int) -> str:
    """Read any supported file into text, enforcing the size limit first.

    Raises:
        IngestError: for oversize, unsupported, empty, undecodable, encrypted, corrupt or image-only input.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError("unsupported", f"{path.name}：不支持的文件类型 {suffix or '（无扩展名）'}，支持 PDF、DOCX、MD、TXT")
    size = path.stat().st_size
    if size > max_bytes:
        raise IngestError("oversize", f"{path.name}：文件 {size / 2**20:.1f} MB，超过上限 {max_bytes / 2**20:.0f} MB")
    if size == 0:
        raise IngestError("empty", f"{path.name}：文件为空")
    if suffix == ".pdf":
        text = read_pdf(path)
    elif suffix == ".docx":
        text = read_docx(path)
    else:
        text = decode_text(path.read_bytes(), path.name)
    if not text.strip():
        raise IngestError("empty", f"{path.name}：文件中没有文字内容")
    return text
