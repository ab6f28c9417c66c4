"""Reading marketing drafts: pasted text, TXT/DOCX/PDF through the real readers, images and scanned
PDFs through real OCR (RapidOCR, models from its wheel), and sections that keep their offsets."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import PROJECT
from support import factories as f

from review.draft import PASTED, Draft, DraftError, draft_from_text
from review.inputs import read_draft
from review.ocr import load_ocr_engine
from review.sections import Section, split_sections

ROOT = PROJECT
POSTER_ROWS = [["稳健理财", "年化收益8%"], ["保本保息", "欲购从速"]]
POSTER_PHRASES = ["稳健理财", "年化收益8%", "保本保息", "欲购从速"]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def read_file(path: Path, **kwargs: float) -> Draft:
    return read_draft(path.name, path.read_bytes(), **kwargs)


# --- pasted text ---------------------------------------------------------------------------------


def test_paste_is_normalised() -> None:
    draft = draft_from_text("\ufeff稳健理财，保\u200b本\u2060保息！\r\n欲购\u200d从速\r第二行\u2028")
    assert draft == Draft(text="稳健理财，保本保息！\n欲购从速\n第二行\n", source=PASTED, kind="text")
    assert draft.ocr_lines == ()


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n\t", "\u3000\u200b\ufeff"])
def test_empty_paste(text: str) -> None:
    with pytest.raises(DraftError) as info:
        draft_from_text(text)
    assert info.value.kind == "empty"
    assert "请粘贴" in str(info.value)
    assert isinstance(info.value, ValueError)


# --- text files, DOCX, PDF -----------------------------------------------------------------------


def test_txt_utf8_plain_and_bom_crlf(tmp_path: Path) -> None:
    plain = read_draft("文案.txt", "稳健理财\n年化收益8%\n".encode())
    assert (plain.text, plain.source, plain.kind) == ("稳健理财\n年化收益8%\n", "文案.txt", "txt")
    bom = read_file(f.make_utf8_bom_txt(tmp_path))
    assert bom.text == f.regulation_plain_text(8)  # BOM gone, CRLF → LF


def test_txt_gbk(tmp_path: Path) -> None:
    draft = read_file(f.make_gbk_txt(tmp_path))
    assert draft.kind == "txt"
    assert draft.text == f.regulation_plain_text(8)


def test_markdown_and_nameless_text() -> None:
    assert read_draft("草稿.md", "# 标题\n正文".encode()).kind == "txt"
    assert read_draft("草稿", "保本保息".encode("gbk")).text == "保本保息"


def test_docx(tmp_path: Path) -> None:
    draft = read_file(f.make_docx(tmp_path))
    assert draft.kind == "docx"
    assert draft.source == "证券公司测试业务管理办法.docx"
    assert f.article_paragraphs(3)[1] in draft.text
    assert " | ".join(f.DOCX_TABLE[0]) in draft.text


def test_pdf_with_text(tmp_path: Path) -> None:
    draft = read_file(f.make_text_pdf(tmp_path, articles=6))
    assert (draft.kind, draft.ocr_lines) == ("pdf", ())
    assert f"第五条 {f.article_paragraphs(5)[0]}" in draft.text  # hard-wrapped lines re-flowed
    assert "- 1 -" not in draft.text


def test_file_detected_by_content_not_name(tmp_path: Path) -> None:
    pdf = f.make_text_pdf(tmp_path, articles=2).read_bytes()
    assert read_draft("文案", pdf).kind == "pdf"
    assert read_draft("文案.txt", pdf).kind == "pdf"
    docx = f.make_docx(tmp_path, articles=2).read_bytes()
    assert read_draft("C:\\fakepath\\文案", docx).source == "文案"
    assert read_draft("文案", docx).kind == "docx"


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (f.make_encrypted_pdf, "encrypted"),
        (f.make_corrupt_pdf, "corrupt"),
        (f.make_truncated_pdf, "corrupt"),
        (f.make_zero_page_pdf, "empty"),
        (f.make_blank_pdf, "empty"),
        (f.make_empty_file, "empty"),
        (f.make_fake_docx, "corrupt"),
        (f.make_binary_txt, "undecodable"),
        (f.make_undecodable_image_pdf, "image_only"),
    ],
)
def test_bad_files(tmp_path: Path, build: object, kind: str) -> None:
    path = build(tmp_path)  # type: ignore[operator]
    with pytest.raises(DraftError) as info:
        read_file(path)
    assert info.value.kind == kind
    message = str(info.value)
    assert message.startswith(f"{path.name}：")  # the user's file name, never the temporary one
    assert "upload" not in message
    assert re.search(r"[\u4e00-\u9fff]{4}", message)


def test_too_large() -> None:
    data = "保本保息".encode() * 200_000  # 2.3 MB
    with pytest.raises(DraftError) as info:
        read_draft("长文案.txt", data, max_mb=1)
    assert info.value.kind == "too_large"
    assert str(info.value) == "长文案.txt：文件 2.3 MB，超过上限 1 MB"


@pytest.mark.parametrize(("name", "hint"), [("表格.xlsx", "不支持的文件类型 .xlsx"), ("旧文案.doc", "另存为 .docx")])
def test_unsupported(name: str, hint: str) -> None:
    with pytest.raises(DraftError) as info:
        read_draft(name, b"\xd0\xcf\x11\xe0 some binary")
    assert info.value.kind == "unsupported"
    assert hint in str(info.value)


def test_image_with_too_many_pixels() -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (8000, 6000), 1).save(buffer, format="PNG")  # 48 megapixels in a few kilobytes
    with pytest.raises(DraftError) as info:
        read_draft("巨幅海报.png", buffer.getvalue())
    assert info.value.kind == "too_large"


def test_corrupt_image() -> None:
    with pytest.raises(DraftError) as info:
        read_draft("海报.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert info.value.kind == "corrupt"


# --- OCR -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cjk_font() -> Path:
    font = f.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font: pip install pylopdf-fonts-zh-cn==0.1.1 (or apt-get install fonts-wqy-zenhei)")
    return font


@pytest.fixture(scope="module")
def ocr_engine() -> object:
    """The process-wide engine, loaded once for this module."""
    return load_ocr_engine()


@pytest.fixture(scope="module")
def poster(cjk_font: Path) -> bytes:
    return f.make_text_image(POSTER_ROWS, cjk_font, size=40, width=560)


def test_ocr_poster(poster: bytes, ocr_engine: object) -> None:
    draft = read_draft("海报.png", poster)
    assert (draft.kind, draft.source) == ("image", "海报.png")
    rows = draft.text.split("\n")
    assert [squeeze(row) for row in rows] == ["稳健理财年化收益8%", "保本保息欲购从速"]  # one line per visual row
    assert draft.ocr_lines and all(line.score >= 0.5 for line in draft.ocr_lines)
    for line in draft.ocr_lines:
        assert draft.text[line.start : line.start + len(line.text)] == line.text
        assert len(line.box) == 4 and all(len(point) == 2 for point in line.box)
    # Boxes sit where the phrases were drawn: the first row above the second, left phrase left of the right one.
    first = next(line for line in draft.ocr_lines if "稳健" in line.text)
    last = next(line for line in draft.ocr_lines if "从速" in line.text)
    assert max(y for _, y in first.box) < min(y for _, y in last.box)
    assert min(x for x, _ in first.box) < min(x for x, _ in last.box)


def test_ocr_jpeg(cjk_font: Path, ocr_engine: object) -> None:
    jpeg = f.make_text_image([["本金无忧"]], cjk_font, size=40, width=300, fmt="JPEG")
    assert squeeze(read_draft("截图.JPG", jpeg).text) == "本金无忧"


def test_blank_image(ocr_engine: object) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buffer, format="PNG")
    with pytest.raises(DraftError) as info:
        read_draft("空白.png", buffer.getvalue())
    assert info.value.kind == "no_text_in_image"
    assert "没有识别出文字" in str(info.value)


def test_scanned_pdf_is_ocrd(tmp_path: Path, poster: bytes, ocr_engine: object) -> None:
    draft = read_file(f.make_scanned_pdf(tmp_path, poster))
    assert draft.kind == "pdf"
    assert all(phrase in draft.text for phrase in POSTER_PHRASES)
    assert {line.image for line in draft.ocr_lines} == {0}


def test_scanned_pdf_without_text(tmp_path: Path, ocr_engine: object) -> None:
    with pytest.raises(DraftError) as info:
        read_file(f.make_image_only_pdf(tmp_path))  # a drawn raster of lines, no letters
    assert info.value.kind == "no_text_in_image"
    assert "扫描件" in str(info.value)


def test_long_screenshot_read_in_tiles(cjk_font: Path, ocr_engine: object) -> None:
    """A screenshot taller than the engine's 2000-pixel side is OCR'd in overlapping tiles: every
    line once, in order, including the lines that cross a tile edge."""
    rows = [[f"第{i}行收益{i}号"] for i in range(30)]
    image = f.make_text_image(rows, cjk_font, size=30, width=760, row_gap=42)  # 760 × 2220 pixels
    draft = read_draft("长截图.png", image)
    assert [squeeze(row) for row in draft.text.split("\n")] == [squeeze(row[0]) for row in rows]


def test_ocr_offline_in_fresh_process(tmp_path: Path, poster: bytes) -> None:
    """In a new process with every network call refused, the engine loads once from several threads
    (models from the wheel, nothing downloaded) and reads the poster."""
    (tmp_path / "poster.png").write_bytes(poster)
    script = textwrap.dedent(
        """
        import json, socket, sys
        from concurrent.futures import ThreadPoolExecutor

        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")

        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = socket.getaddrinfo = refuse
        from review import inputs, ocr

        with ThreadPoolExecutor(4) as pool:
            engines = list(pool.map(lambda _: id(ocr.load_ocr_engine()), range(4)))
        draft = inputs.read_draft("poster.png", open(sys.argv[1], "rb").read())
        print(json.dumps({"engines": len(set(engines)), "text": draft.text}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "poster.png")], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["engines"] == 1
    assert all(phrase in result["text"] for phrase in POSTER_PHRASES)


