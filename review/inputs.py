"""Read a marketing draft from pasted text or an uploaded file (TXT, DOCX, PDF, PNG/JPG) into plain text.

Files go through the knowledge-base readers (``comply.files.readers``) for TXT (UTF-8/BOM/GB18030),
DOCX and PDF; images, and scanned PDFs without a text layer, go through Chinese OCR
(RapidOCR with the PP-OCRv4 models shipped inside the ``rapidocr_onnxruntime`` wheel, so nothing
is downloaded at run time). Every failure is a :class:`DraftError` with a kind and a message in
Simplified Chinese. Long drafts are cut into :class:`Section` objects that keep their offsets.
"""

from __future__ import annotations

import io
import math
import re
import statistics
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comply.files.errors import ReadError
from comply.files.readers import TEXT_SUFFIXES, decode_text, oversize_message, read_docx, read_pdf

if TYPE_CHECKING:
    from PIL import Image

PASTED = "粘贴文本"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
MIN_OCR_SCORE = 0.5
MAX_IMAGE_PIXELS = 40_000_000  # e.g. a 1080 × 37,000 long screenshot; more is refused before decoding
MAX_PDF_OCR_IMAGES = 50  # a scanned PDF with more page images is refused rather than OCR'd for minutes
_MIN_IMAGE_SIDE = 32  # smaller embedded PDF images (icons, rules) are not worth OCR
_TILE_SIDE = 2000  # RapidOCR shrinks anything longer than this; long screenshots are OCR'd in tiles
_TILE_OVERLAP = 300  # taller than any text line expected in a long screenshot
_INGEST_KINDS = {"oversize": "too_large"}
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


@dataclass(frozen=True)
class Section:
    """A slice of a draft: ``draft[start:start + len(text)] == text``."""

    start: int
    text: str


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


def read_draft(name: str, data: bytes, max_mb: float = 20.0) -> Draft:
    """A draft from an uploaded file, by its content (magic bytes) first and its extension second.

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
        elif kind == "image":
            text, ocr = _ocr_images([(0, _open_image(source, data))], source, "图片中没有识别出文字")
        else:
            text, ocr = _read_office(kind, source, data)
    except ReadError as exc:
        raise DraftError(_INGEST_KINDS.get(exc.kind, exc.kind), exc.message) from exc
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


def _read_office(kind: str, source: str, data: bytes) -> tuple[str, tuple[OcrLine, ...]]:
    """Read a DOCX or PDF with the knowledge-base readers (which take a path); OCR a scanned PDF."""
    with tempfile.TemporaryDirectory(prefix="draft-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        try:
            if kind == "docx":
                return read_docx(path), ()
            try:
                return read_pdf(path), ()
            except ReadError as exc:
                if exc.kind != "image_only":
                    raise
            return _ocr_images(_pdf_images(path, source), source, "PDF 是扫描件（只有图片），图片中没有识别出文字")
        except ReadError as exc:
            raise ReadError(exc.kind, exc.message.replace(path.name, source)) from exc


def _pdf_images(path: Path, source: str) -> list[tuple[int, Image.Image]]:
    """The decodable images of a PDF without a text layer, numbered in document order."""
    from pypdf import PdfReader

    reader = PdfReader(str(path), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")  # read_pdf already refused PDFs that need a password
    files: list[Any] = []
    for page in reader.pages:
        try:
            files.extend(page.images)
        except Exception:  # noqa: BLE001, S112 - a page whose image list is broken adds nothing
            continue
    if len(files) > MAX_PDF_OCR_IMAGES:
        raise DraftError("too_large", f"{source}：扫描版 PDF 含 {len(files)} 张图片，超过文字识别上限 {MAX_PDF_OCR_IMAGES} 张，请上传文字版或拆分后上传")
    images: list[tuple[int, Image.Image]] = []
    for number, file in enumerate(files):
        try:
            image = file.image
            image.load()
        except Exception:  # noqa: BLE001, S112 - an undecodable stream (e.g. JBIG2 without a decoder) is skipped
            continue
        if image is not None and min(image.size) >= _MIN_IMAGE_SIDE:
            images.append((number, image))
    if not images:
        raise DraftError("image_only", f"{source}：PDF 是扫描件（只有图片、没有文字层），且无法提取其中的图片进行文字识别，请上传文字版 PDF 或页面截图")
    return images


def _open_image(source: str, data: bytes) -> Image.Image:
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


# --- OCR -----------------------------------------------------------------------------------------

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


def _ocr_images(images: list[tuple[int, Image.Image]], source: str, nothing: str) -> tuple[str, tuple[OcrLine, ...]]:
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


# --- sections ------------------------------------------------------------------------------------

_HEADING = r"[ \t\u3000]*(?:#{1,6}\s|第[〇零一二三四五六七八九十百千\d]+[编章节条部分]|[一二三四五六七八九十]+[、.．]|（[一二三四五六七八九十]+）|【)"
# Cut points, strongest first: paragraph breaks (blank lines, or a line starting a heading), line
# ends, sentence ends (after any closing quotes), and clause ends (only for over-long sentences).
_BREAKS = (
    re.compile(rf"\n[ \t\u3000]*\n|\n(?={_HEADING})"),
    re.compile(r"\n"),
    re.compile(r"[。！？!?；;…]+[”’」』）)】\"']*"),
    re.compile(r"[，,、：:]"),
)
_HEADING_LINE = re.compile(rf"{_HEADING}[^\n]{{0,40}}$")


def split_sections(text: str, max_chars: int = 1500) -> list[Section]:
    """Cut a draft into sections of at most ``max_chars`` characters, at paragraph breaks, headings or
    sentence ends (inside a sentence only when it is longer than ``max_chars``).

    Sections keep their offsets (``text[s.start:s.start + len(s.text)] == s.text``), are in order,
    do not overlap, and have no leading or trailing whitespace; only whitespace is left out.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    return [Section(a, text[a:b]) for a, b in _split(text, 0, len(text), max_chars, 0)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split(text: str, start: int, end: int, max_chars: int, level: int) -> list[tuple[int, int]]:
    start, end = _trim(text, start, end)
    if start >= end:
        return []
    if end - start <= max_chars:
        return [(start, end)]
    if level == len(_BREAKS):
        pieces = [_trim(text, a, min(a + max_chars, end)) for a in range(start, end, max_chars)]
        return [(a, b) for a, b in pieces if a < b]
    cuts = [start, *(m.end() for m in _BREAKS[level].finditer(text, start, end) if start < m.end() < end), end]
    pieces = [piece for a, b in zip(cuts, cuts[1:]) for piece in _split(text, a, b, max_chars, level + 1)]
    return _pack(text, pieces, max_chars)


def _pack(text: str, pieces: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Merge neighbouring pieces greedily up to ``max_chars``; a heading moves on with what follows it."""
    groups: list[list[tuple[int, int]]] = []
    for piece in pieces:
        if groups and piece[1] - groups[-1][0][0] <= max_chars:
            groups[-1].append(piece)
            continue
        if groups and len(groups[-1]) > 1 and _HEADING_LINE.match(text, *groups[-1][-1]):
            last = groups[-1][-1]
            if piece[1] - last[0] <= max_chars:
                groups[-1].pop()
                groups.append([last, piece])
                continue
        groups.append([piece])
    return [(group[0][0], group[-1][1]) for group in groups]


__all__ = [
    "PASTED",
    "Draft",
    "DraftError",
    "OcrLine",
    "Section",
    "draft_from_text",
    "load_ocr_engine",
    "normalise_text",
    "read_draft",
    "split_sections",
]
