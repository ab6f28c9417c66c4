"""Legal segmentation (编/章/节/条, 款/项, 附则, 附件), chunking, and header parsing, on synthetic and real text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comply.config import load_settings
from comply.lawtext.numerals import int_to_cn
from kb_ingest.chunking import article_chunks, chunk_document, paragraph_chunks
from kb_ingest.header import parse_header, split_header
from kb_ingest.structure import Article, segment, split_paragraphs_into_kuan

CORPUS = load_settings().corpus_dir  # /work/shared/corpus unless COMPLY_CORPUS says otherwise
REGULATIONS = sorted((CORPUS / "regulations").glob("*.md"))
ARTICLE_LINE = re.compile(r"^第[〇零一二三四五六七八九十百千]+条", re.M)


def _body(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


def test_part_chapter_section_context_and_paths() -> None:
    body = _body(
        "第一编 总则",
        "第一章 一般规定",
        "第一节 适用范围",
        "第一条 本法适用于证券公司。",
        "第二条 证券公司应当合规经营。",
        "第二节 基本原则",
        "第三条 证券公司应当诚实守信。",
        "第二章 监督管理",
        "第四条 国务院证券监督管理机构依法监督管理。",
        "第二编 分则",
        "第三章 经纪业务",
        "第五条 证券公司从事经纪业务，应当遵守本法。",
    )
    seg = segment(body)
    got = [(a.number, a.part, a.chapter, a.section) for a in seg.articles]
    assert got == [
        (1, "第一编 总则", "第一章 一般规定", "第一节 适用范围"),
        (2, "第一编 总则", "第一章 一般规定", "第一节 适用范围"),
        (3, "第一编 总则", "第一章 一般规定", "第二节 基本原则"),
        (4, "第一编 总则", "第二章 监督管理", None),
        (5, "第二编 分则", "第三章 经纪业务", None),
    ]
    legal, chunks = chunk_document("测试法", seg, 600, 500)
    assert legal
    assert chunks[0].path == "《测试法》第一编 总则 第一章 一般规定 第一节 适用范围 第一条"
    assert chunks[3].path == "《测试法》第一编 总则 第二章 监督管理 第四条"
    assert chunks[4].path == "《测试法》第二编 分则 第三章 经纪业务 第五条"
    assert [c.ord for c in chunks] == list(range(5))
    assert chunks[2].text == "证券公司应当诚实守信。"  # verbatim, without the label


def test_markdown_headings_and_unspaced_chapter_titles() -> None:
    seg = segment(_body("## 第一章总则", "第一条 甲。", "### 第一节　定义", "第二条 乙。"))
    assert seg.articles[0].chapter == "第一章 总则"
    assert seg.articles[1].section == "第一节 定义"


def test_standalone_fuze_becomes_the_chapter() -> None:
    seg = segment(_body("第一章 总则", "第一节 一般规定", "第一条 甲。", "第二条 乙。", "附则", "第三条 本办法自公布之日起施行。"))
    assert [(a.chapter, a.section) for a in seg.articles] == [
        ("第一章 总则", "第一节 一般规定"),
        ("第一章 总则", "第一节 一般规定"),
        ("附则", None),
    ]
    _, chunks = chunk_document("办法", seg, 600, 500)
    assert chunks[-1].path == "《办法》附则 第三条"


def test_attachments_after_the_articles() -> None:
    body = _body(
        "第一条 证券公司应当按照附件所列格式报送材料。",
        "附件所列材料应当真实、准确、完整。",  # a sentence inside article 1, not the attachment heading
        "第二条 本办法自公布之日起施行。",
        "附件：测试业务报告表",
        "一、报告机构名称",
        "第一条 这是附件中的示例条文。",
    )
    seg = segment(body)
    assert [a.number for a in seg.articles] == [1, 2]
    assert seg.articles[0].paragraphs == ["证券公司应当按照附件所列格式报送材料。", "附件所列材料应当真实、准确、完整。"]
    assert seg.attachments == ["附件：测试业务报告表", "一、报告机构名称", "第一条 这是附件中的示例条文。"]
    legal, chunks = chunk_document("办法", seg, 600, 500)
    assert legal
    annex = [c for c in chunks if c.article is None]
    assert [c.path for c in annex] == ["《办法》附件第1段"]
    assert annex[0].text == "\n\n".join(seg.attachments)
    assert annex[0].ord == len(chunks) - 1


def test_cross_reference_paragraph_is_not_a_new_article() -> None:
    body = _body(
        "第七十九条 证券公司有下列行为之一的，依法处罚。",
        "第八十条规定的情形，适用前款规定。",
        "第八十一条 本法自公布之日起施行。",
    )
    seg = segment(body)
    assert [a.number for a in seg.articles] == [79, 81]
    assert seg.articles[0].paragraphs[1] == "第八十条规定的情形，适用前款规定。"


def test_cross_reference_that_does_not_continue_numbering() -> None:
    seg = segment(_body("第五条 证券公司应当遵守本办法。", "第八十条规定的情形除外。", "第六条 附则。"))
    assert [a.number for a in seg.articles] == [5, 6]
    assert seg.articles[0].paragraphs == ["证券公司应当遵守本办法。", "第八十条规定的情形除外。"]


def test_unspaced_article_heading_that_continues_numbering_is_accepted() -> None:
    seg = segment(_body("第一条 甲。", "第二条中国证券监督管理委员会依法监管。", "第三条　丙。", "第四条第一款所称机构除外。"))
    assert [(a.number, a.paragraphs[0]) for a in seg.articles] == [(1, "甲。"), (2, "中国证券监督管理委员会依法监管。"), (3, "丙。")]
    assert seg.articles[-1].paragraphs[-1] == "第四条第一款所称机构除外。"


def test_sentence_starting_with_a_chapter_reference_is_not_a_heading() -> None:
    seg = segment(_body("第一章 总则", "第一条 甲。", "第三章规定的情形，不适用本条。", "第二条 乙。"))
    assert seg.articles[0].paragraphs == ["甲。", "第三章规定的情形，不适用本条。"]
    assert seg.articles[1].chapter == "第一章 总则"


def test_single_newline_blocks_with_blank_lines_between_chapters() -> None:
    body = "第一章 总则\n第一条 甲。\n第二条 乙。\n前款规定的除外。\n\n第二章 附则\n第三条 丙。\n"
    seg = segment(body)
    assert [(a.number, a.chapter, a.paragraphs) for a in seg.articles] == [
        (1, "第一章 总则", ["甲。"]),
        (2, "第一章 总则", ["乙。", "前款规定的除外。"]),
        (3, "第二章 附则", ["丙。"]),
    ]


def test_preamble_before_the_first_article() -> None:
    seg = segment(_body("为了维护证券市场秩序，制定本规定。", "第一条 甲。", "第二条 乙。"))
    assert seg.preamble == ["为了维护证券市场秩序，制定本规定。"]
    _, chunks = chunk_document("规定", seg, 600, 500)
    assert chunks[0].path == "《规定》序言第1段" and chunks[0].article is None
    assert [c.article_no for c in chunks] == [None, 1, 2]


def test_kuan_grouping_attaches_items_to_the_paragraph_before() -> None:
    paragraphs = ["有下列情形之一的，责令改正：", "（一）未按规定报告的；", "(二)拒绝检查的。", "有前款情形的，依法处罚。", "（三）孤立的项。"]
    assert split_paragraphs_into_kuan(paragraphs) == [
        ["有下列情形之一的，责令改正：", "（一）未按规定报告的；", "(二)拒绝检查的。"],
        ["有前款情形的，依法处罚。", "（三）孤立的项。"],
    ]
    assert split_paragraphs_into_kuan(["（一）开头就是项。"]) == [["（一）开头就是项。"]]


def _article(paragraphs: list[str], number: int = 8) -> Article:
    return Article(number, f"第{int_to_cn(number)}条", None, "第二章 业务规则", None, paragraphs)


def test_short_article_is_one_chunk() -> None:
    art = _article(["甲" * 100, "乙" * 100])
    [chunk] = article_chunks("办法", art, 5, 600)
    assert chunk.ord == 5 and chunk.paragraphs is None
    assert chunk.path == "《办法》第二章 业务规则 第八条"
    assert chunk.text == art.text


def test_long_article_is_split_by_kuan_within_the_limit() -> None:
    kuan = ["甲" * 250 + "。", "乙" * 250 + "。", "丙" * 250 + "。"]
    art = _article(kuan)
    chunks = article_chunks("办法", art, 0, 600)
    assert [c.paragraphs for c in chunks] == ["1-2", "3"]
    assert [c.path for c in chunks] == ["《办法》第二章 业务规则 第八条 第1-2款", "《办法》第二章 业务规则 第八条 第3款"]
    assert all(len(c.text) <= 600 for c in chunks)
    assert "\n\n".join(c.text for c in chunks) == art.text
    assert all(c.article == "第八条" and c.article_no == 8 and c.chapter == "第二章 业务规则" for c in chunks)


def test_items_of_a_huge_kuan_are_packed_with_the_lead_repeated() -> None:
    lead = "有下列情形之一的，责令改正：" + "甲" * 6  # 20 characters
    items = [f"（{int_to_cn(i)}）" + "乙" * (39 - len(f"（{int_to_cn(i)}）")) for i in range(1, 6)]  # 39 each
    art = _article([lead, *items, "丙" * 30 + "。"])
    max_chars = 100
    chunks = article_chunks("办法", art, 0, max_chars)
    assert all(len(c.text) <= max_chars for c in chunks), [len(c.text) for c in chunks]
    item_chunks = [c for c in chunks if c.paragraphs == "1"]
    assert len(item_chunks) == 5 and all(c.text.startswith(lead + "\n\n（") for c in item_chunks)
    assert [c.text.split("\n\n")[1] for c in item_chunks] == items
    assert chunks[-1].paragraphs == "2" and chunks[-1].text == "丙" * 30 + "。"
    assert [c.ord for c in chunks] == list(range(len(chunks)))


def test_single_paragraph_longer_than_the_limit_stays_whole() -> None:
    art = _article(["甲" * 700 + "。", "乙" * 50])
    chunks = article_chunks("办法", art, 0, 600)
    assert [len(c.text) for c in chunks] == [701, 50]
    assert [c.paragraphs for c in chunks] == ["1", "2"]


def test_non_legal_text_falls_back_to_paragraph_chunks() -> None:
    paragraphs = [f"第{i}段营销文案，介绍产品特点与风险提示。" + "文" * 150 for i in range(1, 8)]
    seg = segment("\n\n".join(paragraphs))
    assert seg.articles == []
    legal, chunks = chunk_document("宣传材料", seg, 600, 500)
    assert not legal
    assert [c.path for c in chunks] == [f"《宣传材料》第{n}段" for n in range(1, len(chunks) + 1)]
    assert all(len(c.text) <= 500 and c.article is None for c in chunks)
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(paragraphs)


def test_one_article_is_not_enough_to_be_legal_text() -> None:
    legal, chunks = chunk_document("通知", segment(_body("各证券公司：", "第一条 请按时报送。")), 600, 500)
    assert not legal
    assert [c.text for c in chunks] == ["各证券公司：\n\n第一条 请按时报送。"]


def test_empty_body_gives_no_chunks() -> None:
    assert chunk_document("空", segment(""), 600, 500) == (False, [])
    assert paragraph_chunks("空", ["", "  "], 0, 500) == []


# --- the real corpus ---------------------------------------------------------------------------

@pytest.mark.skipif(not REGULATIONS, reason="shared corpus not present")
@pytest.mark.parametrize("path", REGULATIONS, ids=lambda p: p.stem[:24])
def test_every_corpus_regulation_segments_completely(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = len(ARTICLE_LINE.findall(text))
    header, body = split_header(text, path.stem)
    seg = segment(body)
    assert [a.number for a in seg.articles] == list(range(1, expected + 1))
    legal, chunks = chunk_document(path.stem, seg, 600, 500)
    assert legal
    assert all(c.path.startswith(f"《{path.stem}》") for c in chunks)
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert {c.article_no for c in chunks if c.article_no} == set(range(1, expected + 1))
    for c in chunks:  # within the limit unless one paragraph alone is longer
        assert len(c.text) <= 600 or any(len(p) > 600 for p in c.text.split("\n\n")), c.path
    assert header.title.replace(" ", "") == path.stem.replace(" ", "")


def _header(stem: str):
    path = CORPUS / "regulations" / f"{stem}.md"
    if not path.is_file():
        pytest.skip("shared corpus not present")
    return split_header(path.read_text(encoding="utf-8"), stem)[0]


def test_header_of_a_state_council_regulation() -> None:
    header = _header("证券公司监督管理条例")
    assert header.title == "证券公司监督管理条例"
    assert header.issuer == "国务院"
    assert header.doc_number == "中华人民共和国国务院令第522号"
    assert header.version_date == "2008-04-23"


def test_header_of_a_law_amended_by_the_standing_committee() -> None:
    securities = _header("中华人民共和国证券法")
    assert securities.issuer == "全国人民代表大会常务委员会"
    assert securities.version_date == "2019-12-28"
    assert securities.doc_number is None
    assert _header("中华人民共和国行政处罚法").issuer == "全国人民代表大会常务委员会"


def test_header_of_joint_judicial_interpretation_and_ministry_rule() -> None:
    insider = _header("最高人民法院、最高人民检察院关于办理内幕交易、泄露内幕信息刑事案件具体应用法律若干问题的解释")
    assert insider.issuer == "最高人民法院、最高人民检察院"
    assert insider.version_date == "2012-06-01"
    pricing = _header("明码标价和禁止价格欺诈规定")
    assert (pricing.issuer, pricing.doc_number) == ("国家市场监督管理总局", "国家市场监督管理总局令第56号")


def test_header_text_without_spaces() -> None:
    header = parse_header(
        "证券公司监督管理条例",
        "（2008年4月23日中华人民共和国国务院令第522号公布根据2014年7月29日《国务院关于修改部分行政法规的决定》修订）",
    )
    assert header.doc_number == "中华人民共和国国务院令第522号"
    assert header.issuer == "国务院"
    assert header.version_date == "2014-07-29"
    csrc = parse_header("某办法", "2020年3月20日中国证券监督管理委员会令第166号公布根据《国务院关于取消行政许可的决定》修正 现行有效")
    assert (csrc.issuer, csrc.doc_number, csrc.status) == ("中国证券监督管理委员会", "中国证券监督管理委员会令第166号", "现行有效")
    notice = parse_header("关于某事项的通知", "证监发〔2020〕12号")
    assert notice.doc_number == "证监发〔2020〕12号" and notice.issuer is None


def test_split_header_without_info_marker() -> None:
    header, body = split_header("某某管理办法\n（2021年5月1日施行）\n第一章 总则\n第一条 甲。", "fallback")
    assert header.title == "某某管理办法"
    assert header.version_date == "2021-05-01"
    assert body.startswith("第一章 总则")
    header2, body2 = split_header("第一条 甲。\n第二条 乙。", "文件名")
    assert header2.title == "文件名" and body2.startswith("第一条")
