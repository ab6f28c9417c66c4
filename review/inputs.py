"""Read a marketing draft from an uploaded file (TXT, DOCX, PDF, PNG/JPG) into plain text.

Files go through the file readers (``comply.files.readers``) for TXT (UTF-8/BOM/GB18030), DOCX and
PDF; images, and scanned PDFs without a text layer, go through OCR (:mod:`review.ocr`).
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

from comply.files.errors import ReadError
from comply.files.limits import (
    DEFAULT_LIMITS,
    ReadLimits,
    check_paragraphs,
    oversize_message,
)
from comply.files.readers import TEXT_SUFFIXES, decode_text, read_docx, read_pdf
from comply.text import normalise_text
from review.draft import Draft, DraftError, OcrLine
from review.ocr import ocr_images, open_image, pdf_images

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
_READ_KINDS = {"oversize": "too_large"}


def read_draft(name: str, data: bytes, max_mb: float = 20.0, limits: ReadLimits = DEFAULT_LIMITS) -> Draft:
    """A draft from an uploaded file, by its content (magic bytes) first and its extension second; what the file
    expands to (DOCX parts, PDF pages and streams, text lines) is held to ``limits``, images to the pixel cap.

    Raises:
        DraftError: for unsupported, too large, empty, undecodable, encrypted or corrupt files, and
            for images (or scanned PDFs) in which no text is recognised.
    """
    source = re.split(r"[\\/]", name)[-1].strip() or "上传文件"
    kind = _detect_kind(source, data)
    max_bytes = int(max_mb * 2**20)
    if len(data) > max_bytes:
        raise DraftError("too_large", oversize_message(source, len(data), max_bytes))
    if not data:
        raise DraftError("empty", f"{source}：文件为空")
    ocr: tuple[OcrLine, ...] = ()
    try:
        if kind == "txt":
            text = decode_text(data, source)
            check_paragraphs(source, sum(1 for line in text.splitlines() if line.strip()), limits)
        elif kind == "image":
            text, ocr = ocr_images([(0, open_image(source, data))], source, "图片中没有识别出文字")
        else:
            text, ocr = _read_office(kind, source, data, limits)
    except ReadError as exc:
        raise DraftError(_READ_KINDS.get(exc.kind, exc.kind), exc.message) from exc
    text = normalise_text(text)
    if not text.strip():
        raise DraftError("empty", f"{source}：文件中没有文字内容")
    return Draft(text=text, source=source, kind=kind, ocr_lines=ocr)


def _detect_kind(source: str, data: bytes) -> str:
    """``txt``, ``docx``, ``pdf`` or ``image``; raises ``unsupported`` for anything else."""
    suffix = Path(source).suffix.lower()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if data.startswith(b"PK\x03\x04") and (suffix == ".docx" or (not suffix and _is_docx(data))):
        return "docx"
    if suffix in TEXT_SUFFIXES or not suffix:
        return "txt"
    if suffix in (".pdf", ".docx"):
        return suffix[1:]
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in (".doc", ".wps"):
        raise DraftError("unsupported", f"{source}：不支持旧版 Word 格式（{suffix}），请在 Word 中另存为 .docx 后上传")
    raise DraftError("unsupported", f"{source}：不支持的文件类型 {suffix}，请上传 TXT、DOCX、PDF 或图片（PNG/JPG），也可以直接粘贴文字")


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _read_office(kind: str, source: str, data: bytes, limits: ReadLimits) -> tuple[str, tuple[OcrLine, ...]]:
    """Read a DOCX or PDF with the knowledge-base readers (which take a path); OCR a scanned PDF."""
    with tempfile.TemporaryDirectory(prefix="draft-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        try:
            if kind == "docx":
                return read_docx(path, limits), ()
            try:
                return read_pdf(path, limits), ()
            except ReadError as exc:
                if exc.kind != "image_only":
                    raise
            return ocr_images(pdf_images(path, source, limits), source, "PDF 是扫描件（只有图片），图片中没有识别出文字")
        except ReadError as exc:
            raise ReadError(exc.kind, exc.message.replace(path.name, source)) from exc
