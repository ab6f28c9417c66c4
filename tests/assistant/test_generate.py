"""Marketing copy from a product brief: channel forms, inserted disclosures, performance rules, the review loop, figures."""

from __future__ import annotations

import json
from datetime import date

import pytest
from support import calibrated, tgi_client
from support.tgi_double import Reply

from assistant.generate.brief import BriefError, parse_brief
from assistant.generate.disclosures import load_disclosures, performance_lines
from assistant.generate.loop import Loop
from assistant.generate.marketing import GenerationRefused, generate_marketing
from comply import audit
from review.pipeline import Reviewer

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 21)
PRODUCT = {
    "name": "示例均衡成长混合型证券投资基金", "type": "混合型基金", "risk_level": "R3", "manager": "示例基金管理有限公司",
    "benchmark": "沪深300指数收益率×60%+中债综合指数收益率×40%", "fees": "申购费率1.2%",
    "highlights": ["重点关注消费、医药和先进制造行业"],
    "performance": [
        {"period": "2024年度", "return": 8.52, "benchmark_return": 5.1, "source": "基金定期报告"},
        {"period": "近3月", "return": 12.3, "benchmark_return": 3.2},
        {"period": "成立以来", "return": "35.6%", "benchmark_return": "20.1%"},
        {"period": "2023年度", "return": -5.2},
    ],
}
CLEAN_COPY = {"title": "均衡配置 长期陪伴", "lead": "一只关注消费与医药行业的混合型基金", "points": ["重点关注消费、医药和先进制造行业"], "sections": []}


def brief(channel: str = "poster", **product: object) -> object:
    return parse_brief({"product": {**PRODUCT, **product}, "channel": channel, "institution": "衡岳证券"})


def loop(corpus_kb, client=None, gate=None) -> Loop:
    """A generation loop; ``gate``, a folder, holds a calibration that opens the gate to the double's findings."""
    settings, con, _ = corpus_kb
    settings = calibrated(settings, gate, 0.0) if gate is not None else settings
    return Loop(Reviewer(settings, con, client), client, "测试：不使用大模型")


@pytest.mark.parametrize("channel", ["poster", "wechat_article", "sms", "moments"])
def test_template_copy_has_the_channel_form_the_disclosures_and_passes_review(corpus_kb, channel):
    result = generate_marketing(loop(corpus_kb), brief(channel), user="mkt", today=TODAY)
    assert result.mode == "template" and result.rounds == 1 and result.clean, [f.span for f in result.report.findings]
    assert "投资有风险" in result.text and "R3" in result.text
    if channel in ("poster", "wechat_article"):
        assert "本产品风险等级为R3（中风险），适合风险承受能力为C3（稳健型）及以上的投资者。" in result.text
        assert "2024年度：本产品净值增长率8.52%，同期业绩比较基准收益率5.1%（数据来源：基金定期报告）" in result.text
        assert "成立以来：本产品净值增长率35.6%，同期业绩比较基准收益率20.1%" in result.text
        assert "12.3" not in result.text and "-5.2" not in result.text, "short periods and figures without a benchmark are left out"
        assert any("近3月" in n for n in result.notes) and any("2023年度" in n and "基准" in n for n in result.notes)
        assert "过往业绩不代表未来表现" in result.text
    else:
        assert "8.52" not in result.text, "short channels show no performance"
    if channel == "sms":
        assert result.text.startswith("【衡岳证券】") and result.text.endswith("拒收请回复R")
    if channel == "wechat_article":
        assert result.text.startswith("# ") and "## 风险提示" in result.text
    assert result.as_json() == {"text": result.text, "review": {"findings": []}, "rounds": 1}


def test_generation_and_its_review_are_in_the_audit_chain(corpus_kb):
    _, con, _ = corpus_kb
    result = generate_marketing(loop(corpus_kb), brief("poster"), user="mkt-audit", today=TODAY)
    rows = con.execute("SELECT seq, action, target, CAST(detail AS VARCHAR) FROM audit_log WHERE actor = 'mkt-audit' ORDER BY seq").fetchall()
    assert [r[1] for r in rows] == ["review.draft", "generate.marketing"]
    detail = json.loads(rows[1][3])
    assert detail["review_seq"] == rows[0][0] == result.report.audit_seq and detail["channel"] == "poster"
    assert "text" not in detail and len(detail["text_sha256"]) == 64
    assert audit.verify(con).ok


@pytest.mark.parametrize("product_type", ["私募证券投资基金", "集合资产管理计划"])
def test_private_products_are_refused_on_public_channels(corpus_kb, product_type):
    with pytest.raises(GenerationRefused) as refused:
        generate_marketing(loop(corpus_kb), brief("moments", type=product_type), user="mkt", today=TODAY)
    assert "不特定对象" in str(refused.value) and "《私募投资基金监督管理条例》第二十条" in refused.value.legal_basis


