"""``comply bench --only review-llm``: the review's model stage timed per draft of about 400 characters, with the
configured backend (here the TGI-protocol double) over a real knowledge base. Structure and counts only: no timing
threshold is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CORPUS, REGULATIONS, make_settings
from support.tgi_double import Reply

from comply.db import connect
from eval.bench import main
from eval.bench.review_llm import DEV_DRAFTS, sized_drafts
from eval.review import load_dataset
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base of one real regulation (real parsing, embeddings, FAISS and BM25)."""
    settings = make_settings(tmp_path_factory.mktemp("bench-review-llm") / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国广告法.md"], level=0).errors == []
    con.close()
    return settings.data_dir


def bench(data_dir: Path, out: Path, *extra: str) -> tuple[dict, str]:
    assert main(["--data", str(data_dir), "--only", "review-llm", "--out", str(out), *extra]) == 0
    return json.loads((out / "bench.json").read_text(encoding="utf-8")), (out / "bench.md").read_text(encoding="utf-8")


@pytest.fixture()
def backend(monkeypatch: pytest.MonkeyPatch, tgi):
    """The settings the bench loads point at the double."""
    monkeypatch.setenv("COMPLY_CORPUS", str(CORPUS))
    monkeypatch.setenv("COMPLY_LLM_URL", tgi.url)
    monkeypatch.setenv("COMPLY_LLM_RETRIES", "0")
    return tgi


def test_sized_drafts_are_the_first_shipped_drafts_of_300_to_500_characters() -> None:
    every = load_dataset(DEV_DRAFTS)
    sized = [d for d in every if 300 <= len(d.text) <= 500]
    assert sized and len(sized) < len(every)
    assert sized_drafts(10) == sized[:10]
    assert sized_drafts(2) == sized[:2]


def test_the_model_stage_is_timed_on_each_draft_it_ran_on(data_dir: Path, backend, tmp_path: Path) -> None:
    backend.default_reply = Reply(content=json.dumps({"findings": []}))
    report, md = bench(data_dir, tmp_path / "out", "--review-drafts", "3")
    r = report["review-llm"]
    assert r["asked"] == r["drafts"] == 3 and r["model"] == "test/tgi" and r["failed"] == {}
    assert 300 <= r["chars"]["min"] <= r["chars"]["mean"] <= r["chars"]["max"] <= 500
    assert r["ran"] + r["covered"] == 3 and r["ran"] >= 1
    assert r["share_ran"] == round(r["ran"] / 3, 3) and r["share_covered"] == round(r["covered"] / 3, 3)
    prompts = [q.body["messages"][-1]["content"] for q in backend.chat_requests]
    assert len(prompts) == r["ran"], "one request per draft the model stage ran on (each fits one section)"
    texts = [d.text for d in sized_drafts(3)]
    assert all(sum(t in p for t in texts) == 1 for p in prompts)
    for key in ("model_s", "model_s_per_400_chars", "review_s"):
        assert r[key]["n"] == r["ran"] and 0 < r[key]["p50_s"] <= r[key]["p95_s"]
    assert r["model_s"]["p50_s"] <= r["review_s"]["p50_s"], "the model's requests are part of the review"
    assert "review-llm" in report["stages"]
    assert "## Review, model stage (3 dev drafts of" in md
    assert f"Model stage ran on {r['ran']} of 3 drafts" in md and "| model requests per 400 characters |" in md


def test_drafts_where_the_model_failed_are_counted_and_timed(data_dir: Path, backend, tmp_path: Path) -> None:
    backend.default_reply = Reply(content="不是 JSON")
    report, md = bench(data_dir, tmp_path / "out", "--review-drafts", "50")
    r = report["review-llm"]
    assert r["asked"] == 50 and r["drafts"] == len(sized_drafts(50)) < 50
    assert "(asked for 50; the shipped set has no more)" in md
    assert r["ran"] == 0 and r["failed"] == {"malformed": r["drafts"] - r["covered"]} and r["failed"]["malformed"] >= 1
    failed = r["failed"]["malformed"]
    assert r["model_s"]["n"] == r["review_s"]["n"] == failed, "the time a failing model took counts against the stage"
    assert f"failed: malformed {failed}" in md


def test_without_a_model_the_measure_says_so_and_measures_nothing(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("COMPLY_CORPUS", str(CORPUS))
    monkeypatch.setenv("COMPLY_LLM", "off")
    report, md = bench(data_dir, tmp_path / "out")
    r = report["review-llm"]
    assert r["skipped"] is True and r["reason"] == "已在配置中关闭" and "model_s" not in r
    assert "Review, model stage: not measured (已在配置中关闭)." in md


def test_the_number_of_drafts_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--only", "review-llm", "--review-drafts", "0", "--out", str(tmp_path)])
    assert exit_.value.code == 2
