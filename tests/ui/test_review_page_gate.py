"""文案审核 under the gate: the genre choice, the stages that ran, and the model's hints shown apart from the findings.

The app runs under ``AppTest`` on a real knowledge base; the model is the TGI-protocol double at its HTTP boundary.
"""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from support import REGULATIONS, make_settings
from support.apptest import point_app_at, sign_in
from support.tgi_double import Reply

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest
from review.export import COLUMNS, HINT_COLUMNS, HINTS_TITLE
from review.genre import load_genres

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-9"
NO_RULE_DRAFT = "我们的投研团队实力雄厚，服务周到。"  # no rule flags it
MODEL_SPAN = "投研团队实力雄厚"
RULE_DRAFT = "本产品保本保收益。" + NO_RULE_DRAFT  # a rule finding, and a sentence left for the model


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One public regulation and a marketer's account; the file is left closed."""
    settings = make_settings(tmp_path_factory.mktemp("review-gate-kb") / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "广告管理条例.md"], level=0).errors == []
    create_user(con, "mark", PASSWORD, "marketer", 0, actor="test")
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir, "genres": load_genres(settings.genres_file)}


@pytest.fixture()
def app_with_model(kb: dict, tgi, monkeypatch: pytest.MonkeyPatch):
    """The app on the test knowledge base, its model the TGI double (the URL is set before the LLM is switched on)."""
    for _ in point_app_at(monkeypatch, kb["data"], kb["corpus"]):
        monkeypatch.setenv("COMPLY_LLM_URL", tgi.url)
        monkeypatch.delenv("COMPLY_LLM")
        st.cache_resource.clear()
        yield kb, tgi


def unescaped(text: str) -> str:
    """Text as the reader sees it (untrusted text reaches Markdown escaped by ``ui.safe_text.plain``)."""
    return re.sub(r"\\(.)", r"\1", text)


def values(elements) -> list[str]:
    return [unescaped(e.value) for e in elements]


def table(at, kind: tuple[str, ...]) -> list[dict] | None:
    """The rows of the table with the columns ``kind``; None when the page shows no such table."""
    found = [d.value for d in at.dataframe if tuple(d.value.columns) == kind]
    assert len(found) <= 1
    return found[0].to_dict("records") if found else None


def review(draft: str, genre: str | None = None):
    at = sign_in("mark", PASSWORD)
    at.text_area(key="review_text").input(draft)
    if genre is not None:
        at.selectbox(key="review_genre").set_value(genre)
    return at.button(key="review_run").click().run()


def test_the_genre_choice_offers_auto_detection_then_every_genre(app_with_model):
    kb, _ = app_with_model
    box = sign_in("mark", PASSWORD).selectbox(key="review_genre")
    assert box.value == "auto" and box.options == ["自动识别", *(g.name_zh for g in kb["genres"].values())]


def test_a_finding_only_the_model_raises_is_a_hint_never_a_finding(app_with_model):
    kb, tgi = app_with_model
    tgi.enqueue(Reply(content=json.dumps({"findings": [{
        "span": MODEL_SPAN, "category": "misleading_statement", "severity": "medium", "explanation": "无法证实的实力宣传",
        "clause_ids": [], "suggestion": "删除无法证实的表述"}]}, ensure_ascii=False)))
    at = review(NO_RULE_DRAFT)
    assert not at.exception and not at.error
    assert values(at.success) == ["未发现问题（另有 1 条待复核提示）"], "a hint counts in no verdict"
    assert "review_result" in at.session_state and len(at.download_button) == 3
    assert table(at, COLUMNS) is None, "no findings table"
    hints = table(at, HINT_COLUMNS)
    assert hints is not None and len(hints) == 1 and hints[0]["片段"] == MODEL_SPAN and hints[0]["类别"] == "虚假/误导性陈述"
    assert hints[0]["说明"] == "无法证实的实力宣传" and hints[0]["建议"] == "删除或改写该表述，避免虚假/误导性陈述"
    assert hints[0]["置信度"] == "未校准" and "尚未校准" in hints[0]["原因"]
    assert HINTS_TITLE in values(at.subheader)
    assert not any("<mark" in h.value for h in at.html), "a hint is never highlighted as a finding"
    assert any(v.startswith("**规则 + 大模型** · 共 0 个问题") for v in values(at.markdown))
    genre = [v for v in values(at.markdown) if v.startswith("体裁：")]
    assert len(genre) == 1 and re.fullmatch(r"体裁：\S+（自动识别）", genre[0]), genre
    assert {"规则：已运行", "大模型：已运行"} <= set(values(at.caption)) and not at.warning
    assert {"相似案例：未运行（没有问题需要匹配案例）", "改写：未运行（没有计入结论的问题）"} <= set(values(at.info)), \
        "a hint triggers neither cases nor a rewrite"
    assert len(tgi.chat_requests) == 1, "no rewrite request was sent"
    con = connect(kb["data"] / "comply.duckdb")
    try:
        detail = json.loads(con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'review.draft' "
                                        "ORDER BY seq DESC LIMIT 1").fetchone()[0])
    finally:
        con.close()
    assert detail["findings"] == 0 and detail["hints"] == 1


def test_a_malformed_model_reply_shows_the_model_stage_not_run_with_its_reason(app_with_model):
    _, tgi = app_with_model
    tgi.enqueue(Reply(content="{\"findings\": [ {"), Reply(content="不是 JSON"))
    at = review(RULE_DRAFT, genre="holding_report")
    assert not at.exception and not at.error
    assert "体裁：客户持仓报告（人工选择）" in values(at.markdown)
    assert any(v.startswith("**仅规则**") for v in values(at.markdown))
    warnings = values(at.warning)
    assert len(warnings) == 1 and warnings[0].startswith("大模型：未运行（模型回复格式无效："), warnings
    assert any("大模型审核未完成，按模板逐处删除或替换问题表述" in v for v in values(at.caption)), "the template rewrite says why"
    rows = table(at, COLUMNS)
    assert rows and any("保本保收益" in r["片段"] for r in rows)
    assert table(at, HINT_COLUMNS) is None and HINTS_TITLE not in values(at.subheader)
    assert tgi.chat_requests, "the model was asked"


def test_an_unreadable_genre_examples_file_reviews_as_marketing_and_says_so(app_with_model, monkeypatch, tmp_path):
    _, tgi = app_with_model
    monkeypatch.setenv("COMPLY_GENRE_EXAMPLES", str(tmp_path / "无此文件.jsonl"))
    st.cache_resource.clear()
    tgi.enqueue(Reply(content=json.dumps({"findings": []})), Reply(content="本产品不保本，投资有风险。"))
    at = review(RULE_DRAFT)
    assert not at.exception and not at.error
    assert [v for v in values(at.info) if v.startswith("未能识别体裁（找不到体裁样例文件")], values(at.info)
    assert not [v for v in values(at.markdown) if v.startswith("体裁：")], "no genre is claimed"
    assert "review_result" in at.session_state and tgi.chat_requests, "the model still reviewed the draft"