def test_performance_is_shown_only_as_the_rules_allow():
    product = brief().product
    young = product.model_copy(update={"inception_date": "2026-08-01"})
    assert performance_lines(young, TODAY) == ([], ["产品成立不满六个月，按规定不展示业绩"])
    odd = product.model_copy(update={"performance": [
        product.performance[0].model_copy(update={"period": "2026年度"}),
        product.performance[0].model_copy(update={"period": "2025-01-01至2025-03-31"}),
        product.performance[0].model_copy(update={"period": "2024-07-01至2025-06-30"}),
        product.performance[0].model_copy(update={"period": "近3年"}),
    ]})
    lines, notes = performance_lines(odd, TODAY)
    assert [line.split("：")[0] for line in lines] == ["2024-07-01至2025-06-30", "近3年"]
    assert "当年尚未结束" in notes[0] and "不足六个月" in notes[1]


def test_bad_briefs_are_refused_with_the_field_named():
    with pytest.raises(BriefError, match="risk_level"):
        parse_brief({"product": {**PRODUCT, "risk_level": "R9"}, "channel": "poster"})
    with pytest.raises(BriefError, match="channel"):
        parse_brief({"product": PRODUCT, "channel": "billboard"})
    with pytest.raises(BriefError, match="name"):
        parse_brief({"product": {k: v for k, v in PRODUCT.items() if k != "name"}, "channel": "sms"})


def test_disclosure_texts_may_not_contain_figures(tmp_path):
    bad = tmp_path / "d.toml"
    bad.write_text('[general]\nfull=["保本期限3年"]\nshort="s"\nrisk_level="r"\nperformance_note="p"\npersonal_note="n"\nsms_opt_out="o"\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="不得出现数字"):
        load_disclosures(bad)


def _model(violating: dict, fixed: dict):
    """Scripted model replies by request: the first copy, the review stage (adds nothing), and the fix."""
    def reply(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if "【审核发现的问题】" in content:
            return json.dumps(fixed, ensure_ascii=False)
        if "【文案】" in content:
            return '{"findings": []}'
        return json.dumps(violating, ensure_ascii=False)
    return reply


def test_a_violating_copy_is_reviewed_and_fixed_in_the_loop(corpus_kb, tgi):
    violating = {**CLEAN_COPY, "lead": "保本保收益，稳赚不赔，错过再等一年"}
    tgi.enqueue(*[Reply(content_fn=_model(violating, CLEAN_COPY))] * 6)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY)
    assert (result.mode, result.rounds, result.first_pass_clean, result.clean) == ("llm", 2, False, True)
    assert "保本" not in result.text and CLEAN_COPY["title"] in result.text
    fix_request = next(r.body["messages"][-1]["content"] for r in tgi.chat_requests if "【审核发现的问题】" in r.body["messages"][-1]["content"])
    assert "保本保收益" in fix_request, "the fix request quotes the finding"
    assert all("response_format" in r.body for r in tgi.chat_requests), "copy and review are schema-constrained"


def test_figures_not_in_the_brief_are_sent_back_and_never_published(corpus_kb, tgi):
    invented = {**CLEAN_COPY, "lead": "管理团队投研经验丰富，管理规模超过500亿元。关注长期价值"}
    tgi.enqueue(*[Reply(content_fn=_model(invented, invented))] * 8)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY, max_rounds=2)
    assert result.figures_removed == ["500"] and "500" not in result.text and "关注长期价值" in result.text
    assert result.rounds == 2 and not result.first_pass_clean
    assert any("500" in n for n in result.notes)
    fix_request = [r for r in tgi.chat_requests if "【审核发现的问题】" in r.body["messages"][-1]["content"]]
    assert fix_request and "资料中没有这个数字" in fix_request[0].body["messages"][-1]["content"]


def test_a_violation_the_model_never_fixes_is_cut_out_after_the_last_round(corpus_kb, tgi):
    stubborn = {**CLEAN_COPY, "lead": "关注长期配置价值。我们承诺在一定条件下提供收益保障。"}
    tgi.enqueue(*[Reply(content_fn=_model(stubborn, stubborn))] * 8)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY, max_rounds=2)
    assert result.rounds == 2 and result.clean and "承诺" not in result.text and "关注长期配置价值。" in result.text
    assert any("我们承诺在一定条件下提供收益保障" in n for n in result.notes)


def test_a_model_failure_falls_back_to_the_template_and_says_so(corpus_kb, tgi):
    tgi.enqueue(Reply(content="{\"title\": "), Reply(content="不是 JSON"))
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY)
    assert result.mode == "template" and result.clean and any("改用模板" in n for n in result.notes)


