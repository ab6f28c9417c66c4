"""Chinese OCR of posters, screenshots and scanned PDFs: RapidOCR with the PP-OCRv4 models shipped inside the
``rapidocr_onnxruntime`` wheel (nothing is downloaded at run time). Lines are read into rows, top to bottom
and left to right; long screenshots are read in overlapping tiles.
"""

from __future__ import annotations

import io
import math
import statistics
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comply.files.limits import DEFAULT_LIMITS, ReadLimits, pdf_bounds
from comply.text import normalise_text
from review.draft import DraftError, OcrLine, Point

if TYPE_CHECKING:
    from PIL import Image

MIN_OCR_SCORE = 0.5
MAX_IMAGE_PIXELS = 40_000_000  # e.g. a 1080 × 37,000 long screenshot; more is refused before decoding
MAX_PDF_OCR_IMAGES = 50  # a scanned PDF with more page images is refused rather than OCR'd for minutes
_MIN_IMAGE_SIDE = 32  # smaller embedded PDF images (icons, rules) are not worth OCR
_TILE_SIDE = 2000  # RapidOCR shrinks anything longer than this; long screenshots are OCR'd in tiles
_TILE_OVERLAP = 300  # taller than any text line expected in a long screenshot


def pdf_images(path: Path, source: str, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[tuple[int, Image.Image]]:
    """The decodable images of a PDF without a text layer, numbered in document order.

    Before any image is decoded they are counted and each one's declared size is held against the pixel cap;
    then they are decoded one at a time, as the caller reads them, so only one is held in memory.
    """
    from pypdf import PdfReader

    with pdf_bounds(limits):
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")  # read_pdf already refused PDFs that need a password
        found: list[tuple[Any, Any]] = []
        for page in reader.pages:
            try:
                found += [(page, key) for key in page.images.keys()]  # noqa: SIM118 - iterating would decode them all
            except Exception:  # noqa: BLE001, S112 - a page whose image list is broken adds nothing
                continue
        if len(found) > MAX_PDF_OCR_IMAGES:
            raise DraftError("too_large", f"{source}：扫描版 PDF 含 {len(found)} 张图片，超过文字识别上限 {MAX_PDF_OCR_IMAGES} 张，请上传文字版或拆分后上传")
        if any(_declared_pixels(page, key) > MAX_IMAGE_PIXELS for page, key in found):
            raise _pdf_image_too_large(source)
    return _decoded(found, source, limits)


def _pdf_image_too_large(source: str) -> DraftError:
    return DraftError("too_large", f"{source}：PDF 中的图片尺寸过大（超过 {MAX_IMAGE_PIXELS // 1_000_000} 百万像素），请缩小后上传")


def _declared_pixels(page: Any, key: str | list[str]) -> int:
    """An image's pixel count before decoding: as its dictionary declares it and, for an embedded JPEG or JPEG 2000,
    as the file's own header says (the larger). 0 for an inline image, or one without a readable dictionary."""
    from PIL import Image as PILImage

    names = [key] if isinstance(key, str) else list(key)
    if names[-1].startswith("~"):
        return 0  # inline images live in the content stream, whose size pypdf already bounded
    try:
        holder = page
        for name in names:
            holder = holder["/Resources"].get_object()["/XObject"].get_object()[name].get_object()
        pixels = int(holder["/Width"]) * int(holder["/Height"])
        filters = holder.get("/Filter")
        last = filters[-1] if isinstance(filters, list) and filters else filters
        if last in ("/DCTDecode", "/JPXDecode"):
            with PILImage.open(io.BytesIO(holder.get_data())) as header:  # reads the header only
                pixels = max(pixels, header.width * header.height)
        return pixels
    except PILImage.DecompressionBombError:
        return MAX_IMAGE_PIXELS + 1
    except Exception:  # noqa: BLE001 - not a readable image: pypdf will fail to decode it and it is skipped
        return 0


def _decoded(found: list[tuple[Any, Any]], source: str, limits: ReadLimits) -> Iterator[tuple[int, Image.Image]]:
    """Decode the found images one at a time, skipping undecodable and tiny ones; none at all is an error."""
    yielded = False
    for number, (page, key) in enumerate(found):
        try:
            with pdf_bounds(limits):
                image = page.images[key].image
                image.load()
        except Exception:  # noqa: BLE001, S112 - an undecodable stream (e.g. JBIG2 without a decoder) is skipped
            continue
        if image.width * image.height > MAX_IMAGE_PIXELS:  # an inline image, only measurable once decoded
            raise _pdf_image_too_large(source)
        if min(image.size) >= _MIN_IMAGE_SIDE:
            yielded = True
            yield number, image
    if not yielded:
        raise DraftError("image_only", f"{source}：PDF 是扫描件（只有图片、没有文字层），且无法提取其中的图片进行文字识别，请上传文字版 PDF 或页面截图")


def open_image(source: str, data: bytes) -> Image.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise Image.DecompressionBombError(f"{image.width}x{image.height}")
        image.load()
    except Image.DecompressionBombError as exc:
        raise DraftError("too_large", f"{source}：图片尺寸过大（超过 {MAX_IMAGE_PIXELS // 1_000_000} 百万像素），请缩小后上传") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DraftError("corrupt", f"{source}：图片已损坏或格式无法识别") from exc
    return ImageOps.exif_transpose(image)


_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()


def load_ocr_engine() -> Any:
    """The process-wide RapidOCR engine, loaded on first use (call at start-up to warm it up)."""
    global _ENGINE  # noqa: PLW0603 - one engine per process
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as exc:
                    raise DraftError("ocr_unavailable", "图片文字识别组件（rapidocr_onnxruntime）未安装，暂时无法审核图片") from exc
                _ENGINE = RapidOCR()
    return _ENGINE


@dataclass(frozen=True)
class _Raw:
    text: str
    box: tuple[Point, Point, Point, Point]
    score: float

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)


