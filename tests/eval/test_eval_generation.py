"""The generation benchmark over the shipped briefs, with the template (no model), on the real corpus."""

from __future__ import annotations

from datetime import date

import pytest
from support import PROJECT

from assistant.generate.loop import Loop
from eval.generation import evaluate, format_report, load_dataset
from review.pipeline import Reviewer

pytestmark = pytest.mark.integration

BRIEFS = PROJECT / "eval" / "datasets" / "briefs.jsonl"


def test_benchmark_counts_passes_rounds_refusals_and_invented_figures(corpus_kb):
    settings, con, _ = corpus_kb
    items = load_dataset(BRIEFS)
    report = evaluate(Loop(Reviewer(settings, con), None, "基准：模板"), items, max_rounds=3, today=date(2026, 11, 21))
    rows = {r["id"]: r for r in report["rows"]}
    assert report["n"] == len(items) == 12 and report["refused"] == 1 and "refused" in rows["private-moments"]
    assert report["with_invented_figures"] == 0.0, "no output may hold a figure the brief did not give"
    # the template copies the marketer's claim "历史上从未亏损过": its first draft fails review and the sentence is cut
    assert not rows["equity-poster"]["first_pass_clean"] and rows["equity-poster"]["clean"]
    assert report["first_pass_clean"] < report["clean_after_loop"] == 1.0 and report["rounds"] == {1: 11}
    assert report["modes"] == {"template": 11} and set(report["by_channel"]) == {"poster", "wechat_article", "sms", "moments"}
    text = format_report(report, str(BRIEFS))
    assert "首轮即通过审核" in text and "含资料外数字的输出：0%" in text


def test_a_bad_brief_line_is_named(tmp_path):
    bad = tmp_path / "briefs.jsonl"
    bad.write_text('{"id": "x", "channel": "poster", "product": {"name": "甲", "type": "债券型基金", "risk_level": "R7"}}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="risk_level"):
        load_dataset(bad)
