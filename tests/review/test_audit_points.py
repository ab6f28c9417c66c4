"""Audit points (审核要点) extracted from real regulations: item-by-item prohibitions, verbatim sources, no
penalty consequences, clearance, and the Markdown / CSV / DOCX exports."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from kb_ingest.ingest import ingest
from review.audit_points import AuditPoint, extract_audit_points
from review.audit_points_export import to_csv, to_docx, to_markdown

pytestmark = pytest.mark.integration

SECURITIES_FIRMS = "证券公司监督管理条例"
SECURITIES_LAW = "中华人民共和国证券法"
# A sanction or liability stated after the modal verb: what a duty must never be.
PENALTY_AFTER_MODAL = re.compile(
    r"(?:应当|必须|须|不得)[^。；]*?(?:罚款|没收违法所得|责令改正|追究刑事责任|吊销|承担赔偿责任|给予警告)"
)

ITEMS = [
    "向客户承诺保本保收益或者承诺最低收益，或者以任何方式暗示产品不会发生亏损，包括在朋友圈、短视频和直播中发布此类表述",
    "代客户办理证券交易委托、资金划转或者密码修改，或者以任何理由保管客户的交易密码、资金密码、身份证件和银行卡片",
    "在营业场所以外的地点向不特定对象举办投资讲座并推介具体产品，或者未经合规部审查擅自印发产品宣传材料和海报",
    "向风险承受能力评估结果为保守型的客户推荐高风险等级的私募产品、结构化产品或者场外衍生品，或者诱导客户调高评级",
    "与客户约定分享投资收益或者分担投资损失，或者向客户借款、为客户提供借款担保以及与客户发生其他资金往来关系",
    "私下接受客户全权委托决定证券买卖、选择证券种类、决定买卖数量或者买卖价格，或者以他人名义为客户买卖证券",
    "收受客户或者产品发行机构赠送的礼金、购物卡、有价证券或者其他财物，或者要求客户支付协议约定以外的任何费用",
    "将客户的联系方式、资产状况和交易记录提供给公司以外的单位或者个人，或者利用客户信息为自己或者他人谋取利益",
    "以虚假、片面或者夸大的方式宣传产品的历史业绩和预期收益，或者使用“稳赚”“零风险”“保本”等用语误导客户购买产品",
    "在客户不知情或者未经客户书面确认的情况下替客户签署风险揭示书、产品合同或者适当性匹配意见，或者伪造客户签名",
    "以赠送礼品、返还佣金、承担交易费用或者其他不正当利益诱导客户开户、转户、频繁交易或者购买特定的金融产品",
]
POLICY = (
    "# 衡岳证券财富管理营销行为守则（内部）\n\n"
    "第一条 为规范财富管理营销行为，保护客户合法权益，制定本守则。\n\n"
    "第二条 营销人员不得有下列行为：\n\n"
    + "\n\n".join(f"（{n}）{text}；" for n, text in zip(["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一"], ITEMS))
    + "\n\n第三条 营销人员发现客户疑似洗钱的，应当在当日报告合规部。\n\n"
    "第四条 本守则所称营销人员，是指公司从事客户招揽和产品推介的员工。\n\n"
    "第五条 营销人员违反本守则第二条规定的，应当承担相应的赔偿责任，公司给予警告或者纪律处分。\n"
)


@pytest.fixture(scope="module")
def firms_points(corpus_kb) -> list[AuditPoint]:
    _settings, con, _report = corpus_kb
    return extract_audit_points(con, SECURITIES_FIRMS, 0)


@pytest.fixture(scope="module")
def law_points(corpus_kb) -> list[AuditPoint]:
    _settings, con, _report = corpus_kb
    return extract_audit_points(con, SECURITIES_LAW, 0)


def test_article_46_prohibitions_item_by_item(firms_points):
    art46 = [p for p in firms_points if p.article == "第四十六条"]
    assert len(art46) == 5
    assert all(p.kind == "prohibition" and p.subject == "证券公司" and "不得" in p.requirement for p in art46)
    assert [p.source_text[:3] for p in art46] == ["(一)", "(二)", "(三)", "(四)", "(五)"]
    guarantee = [p for p in art46 if "保证其资产本金不受损失或者保证其取得最低收益的承诺" in p.requirement]
    assert len(guarantee) == 1
    point = guarantee[0]
    assert point.requirement.endswith("不得向客户做出保证其资产本金不受损失或者保证其取得最低收益的承诺")
    assert point.doc_title == SECURITIES_FIRMS and point.path.endswith("第四十六条")
    # The catch-all item keeps its verb: "不得有…禁止的其他行为".
    assert art46[-1].requirement.endswith("不得有法律、行政法规或者国务院证券监督管理机构禁止的其他行为")


def test_securities_law_article_135_is_a_prohibition(law_points):
    art135 = [p for p in law_points if p.article == "第一百三十五条"]
    assert len(art135) == 1
    assert art135[0].kind == "prohibition" and art135[0].subject == "证券公司"
    assert art135[0].requirement == "不得对客户证券买卖的收益或者赔偿证券买卖的损失作出承诺"


def test_numbering_kinds_and_no_duplicates(firms_points, law_points):
    for points in (firms_points, law_points):
        assert [p.n for p in points] == list(range(1, len(points) + 1))
        assert {p.kind for p in points} == {"prohibition", "obligation"}
        keys = [(p.article, p.kind, p.requirement) for p in points]
        assert len(keys) == len(set(keys))


def test_every_source_text_is_verbatim_in_its_chunk(corpus_kb):
    _settings, con, _report = corpus_kb
    titles = [r[0] for r in con.execute("SELECT doc_key FROM documents WHERE state = 'live' ORDER BY doc_key").fetchall()]
    assert len(titles) >= 30
    counts = {}
    for title in titles:
        points = extract_audit_points(con, title, 0)
        counts[title] = len(points)
        texts = dict(con.execute(
            "SELECT chunk_id, text FROM chunks WHERE chunk_id IN (SELECT unnest(?))", [[p.chunk_id for p in points]]
        ).fetchall())
        for p in points:
            assert p.source_text and p.source_text in texts[p.chunk_id], (title, p)
            assert p.doc_title == title
    for title in (SECURITIES_LAW, SECURITIES_FIRMS, "中华人民共和国证券投资基金法", "私募投资基金监督管理条例"):
        assert counts[title] >= 100, counts


def test_penalty_consequences_are_not_audit_points(corpus_kb, firms_points, law_points):
    _settings, con, _report = corpus_kb
    for points in (firms_points, law_points):
        chapters = dict(con.execute(
            "SELECT chunk_id, chapter FROM chunks WHERE chunk_id IN (SELECT unnest(?))", [[p.chunk_id for p in points]]
        ).fetchall())
        assert not [p for p in points if "法律责任" in (chapters[p.chunk_id] or "")]
        assert not [p for p in points if PENALTY_AFTER_MODAL.search(p.requirement)]
        assert not [p for p in points if p.source_text.startswith("违反本")]
    # 第八十四条 (罚款 for 12 listed failings) and 第八十五条 are consequences only.
    assert not [p for p in firms_points if p.article in ("第八十四条", "第八十五条")]
    # Nor definitions / effective dates in 附则, nor the regulator's own duties.
    assert not [p for p in firms_points if p.article in ("第九十六条", "第九十七条")]
    assert not [p for p in law_points if p.subject.startswith("国务院")]
    with_authority = extract_audit_points(con, SECURITIES_LAW, 0, authority_duties=True)
    assert any(p.subject == "国务院证券监督管理机构" for p in with_authority)
    assert len(with_authority) > len(law_points)


def test_document_named_by_id_or_title_variants(corpus_kb, law_points):
    _settings, con, _report = corpus_kb
    doc_id = con.execute("SELECT doc_id FROM documents WHERE doc_key = ? AND state = 'live'", [SECURITIES_LAW]).fetchone()[0]
    for name in (doc_id, "证券法", "《中华人民共和国证券法》", " 证券法 "):
        assert extract_audit_points(con, name, 0) == law_points


def test_unknown_document_is_a_lookup_error(corpus_kb):
    _settings, con, _report = corpus_kb
    for name in ("证券公司不存在管理条例", "", "doc-0000000000000000"):
        with pytest.raises(LookupError, match="未找到文档"):
            extract_audit_points(con, name, 2)


def test_clearance_is_respected_and_split_enumerations_are_deduplicated(small_kb, tmp_path: Path):
    settings, con = small_kb
    path = tmp_path / "财富管理营销行为守则.md"
    path.write_text(POLICY, encoding="utf-8")
    assert ingest(settings, con, [path], level=1).errors == []
    with pytest.raises(LookupError) as denied:
        extract_audit_points(con, "财富管理营销行为守则", 0)
    with pytest.raises(LookupError) as unknown:
        extract_audit_points(con, "不存在的守则", 0)
    assert str(denied.value).replace("财富管理营销行为守则", "X") == str(unknown.value).replace("不存在的守则", "X")

    points = extract_audit_points(con, "财富管理营销行为守则", 1)
    # Article 2 (over 600 characters) is split into chunks that each repeat its lead-in; each 项 counts once.
    n_chunks = con.execute("SELECT count(*) FROM chunks WHERE article = '第二条'").fetchone()[0]
    assert n_chunks >= 2
    art2 = [p for p in points if p.article == "第二条"]
    assert [p.requirement for p in art2] == [f"不得{item}" for item in ITEMS]
    assert all(p.kind == "prohibition" and p.subject == "营销人员" for p in art2)
    assert [(p.article, p.kind, p.subject, p.requirement) for p in points[len(art2):]] == [
        ("第三条", "obligation", "营销人员", "发现客户疑似洗钱的，应当在当日报告合规部"),
    ]  # 第四条 is a definition, 第五条 a consequence


def test_markdown_checklist(firms_points):
    md = to_markdown(firms_points, SECURITIES_FIRMS)
    assert md.startswith(f"# {SECURITIES_FIRMS} 审核要点清单")
    items = [line for line in md.splitlines() if line.startswith("- [ ] ")]
    assert len(items) == len(firms_points)
    assert "## 第三章 组织机构 第四节 证券资产管理业务" in md or "### 第四十六条" in md
    guarantee = next(line for line in items if "保证其资产本金不受损失" in line)
    assert "【禁止性】证券公司：" in guarantee and guarantee.endswith(f"（依据：《{SECURITIES_FIRMS}》第四十六条）")


def test_csv_has_bom_and_parses_back(firms_points):
    text = to_csv(firms_points)
    assert text.startswith("\ufeff")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == len(firms_points)
    assert list(rows[0])[:6] == ["序号", "类型", "主体", "审核要点", "依据条款", "原文"]
    for row, p in zip(rows, firms_points):
        assert row["序号"] == str(p.n) and row["审核要点"] == p.requirement and row["原文"] == p.source_text
        assert row["chunk_id"] == p.chunk_id
    assert {row["类型"] for row in rows} == {"禁止性", "义务性"}


def test_docx_table_has_every_point(law_points):
    import docx

    document = docx.Document(io.BytesIO(to_docx(law_points, SECURITIES_LAW)))
    assert any("审核要点清单" in para.text for para in document.paragraphs)
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["序号", "类型", "主体", "审核要点", "依据条款", "原文"]
    assert len(table.rows) == len(law_points) + 1
    row135 = next(r for r in table.rows[1:] if r.cells[4].text == f"《{SECURITIES_LAW}》第一百三十五条")
    assert [c.text for c in row135.cells[1:4]] == ["禁止性", "证券公司", "不得对客户证券买卖的收益或者赔偿证券买卖的损失作出承诺"]
