"""The gate on model findings, genre awareness and stage records, on the real KB with the TGI double as the model."""

from __future__ import annotations

import json

import pytest
from support import calibrated, tgi_client
from support.tgi_double import Reply

from comply.llm.client import ChatOptions, LlmClient
from review.gate import choose_threshold, load_calibrations, wilson_lower
from review.genre import load_detector, load_genres
from review.pipeline import LLM, RULES, Reviewer

HINTED = "客户评价很高"
DRAFT = "【季度服务回顾】\n本季度我们优化了开户流程，客户评价很高。\n欢迎了解产品详情。"  # no rule flags it


def reply(*findings: tuple[str, str]) -> Reply:
    body = [{"span": span, "category": category, "severity": "medium", "explanation": "无法证实的宣传",
             "clause_ids": [], "suggestion": "删除"} for span, category in findings]
    return Reply(content=json.dumps({"findings": body}, ensure_ascii=False))


def stage(report, name: str):
    return next(s for s in report.stages if s.name == name)


def test_threshold_is_the_lowest_similarity_whose_precision_reaches_the_target_with_confidence():
    good = [(0.95 - i * 0.005, True) for i in range(40)]
    threshold, precision = choose_threshold(good + [(0.5, False)], 0.9)
    assert threshold == pytest.approx(0.755) and precision == 1.0, "40 of 40 right: lower bound 0.94"
    assert wilson_lower(40, 41) < 0.9, "one more wrong finding would take the bound below the target"
    assert choose_threshold(good[:12], 0.9) == (None, None), "12 of 12 right is not yet enough evidence for 0.9"
    assert choose_threshold(good[:12], 0.7) == (pytest.approx(0.895), 1.0)
    assert choose_threshold(good[:9], 0.5) == (None, None), "too few findings keep the gate shut"
    tied = [(0.8, True)] * 30 + [(0.8, False)] * 2
    assert choose_threshold(tied, 0.8) == (0.8, 30 / 32), "ties are taken together"
    assert choose_threshold(tied[:30] + [(0.9, False)] * 10, 0.8) == (None, None), "wrong findings on top shut the gate"


def test_calibrations_round_trip_and_a_bad_file_is_named(corpus_kb, tmp_path):
    settings = calibrated(corpus_kb[0], tmp_path, 0.77)
    loaded = load_calibrations(tmp_path / "missing.json", settings.review_gate_file)["tgi:test/tgi"]
    assert loaded.clause_threshold == 0.77 and loaded.confidence("misleading_statement") == pytest.approx(0.3)
    assert loaded.confidence("personal_info") == pytest.approx(0.3), "an unseen category gets the pooled rate"
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"m": {"model": "m"}}}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        load_calibrations(bad)


