"""Builders of real test input files (PDF, DOCX, TXT) written into a given folder.

Every builder writes a genuine file with the library that produces such files in the wild
(reportlab for PDF, pypdf for encryption, python-docx for DOCX) and returns its path.
"""

from __future__ import annotations

import io
from pathlib import Path

from comply.lawtext.numerals import int_to_cn

REGULATION_TITLE = "证券公司测试业务管理办法"
REGULATION_HEADER = "（2024年1月5日中国证券监督管理委员会令第999号公布）"
REGULATION_DOC_NUMBER = "中国证券监督管理委员会令第999号"
PDF_LINE_CHARS = 28
_WRAP_AT_BRACKET = "根据《证券法》（以下简称《法》）"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def article_paragraphs(n: int) -> list[str]:
    """The 款/项 paragraphs of article n of the synthetic regulation (label not included)."""
    cn = int_to_cn(n)
    if n == 2:
        # In the PDF the first line of this article ends exactly at "）" (a mid-sentence wrap).
        pad = PDF_LINE_CHARS - len(f"第{cn}条 ") - len(_WRAP_AT_BRACKET)
        return ["为规范测试业务活动以及相关的业务行为"[:pad] + _WRAP_AT_BRACKET + "和有关行政法规的规定，制定本办法。"]
    if n == 3:
        return [
            "证券公司开展测试业务，有下列情形之一的，应当在五个工作日内向住所地派出机构报告：",
            "（一）测试业务系统发生重大故障，影响客户正常交易超过三十分钟的；",
            "（二）客户资料或者交易数据发生泄露、篡改或者丢失的；",
            "（三）中国证券监督管理委员会规定的其他情形。",
            "派出机构收到报告后，应当及时核查并督促证券公司采取整改措施，防止损失扩大。",
        ]
    if n % 4 == 0:
        return [
            f"证券公司应当建立第{cn}项测试业务管理制度，明确测试流程、审批权限和留痕要求，并定期开展内部检查。",
            f"证券公司的合规负责人应当对第{cn}项测试业务制度的执行情况进行审查，发现问题的应当及时报告。",
        ]
    return [f"证券公司开展第{cn}项测试业务，应当遵守法律、行政法规和中国证券监督管理委员会的规定，诚实守信，勤勉尽责，保护投资者合法权益。"]


def article_text(n: int) -> str:
    """The body of article n as the segmenter should return it (paragraphs joined by blank lines)."""
    return "\n\n".join(article_paragraphs(n))


