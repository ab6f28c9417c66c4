"""Calibrating the gate on model findings: on labelled development drafts only, through the CLI, audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import DEV, REGULATIONS
from support.tgi_double import Reply, TgiDouble

from eval.gate_calibration import CalibrationError, check_dataset, spread
from eval.review import load_dataset
from kb_ingest.ingest import ingest
from review.gate import load_calibrations

pytestmark = pytest.mark.integration

CONFIRMED = "客户评价很高"
UNCONFIRMED = "客户可在营业部办理转托管业务"
DRAFTS = [
    {"id": "c1", "genre": "fund_promo", "text": f"【季度服务回顾】\n本季度我们优化了开户流程，{CONFIRMED}。\n欢迎了解产品详情。", "clean": False,
     "labels": [{"span": CONFIRMED, "category": "misleading_statement", "note_zh": ""}]},
    {"id": "c2", "genre": "wechat_post", "text": f"【周末提醒】\n本周五起{UNCONFIRMED}。\n详情请咨询营业部。", "clean": True, "labels": []},
]


def answer(body: dict) -> str:
    """The double's review: one finding on whichever of the two spans the draft holds."""
    prompt = body["messages"][-1]["content"]
    span = CONFIRMED if CONFIRMED in prompt else UNCONFIRMED
    return json.dumps({"findings": [{"span": span, "category": "misleading_statement", "severity": "medium",
                                     "explanation": "无法证实", "clause_ids": [], "suggestion": "删除"}]}, ensure_ascii=False)


def test_a_calibration_on_an_evaluation_set_or_a_copy_of_one_is_refused(tmp_path):
    dev = load_dataset(DEV / "review_drafts.jsonl")
    with pytest.raises(CalibrationError, match="评测集"):
        check_dataset(DEV / "review_drafts.jsonl", dev, [DEV.parent])
    copy = tmp_path / "mine.jsonl"
    with pytest.raises(CalibrationError, match=f"1 篇与评测集相同（{dev[3].id}）"):
        check_dataset(copy, dev[3:4], [DEV.parent])
    check_dataset(copy, [], [DEV.parent])
    assert [d for d in spread(list(range(10)), 4)] == [0, 2, 5, 7] and spread([1, 2], 0) == [1, 2]


def test_calibrate_measures_the_model_and_the_gate_stays_shut_on_little_evidence(small_kb, tmp_path):
    settings, con = small_kb
    ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"])
    con.close()
    dataset = tmp_path / "labelled.jsonl"
    dataset.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in DRAFTS), encoding="utf-8")
    out = tmp_path / "gate.json"
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}

    def comply(*args: str, url: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", *args], env={**env, "COMPLY_LLM_URL": url},
                              capture_output=True, text=True, timeout=300, check=False)

    with TgiDouble(model_id="test/calibrated") as tgi:
        tgi.enqueue(Reply(content_fn=answer), Reply(content_fn=answer))
        refused = comply("gate", "calibrate", "--dataset", str(DEV / "review_drafts.jsonl"), url=tgi.url)
        assert refused.returncode == 1 and "评测集" in refused.stderr
        done = comply("gate", "calibrate", "--dataset", str(dataset), "--output", str(out), "--json", url=tgi.url)
        assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "tgi:test/calibrated" and result["drafts"] == 2 and result["draft_ids"] == ["c1", "c2"]
    assert result["rules_sha256"] and result["embed_model"]
    assert result["categories"]["misleading_statement"] == {"found": 2, "confirmed": 1}
    assert result["clause_threshold"] is None, "two findings are too few to open the gate"
    stored = load_calibrations(out)["tgi:test/calibrated"]
    assert stored.confidence("misleading_statement") == pytest.approx(0.5)
    from comply import audit
    from comply.db import connect

    con = connect(settings.db_path)
    row = con.execute("SELECT target, CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'review.gate_calibrate'").fetchone()
    assert row[0] == "tgi:test/calibrated" and json.loads(row[1])["dataset_sha256"] == result["dataset_sha256"]
    assert audit.verify(con).ok
    con.close()
    shown = subprocess.run([sys.executable, "-m", "cli", "gate", "show"], env={**env, "COMPLY_DATA": str(tmp_path), "COMPLY_REVIEW_GATE_FILE": str(tmp_path / "none.json")},
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0 and "没有任何校准" in shown.stdout
