"""The CSRC rule catalogue: matching titles and citations, and the status of a text of a given date."""

from __future__ import annotations

from support import CORPUS

from corpus.catalog import AMENDED, CURRENT, REPEALED, cited_law, load_catalog, title_key


def test_titles_match_across_version_remarks_brackets_and_the_state_prefix():
    assert title_key("中华人民共和国证券法(2019修订)") == title_key("《证券法》") == "证券法"
    assert title_key("《公开募集证券投资基金销售机构监督管理办法（证监会令第175号，2020年）》") == "公开募集证券投资基金销售机构监督管理办法"
    assert title_key("证券、期货投资咨询管理暂行办法") == "证券、期货投资咨询管理暂行办法"
    assert cited_law("《证券投资顾问业务暂行规定》第十九条") == "证券投资顾问业务暂行规定"
    assert cited_law("《证券投资基金销售管理办法（证监会，已被2020年《公开募集证券投资基金销售机构监督管理办法》取代）》宣传推介") == \
        "证券投资基金销售管理办法（证监会，已被2020年《公开募集证券投资基金销售机构监督管理办法》取代）"


def test_the_real_catalogue_gives_number_issuer_and_status():
    catalog = load_catalog(CORPUS)
    assert len(catalog) > 3000
    suitability = catalog.find("证券期货投资者适当性管理办法")
    assert (suitability.latest.doc_number, suitability.latest.issuer) == ("证监会令第130号", "中国证券监督管理委员会")
    assert suitability.status_of("2022-08-12") == (CURRENT, "")
    assert catalog.find("没有这部规定") is None


def test_an_older_text_is_amended_and_a_repealed_rule_is_repealed_whatever_its_date():
    catalog = load_catalog(CORPUS)
    status, note = catalog.find("期货交易管理条例").status_of("2016-02-06")
    assert status == AMENDED and "2017-03-01" in note and "国务院令第676号" in note
    assert catalog.find("期货交易管理条例").status_of("2017-03-01")[0] == CURRENT
    repealed = catalog.find("外国企业或者个人在中国境内设立合伙企业管理办法")
    assert repealed.status_of("2030-01-01")[0] == REPEALED
    # Several versions of one rule: the newest decides, and older texts of it are amended.
    sales = catalog.find("证券投资基金销售管理办法")
    assert [v.pub_date for v in sales.versions] == sorted(v.pub_date for v in sales.versions) and len(sales.versions) >= 3
    assert sales.status_of("2004-06-25")[0] == AMENDED
