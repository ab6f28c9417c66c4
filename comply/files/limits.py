"""How big a file may be, and how much it may expand once read: bytes after decompression, paragraphs, PDF pages.

A small file can hold a huge document (a zip bomb in a DOCX, a flate bomb in a PDF). The bounds are checked
before and while a reader expands the file, so a bad file is refused quickly and in little memory.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from comply.config import Settings
from comply.files.errors import ReadError

# A paragraph element of any namespace prefix (w:p in the body, a:p in text boxes): "<w:p>", "<w:p …", "<w:p/>".
_XML_PARAGRAPH = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?p[\s/>]")
_XML_ELEMENT = re.compile(rb"<[A-Za-z_]")
_TAG_OVERLAP = 40  # longer than any tag the patterns match: a tag cut between two reads is still counted once
# XML elements allowed: some per allowed paragraph (Word writes 10 to 30: runs, properties, text), plus the styles,
# numbering, theme and settings every package carries (Word's own blank template holds some 20,000).
ELEMENTS_PER_PARAGRAPH = 40
PACKAGE_ELEMENTS = 200_000
_READ_CHUNK = 2**20
# pypdf's own per-stream bounds, lowered to ours (never raised).
_PDF_OUTPUT_BOUNDS = (
    "zlib_maximum_output_length", "lzw_maximum_output_length", "run_length_maximum_output_length",
    "brotli_maximum_output_length", "jbig2_maximum_output_length", "array_based_stream_maximum_output_length",
    "image_maximum_buffer_size",
)


def _default(name: str) -> float:
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class ReadLimits:
    """The expansion bounds of one read; the defaults are the settings' defaults."""

    expanded_bytes: int = int(_default("max_expanded_mb") * 2**20)
    paragraphs: int = int(_default("max_paragraphs"))
    pdf_pages: int = int(_default("max_pdf_pages"))

    @classmethod
    def of(cls, settings: Settings) -> ReadLimits:
        """The bounds configured in ``settings`` (``max_expanded_mb``, ``max_paragraphs``, ``max_pdf_pages``)."""
        return cls(int(settings.max_expanded_mb * 2**20), settings.max_paragraphs, settings.max_pdf_pages)


DEFAULT_LIMITS = ReadLimits()


def format_size(n_bytes: float) -> str:
    """A byte count for messages: MB with up to one decimal, or KB / bytes for small limits."""
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f}".removesuffix(".0") + " MB"
    if n_bytes >= 1024:
        return f"{n_bytes / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{int(n_bytes)} 字节"


def oversize_message(name: str, size: int, max_bytes: int) -> str:
    """The Chinese message for a file over the size limit (a small limit no longer reads "0 MB")."""
    return f"{name}：文件 {format_size(size)}，超过上限 {format_size(max_bytes)}"


def expanded_error(name: str, limits: ReadLimits) -> ReadError:
    """The error for a file whose content expands past the limit (a compression bomb, or simply too much)."""
    return ReadError(
        "oversize", f"{name}：解压后的内容超过上限 {format_size(limits.expanded_bytes)}（可能是压缩炸弹），已拒绝读取，请拆分后重试"
    )


def check_paragraphs(name: str, count: int, limits: ReadLimits) -> None:
    """Refuse a document with more paragraphs (or text lines) than allowed."""
    if count > limits.paragraphs:
        raise ReadError("oversize", f"{name}：段落数超过上限 {limits.paragraphs} 段，已拒绝读取，请拆分后重试")


def check_pdf_pages(name: str, count: int, limits: ReadLimits) -> None:
    """Refuse a PDF with more pages than allowed."""
    if count > limits.pdf_pages:
        raise ReadError("oversize", f"{name}：PDF 共 {count} 页，超过上限 {limits.pdf_pages} 页，请拆分后重试")


def check_zip_package(path: Path, limits: ReadLimits) -> None:
    """Refuse a DOCX package that would expand past the limits, before any XML of it is parsed.

    The members' declared sizes are summed first; then every member is inflated in chunks and counted (bytes,
    elements and paragraphs of its XML), so a header that lies about a size is caught as well.

    Raises:
        ReadError: ``oversize`` past a limit, ``corrupt`` when the package cannot be inflated.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > limits.expanded_bytes:
                raise expanded_error(path.name, limits)
            expanded = elements = paragraphs = 0
            max_elements = limits.paragraphs * ELEMENTS_PER_PARAGRAPH + PACKAGE_ELEMENTS
            for member in members:
                tail = b""
                with archive.open(member) as stream:
                    while chunk := stream.read(_READ_CHUNK):
                        expanded += len(chunk)
                        if expanded > limits.expanded_bytes:
                            raise expanded_error(path.name, limits)
                        window, start = tail + chunk, len(tail)  # tags ending before start were counted last time
                        tail = window[-_TAG_OVERLAP:]
                        elements += sum(1 for m in _XML_ELEMENT.finditer(window) if m.end() > start)
                        paragraphs += sum(1 for m in _XML_PARAGRAPH.finditer(window) if m.end() > start)
                        check_paragraphs(path.name, paragraphs, limits)
                        if elements > max_elements:
                            raise ReadError("oversize", f"{path.name}：文档结构过于复杂（XML 元素超过 {max_elements} 个），已拒绝读取")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, ValueError) as exc:
        # BadZipFile also covers a CRC or size that does not match what was inflated (a lying header).
        raise ReadError("corrupt", f"{path.name}：DOCX 文件已损坏或不是有效的 Word 文档") from exc


@contextmanager
def pdf_bounds(limits: ReadLimits) -> Iterator[None]:
    """Within the block, pypdf inflates no stream (content or image) past the expanded-bytes limit."""
    from pypdf import apply_configuration, get_configuration

    current = get_configuration()
    lowered = {name: min(getattr(current, name), limits.expanded_bytes) for name in _PDF_OUTPUT_BOUNDS}
    with apply_configuration(**lowered):
        yield
