"""Scoring the review gate (issue 19): counted findings apart from hints, hint precision, where the model stage ran,
and ``comply eval review`` with modes side by side; the model is the TGI-protocol double, the KB a real one."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from support import REGULATIONS, make_settings, tgi_client
from support.tgi_double import Reply

from comply.db import connect
from eval.report import compare
from eval.review import (
    evaluate,
    evaluate_drafts,
    format_side_by_side,
    load_dataset,
    predictor,
    rules_categories,
)
from eval.runs import new_run, settings_config
from kb_ingest.ingest import ingest
from review.pipeline import Reviewer
from review.rules import load_default_rules

pytestmark = pytest.mark.integration

# d1: the model alone finds one labelled span (a right hint) and one unlabelled span (a wrong hint); labelled as a
# holding report, which genre detection would not pick for this text. d2: a clean draft the model hints on.
# d3: the rules cover its only sentence, so the model is skipped. d4: the model's reply is never valid JSON.
ROWS = [
    {"id": "d1", "genre": "holding_report", "text": "本基金由资深团队管理，客户满意度遥遥领先。欢迎来电咨询。",
     "labels": [{"span": "客户满意度遥遥领先", "category": "misleading_statement"}]},
    {"id": "d2", "genre": "fund_promo", "text": "本基金风险等级为R3，适合平衡型投资者。过往业绩不代表未来表现。", "clean": True, "labels": []},
    {"id": "d3", "genre": "poster", "text": "保本保收益！", "labels": [{"span": "保本保收益", "category": "guaranteed_return"}]},
    {"id": "d4", "genre": "fund_promo", "text": "本产品由专业团队运作。欢迎了解详情。", "clean": True, "labels": []},
]


def _finding(span: str, category: str = "misleading_statement") -> dict:
    return {"span": span, "category": category, "severity": "medium", "explanation": "无法证实的表述", "clause_ids": [],
            "suggestion": "删除"}


def _model(body: dict) -> str:
    """The double's answer, chosen by the draft in the request (drafts may be reviewed in any order)."""
    prompt = body["messages"][-1]["content"]
    if "资深团队" in prompt:
        return json.dumps({"findings": [_finding("客户满意度遥遥领先"), _finding("资深团队管理")]}, ensure_ascii=False)
    if "平衡型" in prompt:
        return json.dumps({"findings": [_finding("适合平衡型投资者", "improper_solicitation")]}, ensure_ascii=False)
    return "不是 JSON"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory):
    """A knowledge base of one real regulation (real parsing, embeddings and index), and the dataset above."""
    root = tmp_path_factory.mktemp("gate-eval")
    settings = make_settings(root / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国广告法.md"], level=0).errors == []
    con.close()  # the command under test opens the database itself
    dataset = root / "drafts.jsonl"
    dataset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n", encoding="utf-8")
    return settings, dataset


@pytest.fixture()
def double(tgi):
    tgi.default_reply = Reply(content_fn=_model)
    return tgi


def comply(settings, *argv: str):
    from cli.main import cli

    return CliRunner().invoke(cli, list(argv), obj=settings, catch_exceptions=False)


def test_hints_are_scored_apart_from_counted_findings_and_the_model_stage_is_summarised(kb, double):
    settings, dataset = kb
    drafts = load_dataset(dataset)
    con = connect(settings.db_path)
    try:
        reviewer = Reviewer(settings, con, tgi_client(double))
        assert reviewer.calibration is None, "an uncalibrated model: every finding it alone raises is a hint"
        report = evaluate_drafts(drafts, lambda d: reviewer.review(d.text, rewrite=False, audit=False),
                                 rules_categories(reviewer.rules))
    finally:
        con.close()
    hints = report["hints"]
    assert (hints["n"], hints["right"], hints["precision"]) == (3, 1, pytest.approx(1 / 3, abs=1e-4))
    assert hints["per_category"] == {"misleading_statement": {"n": 2, "right": 1, "precision": 0.5},
                                     "improper_solicitation": {"n": 1, "right": 0, "precision": 0.0}}
    assert hints["clean_hinted"] == 1 and hints["labels_only_hinted"] == 1
    # hints are never counted: the labelled span only a hint covers is still a miss, and the hinted clean draft is not flagged
    assert report["per_category"]["misleading_statement"]["n_pred"] == 0
    assert report["per_category"]["misleading_statement"]["recall"] == 0.0
    assert report["clean_flagged"] == 0
    assert report["per_category"]["guaranteed_return"]["tp_label"] == 1
    assert report["stages"] == {"recorded": 4, "ran": 2,
                                "not_run": {"no_model": 0, "timeout": 0, "malformed": 1, "unavailable": 0, "covered": 1}}
    by_id = {item["id"]: item for item in report["items"]}
    assert [(h["span"], h["right"]) for h in by_id["d1"]["hints"]] == [("资深团队管理", False), ("客户满意度遥遥领先", True)]
    assert [by_id[i]["model_stage"] for i in ("d1", "d2", "d3", "d4")] == ["ran", "ran", "covered", "malformed"]
    text = format_side_by_side({"llm": report}, "t")
    assert "注意：llm 有 1 篇大模型调用失败，这些篇只按规则计分" in text
    assert "干净稿出现提示（llm）：1/2；只有提示覆盖、结论漏掉的标注：1" in text


def test_a_predictor_of_plain_findings_has_no_hints_and_no_stages(kb):
    settings, dataset = kb
    rules = load_default_rules(settings)
    report = evaluate(load_dataset(dataset), predictor("rules", rules), rules_categories(rules))
    assert report["hints"] == {"n": 0, "right": 0, "precision": None, "clean_hinted": 0, "labels_only_hinted": 0, "per_category": {}}
    assert report["stages"]["recorded"] == 0 and all(item["model_stage"] is None for item in report["items"])
    text = format_side_by_side({"rules": report}, "t")
    assert "待复核提示" not in text and "大模型阶段" not in text


def test_eval_review_prints_modes_side_by_side_and_keeps_each_report_in_json(kb, double):
    settings, dataset = kb
    settings = settings.model_copy(update={"llm_url": double.url, "llm_retries": 0, "llm_timeout_s": 10.0})
    out = comply(settings, "eval", "review", "--dataset", str(dataset), "--mode", "rules", "llm")
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.startswith("类别"))
    assert header.split() == ["类别", "rules", "P", "rules", "R", "rules", "F1", "llm", "P", "llm", "R", "llm", "F1", "标注数"]
    row = next(line for line in lines if line.startswith("guaranteed_return"))
    assert row.split()[1:] == ["1.000", "1.000", "1.000", "1.000", "1.000", "1.000", "1"]
    assert "干净稿被标出问题（rules）：0/2（0.000）" in lines and "干净稿被标出问题（llm）：0/2（0.000）" in lines
    assert "体裁：自动识别" in lines[0]
    hints = lines[lines.index("待复核提示（仅大模型提出，不计入结论；与同类标注重叠即为正确）：") + 1:]
    assert [line.split() for line in hints[:4]] == [
        ["类别", "llm", "提示数", "llm", "正确", "llm", "P"], ["misleading_statement", "2", "1", "0.500"],
        ["improper_solicitation", "1", "0", "0.000"], ["overall", "3", "1", "0.333"]], "hint columns only for the mode the model ran in"
    stage_rows = {line.split()[0]: line.split()[1:] for line in lines if line.split()[:1] in (["rules"], ["llm"])}
    assert stage_rows == {"rules": ["4", "0", "4", "0", "0", "0", "0"], "llm": ["4", "2", "0", "0", "1", "0", "1"]}

    out = comply(settings, "eval", "review", "--dataset", str(dataset), "--mode", "rules", "llm", "--json")
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["genre"] == "auto" and set(report["modes"]) == {"rules", "llm"}
    for mode in report["modes"].values():
        assert {"per_category", "overall", "clean_fp_rate", "hints", "stages", "items"} <= set(mode) and len(mode["items"]) == 4
    assert report["modes"]["llm"]["hints"]["n"] == 3 and report["modes"]["rules"]["hints"]["n"] == 0


