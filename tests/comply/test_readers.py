"""Reading real PDF, DOCX and TXT files: clear ReadErrors for bad input, intact articles for good input."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader
from support import factories

from comply.config import load_settings
from comply.files.errors import ReadError
from comply.files.readers import decode_text, read_file
from kb_ingest.documents import ParsedDocument, parse_document

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def settings():
    return load_settings(max_file_mb=50)


def _articles(doc: ParsedDocument) -> dict[int, str]:
    """Article number → full article text (chunks of a split article joined again)."""
    out: dict[int, list[str]] = {}
    for chunk in doc.chunks:
        if chunk.article_no is not None:
            out.setdefault(chunk.article_no, []).append(chunk.text)
    return {n: "\n\n".join(texts) for n, texts in out.items()}


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (factories.make_encrypted_pdf, "encrypted"),
        (factories.make_image_only_pdf, "image_only"),
        (factories.make_corrupt_pdf, "corrupt"),
        (factories.make_truncated_pdf, "corrupt"),
        (factories.make_unknown_filter_pdf, "corrupt"),
        (factories.make_empty_file, "empty"),
        (factories.make_blank_pdf, "empty"),
        (factories.make_zero_page_pdf, "empty"),
        (factories.make_binary_txt, "undecodable"),
        (factories.make_fake_docx, "corrupt"),
        (factories.make_unsupported_file, "unsupported"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__.removeprefix("make_"),
)
def test_bad_input_raises_ingest_error_naming_the_file(
    tmp_path: Path, settings, make: Callable[[Path], Path], kind: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ReadError) as info:
        parse_document(path, settings)
    assert info.value.kind == kind
    assert info.value.message.startswith(path.name + "：")
    assert CJK.search(info.value.message.removeprefix(path.name))
    assert str(info.value) == info.value.message


def test_encrypted_pdf_really_needs_the_password(tmp_path: Path) -> None:
    path = factories.make_encrypted_pdf(tmp_path, password="pw-123")
    reader = PdfReader(str(path))
    assert reader.is_encrypted
    assert reader.decrypt("pw-123")
    assert "第一条" in reader.pages[0].extract_text()


def test_oversize_file_is_rejected_before_reading(tmp_path: Path) -> None:
    path = factories.make_text_pdf(tmp_path, articles=3)
    tiny = load_settings(max_file_mb=0.001)  # about 1 KB
    with pytest.raises(ReadError) as info:
        parse_document(path, tiny)
    assert info.value.kind == "oversize"
    assert path.name in info.value.message
    assert "超过上限 1 KB" in info.value.message  # not "0 MB"
    with pytest.raises(ReadError) as direct:
        read_file(path, path.stat().st_size - 1)
    assert direct.value.kind == "oversize"
    assert read_file(path, path.stat().st_size)  # exactly at the limit is fine


def test_text_pdf_reflows_lines_and_keeps_every_article(tmp_path: Path, settings) -> None:
    path = factories.make_text_pdf(tmp_path, articles=12)
    assert len(PdfReader(str(path)).pages) >= 3
    doc = parse_document(path, settings)
    assert doc.is_legal
    articles = _articles(doc)
    assert sorted(articles) == list(range(1, 13))
    for n, text in articles.items():
        assert text == factories.article_text(n), f"article {n} was not re-flowed intact"
    assert all("- 1 -" not in c.text and "- 2 -" not in c.text for c in doc.chunks)


def test_pdf_line_ending_with_bracket_mid_sentence_is_joined(tmp_path: Path, settings) -> None:
    path = factories.make_text_pdf(tmp_path, articles=3)
    first_line = PdfReader(str(path)).pages[0].extract_text().splitlines()
    wrapped = next(line for line in first_line if line.startswith("第二条"))
    assert wrapped.endswith("）")  # the factory really wraps this article right after a bracket
    article_two = _articles(parse_document(path, settings))[2]
    assert "\n" not in article_two
    assert article_two == factories.article_text(2)


def test_pdf_header_is_separated_from_the_title(tmp_path: Path, settings) -> None:
    doc = parse_document(factories.make_text_pdf(tmp_path, articles=4), settings)
    assert doc.header.title == factories.REGULATION_TITLE
    assert doc.header.doc_number == factories.REGULATION_DOC_NUMBER
    assert doc.header.issuer == "中国证券监督管理委员会"
    assert doc.header.version_date == "2024-01-05"


def test_pdf_chapters_and_items_survive_reflow(tmp_path: Path, settings) -> None:
    doc = parse_document(factories.make_text_pdf(tmp_path, articles=12), settings)
    by_no = {c.article_no: c for c in doc.chunks}
    assert by_no[1].chapter == "第一章 总则"
    assert by_no[7].chapter == "第二章 业务规则"
    assert by_no[12].chapter == "第三章 附则"
    assert by_no[3].text.split("\n\n")[1].startswith("（一）")
    assert by_no[3].path == f"《{path_stem(doc)}》第一章 总则 第三条"


def path_stem(doc: ParsedDocument) -> str:
    return Path(doc.source_path).stem


def test_docx_with_table_keeps_document_order(tmp_path: Path, settings) -> None:
    path = factories.make_docx(tmp_path, articles=6, table_after=3)
    doc = parse_document(path, settings)
    articles = _articles(doc)
    assert sorted(articles) == list(range(1, 7))
    rows = [" | ".join(row) for row in factories.DOCX_TABLE]
    # The table stands inside article 3 in the Word file and must stay there.
    assert articles[3] == factories.article_text(3) + "\n\n" + "\n\n".join(rows)
    for n in (1, 2, 4, 5, 6):
        assert articles[n] == factories.article_text(n)
    assert doc.header.doc_number == factories.REGULATION_DOC_NUMBER


def test_gbk_txt_with_blank_lines_between_chapters(tmp_path: Path, settings) -> None:
    path = factories.make_gbk_txt(tmp_path, articles=8)
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    doc = parse_document(path, settings)
    assert doc.header.title == factories.REGULATION_TITLE
    articles = _articles(doc)
    assert sorted(articles) == list(range(1, 9))
    assert all(articles[n] == factories.article_text(n) for n in articles)
    assert {c.chapter for c in doc.chunks} == {"第一章 总则", "第二章 业务规则", "第三章 附则"}


def test_utf8_bom_crlf_txt(tmp_path: Path, settings) -> None:
    path = factories.make_utf8_bom_txt(tmp_path, articles=5)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    text = read_file(path, 10**6)
    assert not text.startswith("\ufeff") and "\r" not in text
    doc = parse_document(path, settings)
    assert doc.header.title == factories.REGULATION_TITLE
    assert sorted(_articles(doc)) == [1, 2, 3, 4, 5]


def test_decode_text_encodings() -> None:
    sample = "第一条 证券公司应当遵守法律。"
    assert decode_text(sample.encode("gbk")) == sample
    assert decode_text(sample.encode("gb18030")) == sample
    assert decode_text(b"\xef\xbb\xbf" + sample.encode("utf-8")) == sample
    assert decode_text("甲\r\n乙\r丙".encode("utf-8")) == "甲\n乙\n丙"
    with pytest.raises(ReadError) as info:
        decode_text(b"\x00\x01\x02\x03" * 100, "坏.txt")
    assert info.value.kind == "undecodable" and "坏.txt" in info.value.message


def test_markdown_file_from_the_corpus(settings) -> None:
    path = settings.corpus_dir / "regulations" / "证券公司监督管理条例.md"
    if not path.is_file():
        pytest.skip("shared corpus not present")
    doc = parse_document(path, settings)
    assert doc.header.doc_number == "中华人民共和国国务院令第522号"
    assert len(_articles(doc)) == 97
    assert doc.content_hash and doc.doc_id().startswith("doc-")
