"""``comply bench qa``: chat answers to dev questions timed to the first token and in full, with the configured backend
(here the TGI-protocol double, which waits before answering and between chunks) over a real knowledge base.
Structure, counts and lower bounds only: no timing threshold of the product is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CORPUS, REGULATIONS, make_settings
from support.tgi_double import Reply

from comply.db import connect
from eval.bench import main
from eval.bench.measures import dev_questions
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration

DELAY_S, CHUNK_DELAY_S, ANSWER = 0.3, 0.05, "不能。证券公司不得对客户证券买卖的收益作出承诺[1]。"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base of two real laws (real parsing, embeddings, FAISS and BM25)."""
    settings = make_settings(tmp_path_factory.mktemp("bench-qa") / "data")
    con = connect(settings.db_path)
    laws = [REGULATIONS / "中华人民共和国证券法.md", REGULATIONS / "中华人民共和国广告法.md"]
    assert ingest(settings, con, laws, level=0).errors == []
    con.close()
    return settings.data_dir


@pytest.fixture()
def backend(monkeypatch: pytest.MonkeyPatch, tgi):
    """The settings the bench loads point at the double, which answers after a delay, in timed chunks."""
    monkeypatch.setenv("COMPLY_CORPUS", str(CORPUS))
    monkeypatch.setenv("COMPLY_LLM_URL", tgi.url)
    monkeypatch.setenv("COMPLY_LLM_RETRIES", "0")
    tgi.default_reply = Reply(content=ANSWER, delay_s=DELAY_S, chunk_delay_s=CHUNK_DELAY_S, chunk_chars=4)
    return tgi


def bench(data_dir: Path, out: Path, *extra: str) -> tuple[dict, str]:
    assert main(["--data", str(data_dir), "qa", "--out", str(out), *extra]) == 0
    return json.loads((out / "bench.json").read_text(encoding="utf-8")), (out / "bench.md").read_text(encoding="utf-8")


def test_answers_are_timed_to_the_first_token_and_in_full(data_dir: Path, backend, tmp_path: Path) -> None:
    report, md = bench(data_dir, tmp_path / "out", "--qa-questions", "3")
    q = report["qa"]
    ids = [i.id for i in dev_questions(make_settings(data_dir), 4)]
    assert q["warmup"]["id"] == ids[0] and [r["id"] for r in q["rows"]] == ids[1:]
    assert q["asked"] == q["questions"] == 3 and q["model"] == "test/tgi"
    assert q["timed"] + q["no_model"] + q["model_failed"] == 3 and q["timed"] >= 1 and q["model_failed"] == 0
    prompts = [r.body for r in backend.chat_requests]
    asked = 1 + q["timed"] if q["warmup"]["mode"] == "llm" else q["timed"]
    assert len(prompts) == asked and all(p["stream"] for p in prompts), "one streamed request per answer, no rewrite"
    chunks = -(-len(ANSWER) // 4)
    for r, sent in zip([r for r in q["rows"] if r["timed"]], prompts[-q["timed"]:], strict=True):
        assert r["ttft_s"] >= DELAY_S, "the first token comes after the server's delay"
        assert r["total_s"] >= r["ttft_s"] + (chunks - 1) * CHUNK_DELAY_S * 0.9
        assert r["prompt_chars"] == sum(len(m["content"]) for m in sent["messages"])
        assert r["system_chars"] == sum(len(m["content"]) for m in sent["messages"] if m["role"] == "system") > 0
    for key in ("ttft_s", "total_s"):
        assert q[key]["n"] == q["timed"] and 0 < q[key]["p50_s"] <= q[key]["p95_s"]
    assert q["ttft_s"]["p95_s"] < q["total_s"]["p95_s"]
    assert 0 < q["system_chars"]["p50"] < q["prompt_chars"]["p50"] <= q["prompt_chars"]["max"]
    t = q["targets"]
    assert (t["ttft_s"], t["total_s"]) == (3.0, 12.0) and t["ttft_p50_met"] is (q["ttft_s"]["p50_s"] <= 3.0)
    assert len(q["loadavg"]["before"]) == 3 and "qa" in report["stages"]
    assert "## Chat answers (3 dev questions via stream_answer after one warm-up;" in md
    assert f"| time to first token (from the question: rewrite, retrieval, prompt) | {q['timed']} |" in md
    assert "Targets (idle 2-core machine): first token ≤ 3 s: p50 met" in md


def test_a_failing_model_is_counted_not_timed(data_dir: Path, backend, tmp_path: Path) -> None:
    backend.default_reply = Reply(status=500)
    report, md = bench(data_dir, tmp_path / "out", "--qa-questions", "2")
    q = report["qa"]
    assert q["timed"] == 0 and q["model_failed"] + q["no_model"] == 2 and q["model_failed"] >= 1
    assert q["ttft_s"] == {"n": 0} and q["targets"]["ttft_p50_met"] is None
    assert "| time to first token (from the question: rewrite, retrieval, prompt) | 0 | – | – |" in md
    assert f"{q['model_failed']} whose model call failed" in md


def test_without_a_model_the_measure_says_so(data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMPLY_CORPUS", str(CORPUS))
    monkeypatch.setenv("COMPLY_LLM", "off")
    report, md = bench(data_dir, tmp_path / "out")
    assert report["qa"] == {"skipped": True, "reason": "已在配置中关闭", "backend": "无大模型（已在配置中关闭）"}
    assert "Chat answers: not measured (已在配置中关闭)." in md


def test_the_number_of_questions_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["qa", "--qa-questions", "0", "--out", str(tmp_path)])
    assert exit_.value.code == 2
