"""Smoke tests of the service benchmarks (``comply bench api`` and ``comply bench jobs``): a real ``comply serve``
subprocess on a knowledge base of its own, the LLM a TGI-protocol test double at its HTTP boundary. Structure and
counts only, never timing thresholds."""

from __future__ import annotations

import pytest
from support import REGULATIONS, make_settings
from support.tgi_double import Reply, TgiDouble

from comply.db import connect
from eval.bench.api_load import bench_api
from eval.bench.jobs_llm import bench_jobs
from kb_ingest.ingest import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def settings(tmp_path):
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"], level=0).errors == []
    con.close()
    return settings


def test_bench_api_counts_answered_searches(settings) -> None:
    report = bench_api(settings, ["证券公司能否承诺收益？", "内幕交易的法律责任"], clients=2, seconds=2.0)
    assert report["requests"] > 0 and report["errors"] == 0 and report["exit_code"] == 0
    assert report["latency"]["p95_ms"] >= report["latency"]["p50_ms"] > 0


def test_bench_jobs_runs_each_concurrency_through_the_model(settings) -> None:
    with TgiDouble(model_id="test/bench", default=Reply(content='{"findings": []}', delay_s=0.05)) as tgi:
        report = bench_jobs(settings.model_copy(update={"llm_url": tgi.url, "llm_mode": "auto"}), drafts=3, concurrency=(1, 2))
        assert tgi.schema_errors == [] and tgi.handler_errors == []
    assert [r["workers"] for r in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert (run["drafts"], run["done"], run["failed"], run["exit_code"]) == (3, 3, 0, 0)
        assert run["model_ran"] == 3 and run["drafts_per_s"] > 0
    assert bench_jobs(settings.model_copy(update={"llm_mode": "off"}))["skipped"] is True