def test_model_findings_on_inserted_facts_are_dropped_not_looped_on(corpus_kb, tgi, tmp_path):
    def reply(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if "【文案】" in content:  # the review stage flags the product's name, which the copy cannot change
            return json.dumps({"findings": [{"span": PRODUCT["name"], "category": "guaranteed_return", "severity": "high",
                                             "explanation": "x", "clause_ids": [], "suggestion": "y"}]}, ensure_ascii=False)
        return json.dumps({**CLEAN_COPY, "title": PRODUCT["name"]}, ensure_ascii=False)  # the title repeats the name

    tgi.enqueue(*[Reply(content_fn=reply)] * 8)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi), gate=tmp_path), brief("poster"), user="mkt", today=TODAY)
    assert (result.rounds, result.first_pass_clean, result.clean) == (1, True, True)
    assert [d["span"] for d in result.report.dropped] == [PRODUCT["name"]]
    shut = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY)
    assert (shut.rounds, shut.clean) == (1, True) and not [f for f in shut.report.findings if f.source == "llm"], \
        "with the gate shut no model finding counts, so none is looped on"


def test_figures_are_caught_in_full_width_digits_and_chinese_numerals():
    from review.verify import new_figures

    assert new_figures("收益10.0%", "收益10%，规模５００亿，收益百分之十二，三成客户，翻一番，一百二十亿，一定盈利") == [
        "500", "一番", "一百二十亿", "三成", "百分之十二"]


def test_a_model_writing_figures_in_other_scripts_is_cut(corpus_kb, tgi):
    sneaky = {**CLEAN_COPY, "lead": "关注长期配置价值。管理规模超过５００亿元。收益可达百分之十二。"}
    tgi.enqueue(*[Reply(content_fn=_model(sneaky, sneaky))] * 8)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi)), brief("poster"), user="mkt", today=TODAY, max_rounds=2)
    assert "５００" not in result.text and "百分之十二" not in result.text and "关注长期配置价值。" in result.text
    assert set(result.figures_removed) >= {"500", "百分之十二"}


def test_highlights_stating_returns_are_not_used_and_the_brief_length_is_not_a_figure(corpus_kb):
    b = brief("poster", highlights=["近三月收益12%，业绩亮眼", "重点关注消费行业"])
    result = generate_marketing(loop(corpus_kb), b, user="mkt", today=TODAY)
    assert "近三月收益12%" not in result.text and "重点关注消费行业" in result.text
    assert any("近三月收益12%" in n and "业绩表现" in n for n in result.notes)


def test_periods_not_yet_over_or_before_inception_are_not_shown():
    product = brief().product.model_copy(update={"inception_date": "2023-05-10"})
    entry = product.performance[0]
    odd = product.model_copy(update={"performance": [
        entry.model_copy(update={"period": "2026-01-01至2026-12-31"}),
        entry.model_copy(update={"period": "2023年度"}),
        entry.model_copy(update={"period": "近两年"}),
    ]})
    lines, notes = performance_lines(odd, TODAY)
    assert [line.split("：")[0] for line in lines] == ["近两年"]
    assert "尚未结束" in notes[0] and "未运作满一整年" in notes[1]


def test_every_matching_product_kind_adds_its_disclosure_and_private_names_are_refused(corpus_kb):
    result = generate_marketing(loop(corpus_kb), brief("poster", type="债券指数基金", performance=[]), user="mkt", today=TODAY)
    assert "跟踪误差" in result.text and "利率风险" in result.text
    with pytest.raises(GenerationRefused):
        generate_marketing(loop(corpus_kb), brief("sms", name="衡远稳进1号私募证券投资基金", type="混合型"), user="mkt", today=TODAY)


def test_a_model_finding_in_the_written_copy_is_kept_even_if_the_disclosures_share_its_words(corpus_kb, tgi, tmp_path):
    risky = {**CLEAN_COPY, "lead": "本基金属于低风险品种"}

    def reply(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if "【审核发现的问题】" in content:
            return json.dumps(CLEAN_COPY, ensure_ascii=False)
        if "【文案】" in content:
            flagged = "低风险" in content.split("【文案】")[1].split("产品要素")[0]
            return json.dumps({"findings": [{"span": "低风险", "category": "misleading_statement", "severity": "high", "explanation": "x",
                                             "clause_ids": [], "suggestion": "如实说明风险等级"}] if flagged else []}, ensure_ascii=False)
        return json.dumps(risky, ensure_ascii=False)

    tgi.enqueue(*[Reply(content_fn=reply)] * 6)
    result = generate_marketing(loop(corpus_kb, tgi_client(tgi), gate=tmp_path), brief("poster", risk_level="R2"), user="mkt",
                                today=TODAY)
    assert "中低风险" in result.text, "the disclosure holds the same words"
    assert (result.rounds, result.first_pass_clean, result.clean) == (2, False, True) and "低风险品种" not in result.text