# --- sections ------------------------------------------------------------------------------------

_TERMINALS = "。！？；!?;…”’」』）)】\"'"


def _long_draft(rng: random.Random) -> tuple[str, list[str]]:
    """A marketing draft with headings, paragraphs of sentences, single-line slogans and one very
    long sentence without any full stop; returns the text and its sentences."""
    words = ["本产品", "稳健", "收益", "投资者", "风险", "基金", "年化", "8%", "管理人", "历史业绩", "不代表未来表现", "理财"]
    sentences: list[str] = []
    parts: list[str] = []
    for chapter in range(1, 9):
        parts.append(f"{'一二三四五六七八'[chapter - 1]}、第{chapter}部分产品介绍\n")
        for _ in range(rng.randint(1, 4)):
            paragraph = []
            for _ in range(rng.randint(1, 8)):
                sentence = "".join(rng.choice(words) for _ in range(rng.randint(3, 25))) + rng.choice("。！？；") + rng.choice(["", "”"])
                sentences.append(sentence)
                paragraph.append(sentence)
            parts.append("".join(paragraph) + rng.choice(["\n", "\n\n", "\n\u3000\n"]))
        if chapter == 4:
            long_sentence = "，".join("".join(rng.choice(words) for _ in range(6)) for _ in range(60)) + "。"
            sentences.append(long_sentence)
            parts.append(long_sentence + "\n\n")
    return "  " + "".join(parts), sentences