def test_the_labelled_genre_reaches_the_model_only_when_asked(kb, double):
    settings, dataset = kb
    settings = settings.model_copy(update={"llm_url": double.url, "llm_retries": 0, "llm_timeout_s": 10.0})

    def d1_prompt() -> str:
        return next(r.body["messages"][-1]["content"] for r in double.chat_requests if "资深团队" in r.body["messages"][-1]["content"])

    assert comply(settings, "eval", "review", "--dataset", str(dataset), "--mode", "llm", "--json").exit_code == 0
    assert "【体裁】\n客户持仓报告" not in d1_prompt(), "by default the genre is detected, as users get it"
    double.requests.clear()
    out = comply(settings, "eval", "review", "--dataset", str(dataset), "--mode", "llm", "--json", "--use-labelled-genre")
    assert out.exit_code == 0, out.stderr
    assert "【体裁】\n客户持仓报告" in d1_prompt()
    assert json.loads(out.stdout)["genre"] == "labelled"


def test_an_unknown_labelled_genre_is_refused_before_any_review(kb, double, tmp_path):
    settings, _ = kb
    settings = settings.model_copy(update={"llm_url": double.url})
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text(json.dumps({**ROWS[0], "id": "x9", "genre": "brochure"}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = comply(settings, "eval", "review", "--dataset", str(dataset), "--mode", "llm", "--use-labelled-genre")
    assert out.exit_code == 1 and "文案 x9 的体裁标注“brochure”不在体裁目录中" in out.stderr
    assert double.chat_requests == [], "nothing was reviewed"
    other = comply(settings, "eval", "retrieval", "--dataset", str(dataset), "--use-labelled-genre")
    assert other.exit_code == 2 and "只用于 review" in other.stderr


def test_a_run_comparison_marks_more_failed_model_stages_and_hinted_clean_drafts_as_worse(kb):
    settings, dataset = kb

    def run(failed: int, clean_hinted: int, ran: int):
        metrics = {"modes": {"llm": {"hints": {"clean_hinted": clean_hinted},
                                     "stages": {"ran": ran, "not_run": {"malformed": failed, "timeout": failed}}}}}
        return new_run("review", metrics, dataset, settings_config(settings, "review"))

    page = compare(run(0, 0, 4), run(2, 1, 2)).html()
    for metric, delta in (("stages.not_run.malformed", "+2"), ("stages.not_run.timeout", "+2"), ("hints.clean_hinted", "+1"),
                          ("stages.ran", "-2")):
        assert f'<td>modes.llm.{metric}</td>' in page
        assert re.search(rf'<td>modes\.llm\.{re.escape(metric)}</td>.*?class="num down">{re.escape(delta)}<', page), metric