def _recognise(image: Image.Image) -> list[_Raw]:
    """OCR lines of one image (long screenshots in overlapping tiles); low-confidence lines are dropped."""
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        background = PILImage.new("RGBA", image.size, "white")
        image = PILImage.alpha_composite(background, image)
    image = image.convert("RGB")
    width, height = image.size
    tiled = height > _TILE_SIDE and height > 2 * width
    tops = range(0, height - _TILE_OVERLAP, _TILE_SIDE - _TILE_OVERLAP) if tiled else range(1)
    engine = load_ocr_engine()
    lines: list[_Raw] = []
    for top in tops:
        bottom = min(top + _TILE_SIDE, height) if tiled else height
        # A line belongs to the tile whose own band (the overlaps split in half) holds its centre,
        # so a line crossing a tile edge is read once, from the tile that holds it whole.
        own_top = top + _TILE_OVERLAP / 2 if top else -math.inf
        own_bottom = bottom - _TILE_OVERLAP / 2 if bottom < height else math.inf
        with _ENGINE_LOCK:
            result, _ = engine(image.crop((0, top, width, bottom)))
        for box, text, score in result or ():
            corners = tuple((float(x), float(y) + top) for x, y in box)
            line = _Raw(normalise_text(str(text)).strip(), corners, float(score))  # type: ignore[arg-type]
            # Lines of punctuation only (".." read off ruled lines or borders) carry no words and are dropped too.
            legible = line.score >= MIN_OCR_SCORE and any(ch.isalnum() for ch in line.text)
            if legible and own_top <= (line.top + line.bottom) / 2 < own_bottom:
                lines.append(line)
    return lines


def _rows(lines: list[_Raw]) -> list[list[_Raw]]:
    """Group lines into visual rows (top to bottom), each row left to right."""
    rows: list[list[_Raw]] = []
    for line in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        if rows:
            row = rows[-1]
            row_centre = statistics.fmean((ln.top + ln.bottom) / 2 for ln in row)
            row_height = statistics.median(ln.bottom - ln.top for ln in row)
            if abs((line.top + line.bottom) / 2 - row_centre) <= 0.5 * min(row_height, line.bottom - line.top):
                row.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.left) for row in rows]


def ocr_images(images: Iterable[tuple[int, Image.Image]], source: str, nothing: str) -> tuple[str, tuple[OcrLine, ...]]:
    """Text of the images (rows joined by newlines, images by blank lines) and its OCR lines with offsets."""
    text, lines = "", []
    for number, image in images:
        rows = _rows(_recognise(image))
        if not rows:
            continue
        if text:
            text += "\n\n"
        for r, row in enumerate(rows):
            if r:
                text += "\n"
            for i, raw in enumerate(row):
                if i:
                    text += " "
                lines.append(OcrLine(raw.text, raw.box, raw.score, image=number, start=len(text)))
                text += raw.text
    if not lines:
        raise DraftError("no_text_in_image", f"{source}：{nothing}（可信度低于 {MIN_OCR_SCORE} 的文字已忽略），请上传更清晰的图片或直接粘贴文字")
    return text, tuple(lines)
