"""Law-text helpers: citation parsing and Chinese numerals, on hand-made and real text."""

from __future__ import annotations

import json
import re

import pytest

from comply.config import load_settings
from comply.lawtext.citations import normalize_law_name, parse_citations
from comply.lawtext.numerals import cn_to_int, int_to_cn

CASES = load_settings().corpus_dir / "cases" / "cases.jsonl"  # the shared corpus unless COMPLY_CORPUS says otherwise
needs_cases = pytest.mark.skipif(not CASES.is_file(), reason="shared corpus not present")


def _refs(text: str) -> list[tuple[str, int, int | None, int | None, int | None]]:
    return [(c.law, c.article_no, c.paragraph_no, c.item_no, c.year) for c in parse_citations(text)]


# --- citations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("《证券法》第五十六条、第一百九十三条", [("证券法", 56, None, None, None), ("证券法", 193, None, None, None)], id="article-list"),
        pytest.param("2005年《证券法》第七十三条、第七十六条", [("证券法", 73, None, None, 2005), ("证券法", 76, None, None, 2005)], id="year-prefix"),
        pytest.param("《证券投资基金法》第二十条第六项", [("证券投资基金法", 20, None, 6, None)], id="item"),
        pytest.param("广告法第九条第（三）项", [("广告法", 9, None, 3, None)], id="bare-name-bracketed-item"),
        pytest.param("《证券法》（2005年修订）第六十七条第二款第二项", [("证券法", 67, 2, 2, 2005)], id="paren-year-kuan-item"),
        pytest.param("2005年《证券法》第一百九十三条第二款、第三款", [("证券法", 193, 2, None, 2005), ("证券法", 193, 3, None, 2005)], id="kuan-continuation"),
        pytest.param("《证券法》第十条第一款、第二款第三项", [("证券法", 10, 1, None, None), ("证券法", 10, 2, 3, None)], id="kuan-and-item-continuation"),
        pytest.param("依据基金法第一百二十三条第一款的规定", [("基金法", 123, 1, None, None)], id="bare-name-after-verb"),
        pytest.param("违反了广告法第二十八条", [("广告法", 28, None, None, None)], id="bare-name-after-verb-le"),
        pytest.param("依据2005年修订的《中华人民共和国证券法》第一百九十三条第一款", [("中华人民共和国证券法", 193, 1, None, 2005)], id="year-xiuding-de"),
        pytest.param("《证券法》第二百零二条和第二百零三条", [("证券法", 202, None, None, None), ("证券法", 203, None, None, None)], id="he-separator"),
    ],
)
def test_parse_citations(text: str, expected: list) -> None:
    assert _refs(text) == expected


def test_citation_article_label_and_raw_text() -> None:
    [cit] = parse_citations("当事人违反《证券法》第一百一十条的规定")
    assert cit.article == "第一百一十条"
    assert cit.raw == "《证券法》第一百一十条"


def test_no_citation_without_article() -> None:
    assert parse_citations("2005年《证券法》") == []
    assert parse_citations("本公司严格遵守法律法规。") == []


def test_normalize_law_name() -> None:
    assert normalize_law_name("《中华人民共和国证券法》") == "证券法"
    assert normalize_law_name(" 证券 法 ") == "证券法"


@needs_cases
def test_real_legal_basis_fields() -> None:
    cases = {json.loads(line)["id"]: json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()}
    penalty_25 = cases["case-0025"]["legal_basis_penalty"][0]
    assert penalty_25 == "2005年《证券法》第一百九十三条第二款、第三款"
    assert _refs(penalty_25) == [("证券法", 193, 2, None, 2005), ("证券法", 193, 3, None, 2005)]
    abs_rule = cases["case-0003"]["legal_basis_violated"][2]
    assert [(c.article_no, c.item_no) for c in parse_citations(abs_rule)] == [(13, 1), (13, 7), (13, 9)]
    insider = cases["case-0034"]["legal_basis_violated"][0]
    assert _refs(insider) == [("证券法", 67, 2, 2, 2005), ("证券法", 74, None, None, 2005), ("证券法", 75, None, 1, 2005)]
    fund = cases["case-0048"]["legal_basis_violated"][0]
    assert _refs(fund) == [("证券投资基金法", 20, None, 6, None)]
    [sales] = [s for s in cases["case-0001"]["legal_basis_penalty"] if "销售机构" in s]
    assert _refs(sales) == [("公开募集证券投资基金销售机构监督管理办法", 53, None, None, None)]


@needs_cases
def test_every_cited_chinese_article_in_legal_basis_is_found() -> None:
    article = re.compile(r"第[〇零一二三四五六七八九十百千]+条")
    checked = 0
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        for text in case.get("legal_basis_violated", []) + case.get("legal_basis_penalty", []):
            wanted = [cn_to_int(m.group(0)[1:-1]) for m in article.finditer(text)]
            found = {c.article_no for c in parse_citations(text)}
            assert set(wanted) <= found, text
            checked += len(wanted)
    assert checked > 50


# --- numerals ----------------------------------------------------------------------------------

def test_numerals_round_trip_1_to_1000() -> None:
    for n in range(1, 1001):
        assert cn_to_int(int_to_cn(n)) == n


@pytest.mark.parametrize(
    ("n", "cn"),
    [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (101, "一百零一"), (110, "一百一十"), (119, "一百一十九"),
     (200, "二百"), (226, "二百二十六"), (1000, "一千"), (1010, "一千零一十"), (1001, "一千零一")],
)
def test_int_to_cn_statute_forms(n: int, cn: str) -> None:
    assert int_to_cn(n) == cn
    assert cn_to_int(cn) == n


def test_cn_to_int_variants_and_errors() -> None:
    assert cn_to_int("两百") == 200
    assert cn_to_int(" 135 ") == 135
    assert cn_to_int("一百〇五") == 105
    assert cn_to_int("二〇二四") == 2024  # positional digits, as in years
    for bad in ("", "第一", "abc"):
        with pytest.raises(ValueError):
            cn_to_int(bad)
    for bad in (0, 10000):
        with pytest.raises(ValueError):
            int_to_cn(bad)
