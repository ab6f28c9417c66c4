"""Evaluation suites over the app's own functions: cases, multiple-choice QA, stored runs, reports, CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import CORPUS, DEV, PROJECT, first_sentence, tgi_client
from support.tgi_double import Reply

from eval import cases, qa, retrieval
from eval.charts import histogram_chart, to_svg
from eval.report import compare, summary_metrics, write_comparison, write_report
from eval.runs import file_sha256, get_run, list_runs, new_run, save_run, settings_config
from eval.stats import latency_summary, percentile
from kb_ingest.ingest import ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration

QA_SAMPLE = PROJECT / "eval" / "datasets" / "qa_sample.jsonl"


def test_cases_suite_on_the_dev_set(corpus_kb):
    settings, con, _ = corpus_kb
    items = cases.load_dataset(DEV / "case_queries.jsonl")
    report = cases.evaluate(Searcher(settings, con), items)
    overall = report["overall"]
    assert report["n"] == len(items) == 15 and len(report["latencies_s"]) == 15
    assert overall["hit@5"] > 0.5 and overall["hit@1"] <= overall["hit@3"] <= overall["hit@5"]
    assert 0 < overall["mrr"] <= overall["hit@5"]


def test_cases_dataset_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "query": "代客理财", "relevant_case_ids": ["case-0032"]}\n{"id": "y", "query": "无"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="第 2 行"):
        cases.load_dataset(bad)


def test_qa_sample_is_well_formed():
    items = qa.load_dataset(QA_SAMPLE)
    assert len(items) >= 12 and len({i.id for i in items}) == len(items)
    assert all(i.article and i.article.startswith("《") for i in items)


def _scripted(items: list[qa.QaItem], right_with_clauses: bool, right_without: bool, reason: str | Callable[[str], str]):
    """A content_fn answering each question right or wrong depending on whether clauses were given; ``reason`` may be
    made from the prompt."""
    by_question = {i.question: i for i in items}

    def answer(body: dict) -> str:
        user = body["messages"][-1]["content"]
        item = next(i for q, i in by_question.items() if q in user)
        with_clauses = "【参考条款】" in user
        right = right_with_clauses if with_clauses else right_without
        wrong = next(k for k in item.choices if k != item.answer)
        said = (reason(user) if callable(reason) else reason) if with_clauses else "凭经验判断。"
        return json.dumps({"reason": said, "choice": item.answer if right else wrong},
                          ensure_ascii=False)

    return answer


def test_qa_suite_accuracy_and_citation_validity(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    items = qa.load_dataset(QA_SAMPLE)
    def quote_first(prompt: str) -> str:
        """A verbatim quote of clause [1] (it verifies), and a clause number that was not given (it does not)."""
        clause = re.search(r"^\[1\] [^\n]*\n(.*?)(?=\n\n)", prompt, re.S | re.M).group(1)
        return f"“{first_sentence(clause)}”[1]。另见[9]。"

    tgi.enqueue(*[Reply(content_fn=_scripted(items, True, False, quote_first))] * (2 * len(items)))
    report = qa.evaluate(tgi_client(tgi), Searcher(settings, con), items, settings)
    with_ret, closed = report["conditions"]["retrieval"], report["conditions"]["closed"]
    assert (with_ret["accuracy"], closed["accuracy"]) == (1.0, 0.0)
    assert (with_ret["n_citations"], with_ret["n_verified"], with_ret["citation_validity"]) == (2 * len(items), len(items), 0.5)
    assert with_ret["article_recall"] > 0.5 and report["model"] == "test/tgi"
    assert "citation_validity" not in closed and len(report["latencies_s"]) == 2 * len(items)
    # every request carried a schema whose choice is one of the question's keys
    formats = [r.body["response_format"] for r in tgi.requests if r.body and "response_format" in r.body]
    assert formats and all(f["value"]["properties"]["choice"]["enum"] == ["A", "B", "C", "D"] for f in formats)


def test_qa_suite_counts_invalid_output_as_error(corpus_kb, tgi):
    settings, _con, _ = corpus_kb
    items = qa.load_dataset(QA_SAMPLE)[:1]
    tgi.enqueue(Reply(content="不是 JSON"), Reply(content='{"reason": "x", "choice": "Z"}'))
    report = qa.evaluate(tgi_client(tgi), None, items, settings, conditions=("closed",))
    assert report["conditions"]["closed"] == {"accuracy": 0.0, "correct": 0, "errors": 1}
    assert "error" in report["items"][0]["closed"]


def _run(suite: str, metrics: dict, dataset: Path, settings, model: str | None = None):
    return new_run(suite, metrics, dataset, settings_config(settings, suite), model)


def test_runs_round_trip_through_duckdb(small_kb):
    settings, con = small_kb
    dataset = DEV / "case_queries.jsonl"
    metrics = {"n": 15, "overall": {"hit@1": 0.5, "hit@3": 0.7, "hit@5": 0.8, "mrr": 0.6}, "items": [], "latencies_s": [0.01, 0.02]}
    run = _run("cases", metrics, dataset, settings)
    assert save_run(con, run) == run.run_id
    again = get_run(con, run.run_id)
    assert again == run and again.dataset_sha256 == file_sha256(dataset) and len(again.dataset_sha256) == 64
    assert again.config["rrf_k"] == settings.rrf_k and again.metrics == metrics
    assert get_run(con, run.run_id[:-2]) == run and get_run(con, "nope") is None
    other = _run("qa", {"n": 1, "conditions": {}}, QA_SAMPLE, settings, model="m")
    save_run(con, other)
    assert {r.run_id for r in list_runs(con)} == {run.run_id, other.run_id}
    assert [r.run_id for r in list_runs(con, suite="qa")] == [other.run_id]


def test_report_files_and_comparison(small_kb, tmp_path):
    settings, _ = small_kb
    dataset = DEV / "review_drafts.jsonl"

    def per_cat(f1: float) -> dict:
        return {"precision": f1, "recall": f1, "f1": f1, "n_pred": 4, "tp_pred": 2, "n_label": 4, "tp_label": 2}

    def review(f1: float) -> dict:
        return {"dataset": str(dataset), "modes": {"rules": {
            "n_drafts": 40, "n_clean": 10, "overall": per_cat(f1), "clean_fp_rate": 0.1, "clean_flagged": 1, "items": [],
            "per_category": {"guaranteed_return": per_cat(f1), "absolute_terms": per_cat(0.5)}}}}

    a, b = _run("review", review(0.4), dataset, settings), _run("review", review(0.6), dataset, settings)
    paths = write_report(a, tmp_path / "report")
    assert [p.suffix for p in paths] == [".json", ".md", ".html"] and all(p.stat().st_size for p in paths)
    assert json.loads(paths[0].read_text(encoding="utf-8"))["dataset_sha256"] == a.dataset_sha256
    page = paths[2].read_text(encoding="utf-8")
    assert "<svg" in page and "guaranteed_return" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "modes.rules.overall.f1" in paths[1].read_text(encoding="utf-8")
    comparison = compare(a, b)
    row = next(r for r in comparison.rows if r[0] == "modes.rules.overall.f1")
    assert row == ("modes.rules.overall.f1", 0.4, 0.6, 0.2)
    assert "| modes.rules.overall.f1 | 0.4000 | 0.6000 | +0.2000 |" in comparison.markdown()
    assert comparison.notes == [] and 'class="num up">+0.2000' in comparison.html()
    md, html_path = write_comparison(comparison, tmp_path / "cmp")
    assert md.exists() and html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_latency_histogram_for_timed_suites(small_kb, tmp_path):
    settings, _ = small_kb
    run = _run("cases", {"n": 3, "overall": {"hit@1": 1.0}, "items": [], "latencies_s": [0.1, 0.2, 0.4]}, DEV / "case_queries.jsonl", settings)
    assert summary_metrics(run.metrics)["latency.p50_s"] == 0.2
    page = write_report(run, tmp_path)[2].read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "耗时分布" in page


def test_percentiles_and_latency_summary():
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert percentile(values, 50) == pytest.approx(50.5) and percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01) and percentile([0.3], 95) == 0.3
    assert latency_summary([0.001, 0.002, 0.003, 0.004]) == {"p50": 2.5, "p95": 3.85, "p99": 3.97, "mean": 2.5, "max": 4.0}
    assert latency_summary([]) == {}
    with pytest.raises(ValueError):
        percentile([], 50)
    svg = to_svg(histogram_chart({"hybrid": [1.0, 2.0, 9.0], "bm25": [0.5, 0.6]}, title="耗时", unit="毫秒"))
    bars_and_swatches = svg.count('aria-roledescription="bar"') + svg.count("role-legend-symbol")  # Vega draws bars as <path>
    assert svg.startswith("<svg") and bars_and_swatches >= 2 * 3 + 2 and "hybrid p95" in svg and "bm25" in svg


def test_retrieval_suite_records_latency_per_mode(corpus_kb, tmp_path):
    settings, con, _ = corpus_kb
    items = retrieval.load_dataset(DEV / "retrieval_questions.jsonl")[:8]
    report = retrieval.evaluate(Searcher(settings, con), items)
    for mode in ("hybrid", "bm25", "dense"):
        r = report["modes"][mode]
        assert len(r["latencies_s"]) == len(items) and all(v > 0 for v in r["latencies_s"])
        assert [row["latency_s"] for row in r["items"]] == r["latencies_s"]
        stats = r["latency_ms"]
        assert set(stats) == {"p50", "p95", "p99", "mean", "max"}
        assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]
        assert stats["max"] == pytest.approx(max(r["latencies_s"]) * 1000, abs=1e-3)
    run = _run("retrieval", report, DEV / "retrieval_questions.jsonl", settings)
    flat = summary_metrics(run.metrics)
    assert flat["modes.hybrid.latency_ms.p95"] == report["modes"]["hybrid"]["latency_ms"]["p95"]
    assert not any("latencies_s" in key or ".items" in key for key in flat)
    json_path, md_path, html_path = write_report(run, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "各模式单次检索耗时分布" in page and "各模式检索耗时分位数" in page
    assert all(f"{mode} p95" in page for mode in ("hybrid", "bm25", "dense"))  # the p95 marker of each mode
    assert "<th>p95</th>" in page and "<th>p99</th>" in page
    md = md_path.read_text(encoding="utf-8")
    assert "| 模式 | n | p50 | p95 | p99 | mean | max |" in md
    hybrid_row = next(line for line in md.splitlines() if line.startswith("| hybrid | 8 |"))
    assert hybrid_row.split(" | ")[3] == f"{report['modes']['hybrid']['latency_ms']['p95']:.1f}"
    assert json.loads(json_path.read_text(encoding="utf-8"))["metrics"]["modes"]["dense"]["latencies_s"] == report["modes"]["dense"]["latencies_s"]
    # a stored run compares latencies as lower-is-better
    faster = _run("retrieval", json.loads(json.dumps(report)), DEV / "retrieval_questions.jsonl", settings)
    faster.metrics["modes"]["hybrid"]["latency_ms"]["p95"] /= 2
    assert 'class="num up">' in compare(run, faster).html()


@pytest.fixture()
def cases_cli(small_kb):
    settings, con = small_kb
    assert ingest(settings, con, [CORPUS / "cases" / "cases.jsonl"]).errors == []
    con.close()  # DuckDB allows one process per file: the CLI below opens it
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", *args], env={**env, **extra}, check=False,
                              capture_output=True, text=True, timeout=300)

    return run


def test_cli_eval_cases_save_report_and_compare(cases_cli, tmp_path):
    dataset = str(DEV / "case_queries.jsonl")
    out = cases_cli("eval", "cases", "--dataset", dataset, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 15 and report["overall"]["hit@5"] > 0.5 and "run_id" not in report
    saved = cases_cli("eval", "cases", "--dataset", dataset, "--save", "--report", str(tmp_path / "r"))
    assert saved.returncode == 0, saved.stderr
    run_id = saved.stdout.strip().splitlines()[-1].split("：")[-1]
    assert (tmp_path / "r" / f"{run_id}.html").read_text(encoding="utf-8").count("<svg") == 2
    second = json.loads(cases_cli("eval", "cases", "--dataset", dataset, "--json", "--save").stdout)["run_id"]
    listed = json.loads(cases_cli("eval", "runs", "--json").stdout)
    assert [r["run_id"] for r in listed] == [second, run_id] and listed[0]["dataset_sha256"] == file_sha256(Path(dataset))
    cmp = cases_cli("eval", "compare", run_id, second, "--report", str(tmp_path / "c"))
    assert cmp.returncode == 0, cmp.stderr
    assert "| overall.hit@5 |" in cmp.stdout and "+0.0000" in cmp.stdout
    assert len(list((tmp_path / "c").iterdir())) == 2
    missing = cases_cli("eval", "compare", run_id, "nope")
    assert missing.returncode == 1 and "未找到评测记录" in missing.stderr


def test_cli_eval_qa_without_a_model_says_so(cases_cli):
    out = cases_cli("eval", "qa", "--dataset", str(QA_SAMPLE), COMPLY_LLM="off")
    assert out.returncode == 1 and "qa 套件需要大模型" in out.stderr
    bad_mode = cases_cli("eval", "cases", "--dataset", str(DEV / "case_queries.jsonl"), "--mode", "rules")
    assert bad_mode.returncode == 2
