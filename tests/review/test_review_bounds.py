"""Bounds on a draft under review: one length cap whatever the way in, one normalisation, and a case search
clipped around each finding (a long draft costs in proportion to its length)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import make_settings

from comply.db import connect
from eval.review import evaluate, load_dataset, predictor
from kb_ingest.ingest import ingest
from review.draft import DraftError, draft_from_text
from review.pipeline import Reviewer
from review.rules import load_default_rules
from review.similar_cases import QUERY_REACH, sentence_around

RULE = "# 证券营销宣传管理办法\n\n第一条 证券公司不得在营销宣传中承诺保本保收益，不得使用稳赚不赔等用语。\n"
CASE = {"id": "case-bounds-1", "title": "某证券公司营销人员承诺保本保收益被警示",
        "violation_summary": "营销人员在宣传材料中承诺保本保收益、稳赚不赔。",
        "legal_basis_violated": ["《中华人民共和国证券法》第一百三十五条"]}


@pytest.fixture()
def tiny_kb(tmp_path: Path):
    """One short rule and one case, indexed (enough for clause citations and case search)."""
    settings = make_settings(tmp_path / "data", max_draft_chars=300)
    con = connect(settings.db_path)
    (tmp_path / "证券营销宣传管理办法.md").write_text(RULE, encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text(json.dumps(CASE, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ingest(settings, con, [tmp_path / "证券营销宣传管理办法.md", tmp_path / "cases.jsonl"]).errors == []
    return settings, con


def test_a_pasted_draft_over_the_cap_is_refused_naming_its_length_and_the_cap() -> None:
    with pytest.raises(DraftError) as info:
        draft_from_text("保本保收益" * 4001)  # 20,005 characters; the default cap is 20,000
    assert info.value.kind == "too_large"
    assert "20,005" in info.value.message and "20,000" in info.value.message
    assert draft_from_text("字" * 20_000).text == "字" * 20_000
    with pytest.raises(DraftError, match="301"):
        draft_from_text("字" * 301, max_chars=300)


def test_the_reviewer_refuses_an_over_long_draft_whatever_the_way_in(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", max_draft_chars=300)
    con = connect(settings.db_path)
    before = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    with pytest.raises(DraftError) as info:
        Reviewer(settings, con).review("本产品保本保收益。" * 40)  # 360 characters, no normalisation shortens it
    assert info.value.kind == "too_large" and "360" in info.value.message and "300" in info.value.message
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before, "a refused draft is not reviewed or audited"


def test_the_cap_counts_the_normalised_text(tiny_kb) -> None:
    settings, con = tiny_kb
    report = Reviewer(settings, con).review("\u200b" * 500 + "本产品保本保收益。", audit=False)
    assert report.draft == "本产品保本保收益。" and report.findings


def test_zero_width_characters_do_not_split_a_phrase_for_the_reviewer(tiny_kb) -> None:
    settings, con = tiny_kb
    report = Reviewer(settings, con).review("本产品保\u200b本保\u2060收益，稳\ufeff赚不赔！\r\n", audit=False)
    assert report.draft == "本产品保本保收益，稳赚不赔！\n"
    assert "guaranteed_return" in {f.category for f in report.findings}
    assert all(report.draft[f.start:f.end] == f.span for f in report.findings)
    assert any(f.cases for f in report.findings), "similar cases are still attached"


def test_the_review_evaluation_set_is_normalised_like_every_draft(tmp_path: Path) -> None:
    dataset = tmp_path / "drafts.jsonl"
    item = {"id": "zw", "text": "本产品保\u200b本保收益，欢迎认购。", "labels": [{"span": "保\u200b本保收益", "category": "guaranteed_return"}]}
    dataset.write_text(json.dumps(item, ensure_ascii=False) + "\n", encoding="utf-8")
    drafts = load_dataset(dataset)
    assert drafts[0].text == "本产品保本保收益，欢迎认购。" and drafts[0].labels[0].span == "保本保收益"
    report = evaluate(drafts, predictor("rules", load_default_rules(make_settings(tmp_path / "data"))))
    assert report["per_category"]["guaranteed_return"]["recall"] == 1.0


def test_the_case_search_query_is_clipped_around_its_span() -> None:
    text = "保本" * 10_000  # one sentence of 20,000 characters
    query = sentence_around(text, 10_000, 10_004)
    assert query and len(query) <= 2 * QUERY_REACH + 4 and query in text
    assert sentence_around("前言。本产品保本保收益。后记", 5, 7) == "本产品保本保收益"
    long_span = sentence_around(text, 0, 20_000)
    assert len(long_span) <= 2 * QUERY_REACH
