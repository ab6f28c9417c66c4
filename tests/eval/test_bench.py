"""Smoke tests of the benchmark command: structure and positive numbers only, never timing thresholds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from eval.bench import main
from eval.bench.baseline import bench_baseline
from eval.bench.measures import dev_questions
from eval.bench.synthetic import load_real_chunks, scale_up

pytestmark = pytest.mark.integration

HAS_LANGCHAIN = all(importlib.util.find_spec(m) for m in ("langchain_community", "langchain_classic", "rank_bm25"))


def test_bench_search_and_review_smoke(corpus_kb, tmp_path: Path) -> None:
    settings, _con, _report = corpus_kb
    out = tmp_path / "out"
    argv = ["--data", str(settings.data_dir), "--scales", "3000", "--only", "search,review", "--queries", "5", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    machine = report["machine"]
    assert machine["python"] and machine["faiss"] and machine["torch"] and machine["gpu"]
    entry = report["search"]["3000"]
    assert entry["rows"] == 3000 and entry["synthetic"] is True and entry["dense_kind"].startswith("cpu")
    for mode in ("dense", "bm25", "hybrid", "hybrid_e2e", "query_embedding"):
        stats = entry["latency"][mode]
        assert stats["n"] == 5
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
    review = report["review"]
    assert review["drafts"] == 5 and review["p50_ms"] > 0
    assert review["rules_stage_2000_chars"]["n"] == 20 and review["rules_stage_2000_chars"]["p50_ms"] > 0
    assert all(s["peak_rss_mb_after"] > 0 for s in report["stages"].values())
    md = (out / "bench.md").read_text(encoding="utf-8")
    assert "| 3,000 (synthetic) |" in md and "GPU" in md and "Review (rules only" in md and "LLM: not measured" in md
    assert "rules stage alone, one 2,000-character draft" in md


def test_scale_up_perturbs_replicas(corpus_kb) -> None:
    settings, con, _report = corpus_kb
    real = load_real_chunks(settings, con)
    syn = scale_up(real, len(real.ids) + 10)
    assert len(syn.ids) == len(set(syn.ids)) == len(real.ids) + 10
    norms = (syn.vectors**2).sum(axis=1)
    assert abs(float(norms.max()) - 1) < 1e-4 and abs(float(norms.min()) - 1) < 1e-4
    assert syn.tokens[-1][-1] == str(len(syn.ids) - 1)


@pytest.mark.skipif(not HAS_LANGCHAIN, reason="langchain-community / langchain-classic / rank_bm25 not installed")
def test_langchain_baseline_hit_rate(corpus_kb) -> None:
    settings, con, _report = corpus_kb
    real = load_real_chunks(settings, con)
    result = bench_baseline(settings, con, real, dev_questions(settings, 5), rounds=2)
    assert result["questions"] == 5 and result["rounds"] == 2
    for side in ("langchain", "project_hybrid"):
        assert 0.0 <= result[side]["hit@5"] <= 1.0 and result[side]["p50_ms"] > 0 and result[side]["n"] == 10
    assert "torch" in result["peer_embedding"] and result["project_embedding"].startswith(("onnx-", "torch"))
    assert result["p50_ratio"] > 0 and result["target_p50_ratio"] == round(1 / 3, 4)


def test_bench_embed_compares_backends_on_real_text(corpus_kb) -> None:
    from eval.bench.embed import bench_embed
    from eval.bench.report import markdown

    settings, con, _report = corpus_kb
    real = load_real_chunks(settings, con)
    result = bench_embed(settings, real, [i.query for i in dev_questions(settings, 3)], texts=16, rounds=1)
    rows = result["backends"]
    assert set(rows) == {"torch", "onnx", "onnx-int8"}
    assert rows["torch"]["variant"] == "torch" and rows["onnx"]["variant"].startswith("onnx-fp32")
    for row in rows.values():
        assert row["query"]["n"] == 3 and row["chunks"] == 16 and row["chunks_per_s"] > 0
    assert rows["onnx"]["cosine_to_torch"]["chunks_min"] >= 0.9999
    assert rows["onnx-int8"]["cosine_to_torch"]["queries_min"] >= 0.99
    md = markdown({"machine": {"cpu": "x", "cores": 2, "ram_gib": 1, "python": "3.11", "torch": "t", "faiss": "f", "gpu": "none"},
                   "embed": result})
    assert "## Embedding backends" in md and "onnx-int8" in md


@pytest.mark.skipif(not HAS_LANGCHAIN, reason="langchain-community / langchain-classic / rank_bm25 not installed")
def test_langchain_ensemble_is_built_only_up_to_the_row_cap(corpus_kb, tmp_path: Path) -> None:
    settings, _con, _report = corpus_kb
    out = tmp_path / "out"
    argv = ["--data", str(settings.data_dir), "--scales", "2500,3000", "--only", "search,baseline", "--queries", "3",
            "--baseline-max-rows", "2500", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert report["search"]["2500"]["langchain"]["ensemble"]["n"] == 3
    assert "langchain" not in report["search"]["3000"]
    assert report["baseline"]["questions"] == 3
    md = (out / "bench.md").read_text(encoding="utf-8")
    assert "LangChain ensemble not built at 3,000 rows" in md