def test_a_model_only_finding_is_a_hint_when_the_model_is_uncalibrated(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    tgi.enqueue(reply((HINTED, "misleading_statement")))
    report = Reviewer(settings, con, tgi_client(tgi)).review(DRAFT, user="m1")
    assert report.mode == LLM and report.model == "test/tgi"
    assert report.findings == [], "a hint is not a finding"
    (hint,) = report.hints
    assert DRAFT[hint.start:hint.end] == hint.span == HINTED and hint.confidence is None and "尚未校准" in hint.why
    assert hint.citations, "a hint is grounded in its category's clauses"
    assert len(tgi.chat_requests) == 1, "a hint never triggers a rewrite"
    assert stage(report, "rewrite").code == "not_needed" and stage(report, "cases").code == "not_needed"
    line = report.as_json("d1")
    assert line["hints"][0]["span"] == HINTED and line["genre"] == report.genre.id
    assert {s["stage"]: s["code"] for s in line["stages"]}["model"] == "ran"
    detail = json.loads(con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE seq = ?", [report.audit_seq]).fetchone()[0])
    assert detail["hints"] == 1 and detail["stages"]["model"] == "ran" and HINTED not in json.dumps(detail, ensure_ascii=False)


def test_an_open_gate_counts_supported_findings_but_never_in_a_holdings_report(corpus_kb, tgi, tmp_path):
    settings, con, _ = corpus_kb
    settings = calibrated(settings, tmp_path, 0.0)
    tgi.enqueue(reply((HINTED, "misleading_statement")), Reply(content="改写稿"),
                reply((HINTED, "misleading_statement")))
    counted = Reviewer(settings, con, tgi_client(tgi)).review(DRAFT, genre="wechat_post")
    assert (HINTED, "llm") in {(f.span, f.source) for f in counted.findings} and counted.hints == []
    held = Reviewer(settings, con, tgi_client(tgi)).review(DRAFT, genre="holding_report", rewrite=False)
    assert [h.span for h in held.hints] == [HINTED] and "不是营销宣传" in held.hints[0].why
    assert held.hints[0].confidence == pytest.approx(0.3)
    prompt = tgi.chat_requests[-1].body["messages"][-1]["content"]
    assert "【体裁】\n客户持仓报告" in prompt and not held.genre_detected


def test_the_fixed_instructions_come_first_so_the_server_can_reuse_them(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    tgi.enqueue(reply(), reply())
    reviewer = Reviewer(settings, con, tgi_client(tgi))
    reviewer.review(DRAFT, rewrite=False, audit=False)
    reviewer.review("【周末提醒】\n本周五下午三点起暂停办理转托管业务。\n详情请咨询营业部。", rewrite=False, audit=False)
    first, second = (r.body["messages"] for r in tgi.chat_requests)
    assert first[0] == second[0] and "guaranteed_return" in first[0]["content"] and "不得执行" in first[0]["content"]
    assert first[1] != second[1]


def test_the_model_is_not_asked_when_rule_findings_cover_every_sentence(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    report = Reviewer(settings, con, tgi_client(tgi)).review("本产品保本保收益！\n名额有限，欲购从速！", rewrite=False)
    assert tgi.chat_requests == [] and report.findings
    assert stage(report, "model").code == "covered" and "覆盖" in report.notice


def test_a_slow_model_degrades_to_the_rules_with_the_reason_recorded(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    tgi.enqueue(Reply(content='{"findings": []}', delay_s=3.0))
    client = LlmClient(tgi.url, options=ChatOptions(timeout_s=0.5, retries=0, backoff_s=0.01))
    client.probe()
    report = Reviewer(settings, con, client).review(DRAFT + "\n保本保收益。", rewrite=False)
    assert report.mode == RULES and report.hints == [] and report.findings
    model = stage(report, "model")
    assert model.code == "timeout" and not model.ran and "超时" in model.label()


def test_no_model_is_recorded_as_a_stage_that_did_not_run(corpus_kb):
    settings, con, _ = corpus_kb
    report = Reviewer(settings, con, None, "已在配置中关闭").review(DRAFT, audit=False)
    assert [(s.name, s.code) for s in report.stages] == [
        ("rules", "ran"), ("learned", "no_model"), ("model", "no_model"), ("cases", "not_needed"), ("rewrite", "not_needed")]
    ruled = Reviewer(settings, con, None, "已在配置中关闭").review(DRAFT + "\n保本保收益。", audit=False)
    assert [(s.name, s.code) for s in ruled.stages][3:] == [("cases", "ran"), ("rewrite", "ran")], "the template rewrite needs no model"
    assert stage(report, "model").reason == "已在配置中关闭" and report.genre is None


def test_an_unknown_genre_is_refused(corpus_kb):
    settings, con, _ = corpus_kb
    with pytest.raises(ValueError, match="未知的体裁"):
        Reviewer(settings, con).review(DRAFT, genre="brochure")


def test_the_genre_detector_learns_from_labelled_drafts_and_is_cached(corpus_kb, tmp_path):
    from retrieval.search import Searcher

    settings, con, _ = corpus_kb
    examples = tmp_path / "genres.jsonl"
    items = [("holding_report", f"尊敬的客户，截至{m}月末您的账户总资产为{m}2.6万元，持有股票三只，本月盈亏为-{m}.3%。") for m in range(1, 5)]
    items += [("poster", f"{m}月开户季｜扫码开户，佣金低至万{m}，新客专享理财礼包！") for m in range(1, 5)]
    examples.write_text("\n".join(json.dumps({"id": str(n), "genre": g, "text": t}, ensure_ascii=False)
                                  for n, (g, t) in enumerate(items)), encoding="utf-8")
    embed = Searcher(settings, con).embed_many
    detector = load_detector(examples, "m3e", tmp_path / "cache", embed)
    assert list((tmp_path / "cache" / "genres").glob("*.npz")), "centroids are cached per machine"
    [vector] = embed(["您的账户本月末总资产18.4万元，持仓两只基金，本月收益率为1.2%。"])
    assert detector.detect(vector)[0] == "holding_report"
    cached = load_detector(examples, "m3e", tmp_path / "cache", lambda texts: pytest.fail("retrained"))
    assert cached.genres == detector.genres
    assert not load_genres(settings.genres_file)["holding_report"].marketing


@pytest.mark.parametrize(("threshold", "why"), [(0.99, "低于校准门槛 0.99"), (None, "准确率不足")])
def test_below_the_threshold_or_with_the_gate_shut_a_model_finding_stays_a_hint(corpus_kb, tgi, tmp_path, threshold, why):
    settings, con, _ = corpus_kb
    tgi.enqueue(reply((HINTED, "misleading_statement")))
    report = Reviewer(calibrated(settings, tmp_path, threshold), con, tgi_client(tgi)).review(DRAFT, genre="wechat_post", audit=False)
    assert report.findings == [] and [h.span for h in report.hints] == [HINTED]
    assert why in report.hints[0].why and report.hints[0].confidence == pytest.approx(0.3)


def test_a_stale_or_broken_calibration_keeps_the_gate_shut_and_says_so(corpus_kb, tgi, tmp_path):
    settings, con, _ = corpus_kb
    tgi.enqueue(reply((HINTED, "misleading_statement")), reply((HINTED, "misleading_statement")))
    stale = Reviewer(calibrated(settings, tmp_path, 0.0, rules_sha256="1" * 64), con, tgi_client(tgi))
    assert stale.calibration is None and "重新运行 comply gate calibrate" in stale.gate_problem
    report = stale.review(DRAFT, genre="wechat_post", audit=False)
    assert report.findings == [] and report.hints and "重新运行" in report.notice
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    report = Reviewer(settings.model_copy(update={"review_gate_file": broken}), con, tgi_client(tgi)).review(DRAFT, audit=False)
    assert report.mode == LLM and report.findings == [] and "broken.json" in report.notice


def test_hint_citations_respect_the_reviewers_clearance(leveled_kb, tgi):
    settings, con = leveled_kb
    draft = "营销人员向高净值客户推介私募产品，无需复核，保本保收益。\n欢迎了解产品详情。"
    tgi.enqueue(reply(("向高净值客户推介私募产品", "misleading_statement")), reply(("向高净值客户推介私募产品", "misleading_statement")))
    for clearance in (0, 2):
        report = Reviewer(settings, con, tgi_client(tgi)).review(draft, clearance=clearance, rewrite=False, audit=False)
        for item in [*report.findings, *report.hints]:
            for c in item.citations:
                level = con.execute("SELECT d.level FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id = ?",
                                    [c.chunk_id]).fetchone()[0]
                assert level <= clearance, (clearance, c)
