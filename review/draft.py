"""A marketing draft as plain text: where it came from, OCR lines for images, and the length cap.

Every failure to read a draft is a :class:`DraftError` with a kind and a message in Simplified Chinese.
Every way into a review (paste, file, batch line, evaluation set) goes through :func:`comply.text.normalise_text`,
and a review refuses a draft longer than the ``max_draft_chars`` setting (:func:`review_text`).
"""

from __future__ import annotations

from dataclasses import dataclass

from comply.config import load_settings
from comply.text import normalise_text

PASTED = "粘贴文本"
# Zero-width and invisible format characters (also used to slip banned words past a filter), C0/C1
# controls other than tab/newline, and the byte-order mark.


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


def review_text(text: str, max_chars: int) -> str:
    """The normalised text of a draft, refused when longer than ``max_chars`` characters.

    Raises:
        DraftError: ``too_large``, naming the draft's length and the cap.
    """
    clean = normalise_text(text)
    if len(clean) > max_chars:
        raise DraftError("too_large", f"文案共 {len(clean):,} 字，超过单篇审核上限 {max_chars:,} 字，请删减或拆分后分别审核")
    return clean


def draft_from_text(text: str, max_chars: int | None = None) -> Draft:
    """A draft from pasted text (or one line of a batch); ``max_chars`` defaults to the ``max_draft_chars`` setting.

    Raises:
        DraftError: ``empty`` when nothing but whitespace is left, ``too_large`` over ``max_chars``.
    """
    clean = review_text(text, load_settings().max_draft_chars if max_chars is None else max_chars)
    if not clean.strip():
        raise DraftError("empty", "没有可审核的内容：请粘贴文案文字，或上传 TXT、DOCX、PDF 文件或海报图片")
    return Draft(text=clean, source=PASTED, kind="text")