@pytest.mark.parametrize("max_chars", [60, 150, 400, 1500])
def test_split_sections_offsets_and_boundaries(max_chars: int) -> None:
    rng = random.Random(max_chars)
    text, sentences = _long_draft(rng)
    sections = split_sections(text, max_chars)
    long_spans = [(m.start(), m.end()) for s in sentences if len(s) > max_chars for m in re.finditer(re.escape(s), text)]
    previous_end = 0
    for section in sections:
        assert text[section.start : section.start + len(section.text)] == section.text
        assert 0 < len(section.text) <= max_chars
        assert section.text == section.text.strip()
        assert section.start >= previous_end
        assert not text[previous_end : section.start].strip()  # only whitespace is left out
        previous_end = section.start + len(section.text)
        end = previous_end
        inside_long = any(a < end < b for a, b in long_spans)
        at_boundary = end == len(text.rstrip()) or text[end - 1] in _TERMINALS or text[end] == "\n"
        assert inside_long or at_boundary, f"cut mid-sentence at {end}: {text[end - 10:end + 10]!r}"
    assert not text[previous_end:].strip()
    # A heading ends a section after other text only when it would not fit with what follows it.
    for section, following in zip(sections, sections[1:]):
        *before, last = section.text.split("\n")
        if re.fullmatch(r"[一二三四五六七八]、第\d部分产品介绍", last) and "".join(before).strip():
            assert following.start + len(following.text) - (section.start + len(section.text) - len(last)) > max_chars
    if max_chars == 1500:
        assert len(sections) < len(text) / 1000  # short paragraphs are packed together, not one per section


def test_split_sections_short_and_empty() -> None:
    assert split_sections("  保本保息，欲购从速。 \n") == [Section(2, "保本保息，欲购从速。")]
    assert split_sections(" \n\u3000") == []
    with pytest.raises(ValueError):
        split_sections("文案", 0)


def test_split_sections_hard_cut_without_punctuation() -> None:
    text = "保本" * 100
    sections = split_sections(text, 30)
    assert "".join(s.text for s in sections) == text
    assert all(len(s.text) <= 30 for s in sections)
