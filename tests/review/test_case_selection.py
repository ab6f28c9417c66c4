"""Cases attached to findings are legally related to them (a shared clause or the category's legal basis), or none."""

from __future__ import annotations

import pytest

from review.case_relevance import CATEGORY, CLAUSE, Provision, finding_provisions, load_case_law
from review.findings import Finding
from review.pipeline import Reviewer
from review.similar_cases import attach_cases, category_bases


@pytest.fixture(scope="module")
def reviewer(corpus_kb) -> Reviewer:
    settings, con, _report = corpus_kb
    return Reviewer(settings, con, None, "测试")


@pytest.fixture(scope="module")
def law(corpus_kb):
    settings, con, _report = corpus_kb
    return load_case_law(con, 0, category_bases(settings))


def test_provisions_match_on_item_only_when_both_name_one():
    fund_20_4, fund_20_6 = Provision("证券投资基金法", 20, None, 4), Provision("证券投资基金法", 20, None, 6)
    assert not fund_20_4.matches(fund_20_6)
    assert Provision("证券投资基金法", 20).matches(fund_20_6)
    assert not Provision("证券法", 20).matches(fund_20_6)


def test_case_categories_come_from_cited_provisions(law):
    assert "guaranteed_return" in law.categories["case-0036"]  # 私募暂行办法第十五条: 保本保收益
    assert "discretionary_trading" in law.categories["case-0037"]  # 证券法第一百三十六条
    # 基金法第二十条第（六）项 (未公开信息交易) is not 第二十条第（四）项 (承诺收益)
    assert not law.categories.get("case-0048")
    assert not law.categories.get("case-0049")


def test_every_attached_case_is_related_and_insider_trading_is_not_attached(reviewer, law):
    draft = ("泓景稳盈1号，本金安全有保障，每年稳稳拿到6%不是问题！\n基金经理王某管理的另一只产品去年收益率高达48%，"
             "业绩名列前茅。\n客户经理可以全权代您操作账户，收益五五分成。")
    report = reviewer.review(draft, rewrite=False, audit=False)
    assert report.findings
    attached = [(f, c) for f in report.findings for c in f.cases]
    assert attached
    for finding, case in attached:
        assert law.relation(case.case_id, finding.category, finding_provisions(finding, law.resolver)) in (CLAUSE, CATEGORY)
        assert "未公开信息" not in case.title and "内幕交易" not in case.title
    assert all(len(f.cases) <= 3 for f in report.findings)


def test_no_related_case_means_none(reviewer, corpus_kb):
    draft = "某券商的投顾水平太差，跟着他们只会亏钱，还是选择我们吧。"
    finding = Finding("某券商的投顾水平太差", 0, 10, "disparaging_competitors", "medium", "贬低同业", [], "删除", "rule")
    attach_cases(reviewer.searcher, [finding], draft, 0)
    assert finding.cases == []  # no case in the corpus cites a legal basis of 贬低同业


def test_case_sharing_the_clause_comes_first(reviewer, law):
    draft = "把交易密码告诉我，我替您买卖股票，赚了我们分成。"
    finding = Finding("我替您买卖股票", 9, 16, "discretionary_trading", "high", "代客理财", [], "删除", "rule",
                      legal_basis=("《中华人民共和国证券法》第一百三十六条",))
    attach_cases(reviewer.searcher, [finding], draft, 0)
    assert finding.cases and finding.cases[0].case_id == "case-0037"
    assert law.relation("case-0037", "discretionary_trading", finding_provisions(finding, law.resolver)) == CLAUSE
