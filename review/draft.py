"""A marketing draft as plain text: where it came from, OCR lines for images, and the one text normalisation.

Every failure to read a draft is a :class:`DraftError` with a kind and a message in Simplified Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PASTED = "粘贴文本"
# Zero-width and invisible format characters (also used to slip banned words past a filter), C0/C1
# controls other than tab/newline, and the byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")


class DraftError(ValueError):
    """A draft could not be read.

    Attributes:
        kind: ``empty``, ``unsupported``, ``too_large``, ``encrypted``, ``corrupt``, ``undecodable``,
            ``image_only`` (scanned PDF whose images cannot be extracted), ``no_text_in_image`` or
            ``ocr_unavailable``.
        message: the Chinese message to show the user.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


Point = tuple[float, float]


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line of an image.

    ``box`` holds the four corners (clockwise from top-left) in pixels of the image numbered
    ``image`` (0 for an uploaded image; for a scanned PDF, the page images in document order).
    ``Draft.text[start:start + len(text)] == text``.
    """

    text: str
    box: tuple[Point, Point, Point, Point]
    score: float
    image: int = 0
    start: int = 0


@dataclass(frozen=True)
class Draft:
    """A draft as plain text, with where it came from and, for images, the OCR lines."""

    text: str
    source: str
    kind: str  # "text" | "txt" | "docx" | "pdf" | "image"
    ocr_lines: tuple[OcrLine, ...] = ()


def normalise_text(text: str) -> str:
    """Unify newlines to ``\\n`` and drop the BOM, zero-width characters and stray control characters."""
    return _INVISIBLE.sub("", _NEWLINES.sub("\n", text))


def draft_from_text(text: str) -> Draft:
    """A draft from pasted text.

    Raises:
        DraftError: ``empty`` when nothing but whitespace is left.
    """
    clean = normalise_text(text)
    if not clean.strip():
        raise DraftError("empty", "没有可审核的内容：请粘贴文案文字，或上传 TXT、DOCX、PDF 文件或海报图片")
    return Draft(text=clean, source=PASTED, kind="text")
