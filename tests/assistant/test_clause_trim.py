"""Trimming a retrieved clause to the 款 / 项 relevant to the question, on real articles parsed by the project's
segmenter: the relevant 项 stays with its lead-in, the rest is marked "……", and what is kept is verbatim."""

from __future__ import annotations

import re
from functools import cache

import pytest
from support import REGULATIONS

from assistant.qa.trim import GAP, MIN_CHARS, relevant_part
from kb_ingest.structure import segment


@cache
def articles(law: str) -> dict[int, str]:
    """Article number → text (款 separated by blank lines, as chunks hold them) of one regulation in the corpus."""
    body = (REGULATIONS / f"{law}.md").read_text(encoding="utf-8")
    return {a.number: a.text for a in segment(body).articles}


AD_25 = ("中华人民共和国广告法", 25)
SEC_80, SEC_135, SEC_136 = (("中华人民共和国证券法", n) for n in (80, 135, 136))


def article(key: tuple[str, int]) -> str:
    return articles(key[0])[key[1]]


def assert_verbatim(trimmed: str, clause: str) -> None:
    """Every kept fragment is clause text, in the clause's order (so a quote from it verifies against the clause)."""
    pos = 0
    for fragment in (f for f in re.split(rf"{GAP}|\n", trimmed) if f.strip()):
        found = clause.find(fragment, pos)
        assert found >= 0, f"not verbatim, or out of order: {fragment!r}"
        pos = found + len(fragment)


def test_a_clause_that_fits_is_returned_unchanged() -> None:
    text = article(SEC_135)
    assert relevant_part(text, "能否承诺收益", len(text)) == text
    assert relevant_part(article(AD_25), "保本", 1000) == article(AD_25)


def test_the_item_on_guaranteed_returns_stays_with_its_lead_in() -> None:
    text = article(AD_25)
    item_1 = next(p for p in text.split("\n\n") if p.startswith("（一）"))
    item_2 = next(p for p in text.split("\n\n") if p.startswith("（二）"))
    out = relevant_part(text, "理财产品广告能否承诺保本保收益", len(text) - 20)
    assert item_1 in out and item_2 not in out
    assert out.startswith("招商等有投资回报预期的商品或者服务广告") and "并不得含有下列内容：" in out
    assert out.endswith(GAP) and len(out) <= len(text) - 20
    assert_verbatim(out, text)


def test_the_item_on_endorsements_is_chosen_for_a_question_about_endorsements() -> None:
    text = article(AD_25)
    out = relevant_part(text, "可以请专业人士为理财产品作推荐吗", len(text) - 20)
    assert "（二）利用学术机构、行业协会、专业人士、受益者的名义或者形象作推荐、证明。" in out
    assert "（一）" not in out and "不得含有下列内容：" in out
    assert f"下列内容：\n{GAP}\n（二）" in out, "the omitted item is marked between the lead-in and the kept item"
    assert_verbatim(out, text)


def test_a_tight_budget_keeps_the_prohibition_words_of_the_lead_in() -> None:
    text = article(AD_25)
    out = relevant_part(text, "理财产品广告能否承诺保本保收益", 90)
    assert len(out) <= 90
    assert out.startswith(f"{GAP}并不得含有下列内容：\n（一）对未来效果、收益或者与其相关的情况作出保证性承诺")
    assert_verbatim(out, text)


def test_the_paragraph_on_trading_for_clients_is_kept_and_the_other_dropped() -> None:
    text = article(SEC_136)
    out = relevant_part(text, "客户经理能否私下接受客户委托替客户买卖股票", 40)
    assert out == f"{GAP}\n证券公司的从业人员不得私下接受客户委托买卖证券。"
    assert_verbatim(out, text)


def test_a_long_list_keeps_the_matching_item_under_its_own_lead_in() -> None:
    text = article(SEC_80)
    out = relevant_part(text, "公司发生重大亏损是否属于重大事件", 200)
    assert len(out) <= 200 and "（五）公司发生重大亏损或者重大损失；" in out
    assert "前款所称重大事件包括：" in out
    assert "公司的控股股东或者实际控制人" not in out
    assert_verbatim(out, text)


def test_with_no_overlap_or_no_query_paragraphs_are_taken_in_order() -> None:
    text = article(SEC_136)
    assert relevant_part(text, "quantum", 80) == f"{text.split(chr(10))[0]}\n{GAP}"
    text = article(SEC_80)
    out = relevant_part(text, "", 260)
    paragraphs = text.split("\n\n")
    assert out.startswith("\n\n".join(paragraphs[:3])) and len(out) <= 260
    assert_verbatim(out, text)


@pytest.mark.parametrize("law", ["中华人民共和国证券法", "中华人民共和国广告法"])
def test_every_article_trims_within_budget_verbatim_and_deterministically(law: str) -> None:
    queries = ("证券公司不得承诺收益", "广告不得含有虚假内容", "信息披露义务人应当及时公告", "")
    for text in articles(law).values():
        for budget in (MIN_CHARS, 60, 150, 400):
            for query in queries:
                out = relevant_part(text, query, budget)
                assert len(out) <= budget and out.strip(GAP + "\n")
                assert_verbatim(out, text)
                assert relevant_part(text, query, budget) == out


def test_a_budget_below_the_minimum_is_refused_in_chinese() -> None:
    with pytest.raises(ValueError, match="条款截取长度至少"):
        relevant_part(article(SEC_135), "承诺", MIN_CHARS - 1)