def _numbered_blocks(articles: int) -> list[tuple[int, str]]:
    """(article number, paragraph) pairs of the synthetic regulation; 0 for text before article 1."""
    blocks = [(0, REGULATION_TITLE), (0, REGULATION_HEADER), (0, "第一章 总则")]
    chapter_two_at = max(2, articles // 2 + 1)
    for n in range(1, articles + 1):
        if n == chapter_two_at:
            blocks.append((n - 1, "第二章 业务规则"))
        if n == articles and articles >= 3:
            blocks.append((n - 1, "第三章 附则"))
        paragraphs = article_paragraphs(n)
        blocks.append((n, f"第{int_to_cn(n)}条 {paragraphs[0]}"))
        blocks.extend((n, p) for p in paragraphs[1:])
    return blocks


def regulation_blocks(articles: int) -> list[str]:
    """The synthetic regulation as paragraphs: title, header, chapters, articles and a final 附则 chapter."""
    return [block for _, block in _numbered_blocks(articles)]


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def make_text_pdf(folder: Path, name: str = "证券公司测试业务管理办法.pdf", articles: int = 12) -> Path:
    """Write a multi-page Chinese regulation PDF (CID font, hard-wrapped lines, page numbers)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4)
    lines_per_page, font_size = 18, 12
    page, row = 1, 0

    def footer() -> None:
        pdf.setFont("STSong-Light", 9)
        pdf.drawCentredString(A4[0] / 2, 30, f"- {page} -")

    for block in regulation_blocks(articles):
        for line in _wrap(block, PDF_LINE_CHARS):
            if row == lines_per_page:
                footer()
                pdf.showPage()
                page, row = page + 1, 0
            pdf.setFont("STSong-Light", font_size)
            pdf.drawString(60, A4[1] - 70 - row * 24, line)
            row += 1
    footer()
    pdf.showPage()
    pdf.save()
    return path


def make_encrypted_pdf(folder: Path, name: str = "加密文件.pdf", password: str = "s3cret") -> Path:
    """Write a text PDF protected by a user password (cannot be opened without it)."""
    from pypdf import PdfReader, PdfWriter

    plain = make_text_pdf(folder, "_plain_for_encryption.pdf", articles=3)
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    path = folder / name
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_image_only_pdf(folder: Path, name: str = "扫描件.pdf") -> Path:
    """Write a one-page PDF that holds only a drawn raster image (like a scan), no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (200, 120), "white")
    draw = ImageDraw.Draw(image)
    for y in range(10, 110, 12):
        draw.line((10, y, 190, y), fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawImage(ImageReader(buffer), 50, 400, width=400, height=240)
    pdf.showPage()
    pdf.save()
    return path


def make_corrupt_pdf(folder: Path, name: str = "损坏文件.pdf") -> Path:
    """Write a file with a %PDF header followed by garbage and no xref/trailer (a truncated download)."""
    return _write(folder / name, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + bytes(range(256)) * 4)


def make_truncated_pdf(folder: Path, name: str = "截断文件.pdf") -> Path:
    """Write the first third of a real text PDF (cut off mid-stream)."""
    full = make_text_pdf(folder, "_full_for_truncation.pdf", articles=3)
    data = full.read_bytes()
    full.unlink()
    return _write(folder / name, data[: len(data) // 3])


def make_empty_file(folder: Path, name: str = "空文件.pdf") -> Path:
    """Write a 0-byte file (any suffix)."""
    return _write(folder / name, b"")


def make_blank_pdf(folder: Path, name: str = "空白页.pdf") -> Path:
    """Write a valid PDF with one blank page (no text, no images)."""
    from reportlab.pdfgen import canvas

    path = folder / name
    pdf = canvas.Canvas(str(path))
    pdf.showPage()
    pdf.save()
    return path


def make_zero_page_pdf(folder: Path, name: str = "零页.pdf") -> Path:
    """Write a structurally valid PDF whose page tree has no pages."""
    from pypdf import PdfWriter

    path = folder / name
    with path.open("wb") as fh:
        PdfWriter().write(fh)
    return path


def regulation_plain_text(articles: int) -> str:
    """The synthetic regulation as plain text, one paragraph per line (TXT/DOCX style)."""
    blocks = regulation_blocks(articles)
    # Paragraphs separated by single newlines, chapters by a blank line: a common TXT layout.
    out: list[str] = []
    for block in blocks:
        if block.startswith("第") and block.split(" ")[0].endswith("章") and out:
            out.append("")
        out.append(block)
    return "\n".join(out) + "\n"


def make_gbk_txt(folder: Path, name: str = "证券公司测试业务管理办法.txt", articles: int = 8) -> Path:
    """Write the synthetic regulation as a GBK-encoded TXT file."""
    return _write(folder / name, regulation_plain_text(articles).encode("gbk"))


def make_utf8_bom_txt(folder: Path, name: str = "证券公司测试业务管理办法.txt", articles: int = 8) -> Path:
    """Write the synthetic regulation as UTF-8 with a byte-order mark and CRLF line ends."""
    return _write(folder / name, regulation_plain_text(articles).replace("\n", "\r\n").encode("utf-8-sig"))


def make_binary_txt(folder: Path, name: str = "乱码.txt") -> Path:
    """Write a .txt file holding binary bytes that are neither UTF-8 nor GBK text."""
    return _write(folder / name, b"\x00\x01\x02\xff\xfe\x80" * 50 + bytes(range(256)) * 4)


DOCX_TABLE = [["业务类型", "报告时限", "报告对象"], ["测试业务", "五个工作日", "派出机构"], ["重大故障", "二十四小时", "中国证监会"]]


def make_docx(folder: Path, name: str = "证券公司测试业务管理办法.docx", articles: int = 6, table_after: int = 3) -> Path:
    """Write the synthetic regulation as a DOCX (one paragraph per 款/项) with a table inside article table_after."""
    import docx

    document = docx.Document()
    blocks = _numbered_blocks(articles)
    table_added = False
    for i, (n, block) in enumerate(blocks):
        document.add_paragraph(block)
        if n == table_after and not table_added and (i + 1 == len(blocks) or blocks[i + 1][1].startswith("第")):
            table_added = True
            table = document.add_table(rows=len(DOCX_TABLE), cols=len(DOCX_TABLE[0]))
            for r, row in enumerate(DOCX_TABLE):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
    path = folder / name
    document.save(str(path))
    return path


def make_fake_docx(folder: Path, name: str = "假文档.docx") -> Path:
    """Write a .docx file that is not a ZIP package at all."""
    return _write(folder / name, "这不是一个 Word 文档".encode("utf-8") * 20)


def make_unsupported_file(folder: Path, name: str = "表格.xlsx") -> Path:
    """Write a non-empty file with a suffix the reader does not support."""
    return _write(folder / name, b"PK\x03\x04 not really a spreadsheet")


def make_unknown_filter_pdf(folder: Path, name: str = "未知压缩.pdf") -> Path:
    """Write a text PDF whose content streams name a compression filter no reader knows."""
    path = make_text_pdf(folder, name, articles=3)
    data = path.read_bytes()
    if b"/ASCII85Decode" not in data:
        raise RuntimeError("reportlab no longer writes ASCII85 streams; adapt make_unknown_filter_pdf")
    path.write_bytes(data.replace(b"/ASCII85Decode", b"/ASCII99Decode"))  # same length: xref stays valid
    return path


def find_cjk_font() -> Path | None:
    """A font file that draws Simplified Chinese, or None.

    First Noto Sans SC from the ``pylopdf-fonts-zh-cn`` wheel (installed with pip, no root needed),
    then any system font that fontconfig lists for Chinese (e.g. Debian's ``fonts-wqy-zenhei``).
    """
    import shutil
    import subprocess

    try:
        import pylopdf_fonts_zh_cn

        path = pylopdf_fonts_zh_cn.sans_path()
        if path.is_file():
            return path
    except ImportError:
        pass
    if shutil.which("fc-list"):
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
        for line in sorted(listed.splitlines()):
            path = Path(line.split(":")[0].strip())
            if path.suffix.lower() in (".ttf", ".ttc", ".otf") and path.is_file():
                return path
    return None


def make_text_image(
    rows: list[list[str]],
    font_path: Path,
    *,
    size: int = 40,
    width: int = 640,
    row_gap: int = 50,
    top: int = 30,
    fmt: str = "PNG",
    colors: tuple[str, ...] = ("black", "#c00000"),
) -> bytes:
    """Render rows of phrases (each row's phrases spread left to right, in turns of ``colors``) on a
    white image tall enough for them, and return its encoded bytes (PNG or JPEG), like a poster."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    height = top * 2 + len(rows) * (size + row_gap)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for r, phrases in enumerate(rows):
        x, y = 30, top + r * (size + row_gap)
        for i, phrase in enumerate(phrases):
            draw.text((x, y), phrase, font=font, fill=colors[i % len(colors)])
            x += int(draw.textlength(phrase, font=font)) + 2 * size
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def make_scanned_pdf(folder: Path, image_bytes: bytes, name: str = "扫描海报.pdf") -> Path:
    """Write a one-page PDF whose only content is the given raster image (a scan: no text layer)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    width, height = Image.open(io.BytesIO(image_bytes)).size
    scale = min(1.0, (A4[0] - 100) / width)
    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawImage(ImageReader(io.BytesIO(image_bytes)), 50, A4[1] - 50 - height * scale, width=width * scale, height=height * scale)
    pdf.showPage()
    pdf.save()
    return path


def make_undecodable_image_pdf(folder: Path, name: str = "图片损坏的扫描件.pdf") -> Path:
    """Write a one-page PDF without text whose only image is a JPEG stream of garbage (cannot be decoded)."""
    return make_image_xobject_pdf(folder, bytes(range(256)) * 8, 400, 300, "DCTDecode", name, "DeviceRGB")


def make_docx_bomb(folder: Path, name: str = "压缩炸弹.docx", expanded_mb: int = 200, declared_bytes: int | None = None) -> Path:
    """Write a real DOCX (made by python-docx) whose document.xml is ``expanded_mb`` MB of repeated paragraphs,
    deflated to well under 1 MB. With ``declared_bytes``, its zip headers lie about that member's size."""
    import struct
    import zipfile

    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(buffer)
    head = source.read("word/document.xml").decode("utf-8").split("<w:body>")[0] + "<w:body>"
    block = "<w:p><w:r><w:t>证券公司应当遵守法律、行政法规的规定。</w:t></w:r></w:p>".encode() * 10_000
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, source.read(info.filename))
        with archive.open("word/document.xml", "w") as member:
            member.write(head.encode("utf-8"))
            for _ in range(expanded_mb * 2**20 // len(block) + 1):
                member.write(block)
            member.write(b"</w:body></w:document>")
    if declared_bytes is not None:
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("word/document.xml")
        struct.pack_into("<I", data, info.header_offset + 22, declared_bytes)  # local file header
        central = struct.unpack_from("<I", data, data.rindex(b"PK\x05\x06") + 16)[0]  # from the end record
        while data[central + 46 : central + 46 + 17] != b"word/document.xml":  # to the member's directory entry
            central += 46 + sum(struct.unpack_from("<HHH", data, central + 28))
        struct.pack_into("<I", data, central + 24, declared_bytes)
        path.write_bytes(bytes(data))
    return path


def make_one_line_pdf(folder: Path, name: str = "通知.pdf", line: str = "公司通知：下周一开会。") -> Path:
    """Write a real one-page PDF holding a single line of Chinese text."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = folder / name
    pdf = canvas.Canvas(str(path))
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(60, 700, line)
    pdf.showPage()
    pdf.save()
    return path


def make_image_xobject_pdf(
    folder: Path, stream: bytes, width: int, height: int, filter_name: str, name: str = "扫描件图片.pdf", color_space: str = "DeviceGray"
) -> Path:
    """Write a one-page PDF without text whose only image XObject holds ``stream`` (already encoded with
    ``filter_name``, e.g. FlateDecode or DCTDecode) and declares ``width`` × ``height``, true or not."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length 35 >>\nstream\nq 400 0 0 300 50 400 cm /Im0 Do Q\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /%s /BitsPerComponent 8 /Filter /%s /Length %d >>\n"
        b"stream\n" % (width, height, color_space.encode(), filter_name.encode(), len(stream)) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return _write(folder / name, bytes(out))
