"""The comply command line as scripts call it (separate processes over a real knowledge base)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REGULATIONS, make_settings
from support.tgi_double import Reply, TgiDouble

from comply import audit_anchor
from comply.config import Settings
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def securities_law_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """证券法 ingested once (data folder and its audit key side by side); each test works on a copy of it."""
    root = tmp_path_factory.mktemp("securities-law-kb")
    settings = make_settings(root / "data", audit_key_file=root / "audit.key")
    con = connect(settings.db_path)
    audit_anchor.bind(settings)  # sign with the key beside the data folder, copied with it
    ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"])
    con.close()
    return root


@dataclass
class CliEnv:
    """Runs ``comply`` in a separate process over a private copy of the 证券法 knowledge base."""

    settings: Settings

    def __call__(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "COMPLY_DATA": str(self.settings.data_dir), "COMPLY_CORPUS": str(self.settings.corpus_dir),
               "COMPLY_AUDIT_KEY_FILE": str(self.settings.audit_key_file), **extra_env}
        return subprocess.run([sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture()
def cli_env(securities_law_kb: Path, tmp_path: Path) -> CliEnv:
    copy = tmp_path / "kb"
    shutil.copytree(securities_law_kb, copy)
    return CliEnv(make_settings(copy / "data", audit_key_file=copy / "audit.key"))


def test_batch_search_writes_one_json_line_per_query(cli_env, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in [
            {"id": "a", "query": "证券法第八十条"},
            {"id": 7, "query": "证券公司不得对客户证券买卖的收益作出承诺"},
            {"id": "junk", "query": "今天天气怎么样"},
        ]) + "\n", encoding="utf-8")
    out = cli_env("search", "--queries", str(queries), "--json", "-k", "3")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7, "junk"]
    first = lines[0]["hits"][0]
    assert set(first) == {"chunk_id", "doc_title", "article", "path", "text", "score", "level", "notice"}
    assert (first["doc_title"], first["article"], first["level"]) == ("中华人民共和国证券法", "第八十条", "公开")
    assert lines[1]["hits"][0]["article"] == "第一百三十五条"
    assert lines[2]["hits"] == []


def test_search_without_basis_says_so(cli_env):
    out = cli_env("search", "红烧肉怎么做才好吃")
    assert out.returncode == 0 and "未找到依据" in out.stdout


def test_ingest_reports_errors_with_exit_code(cli_env, tmp_path):
    bad = tmp_path / "坏文件.pdf"
    bad.write_bytes(b"%PDF-1.7 garbage")
    out = cli_env("ingest", str(bad), "--json")
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["index_version"] is None and report["files"][0]["kind"] == "corrupt"
    status = json.loads(cli_env("status", "--json").stdout)
    assert status["index_version"] == 1 and status["documents"] == {"live": 1}


def test_invalid_level_is_refused_clearly(cli_env):
    out = cli_env("search", "证券法", "--clearance", "绝密")
    assert out.returncode == 2 and "未知密级" in out.stderr


ASK_KEYS = {"answer", "conclusion", "claims", "other_clauses", "draft", "citations", "cases", "mode", "model", "ttft_s", "total_s"}


def test_ask_json_over_a_tgi_server(cli_env):
    with TgiDouble(model_id="test/tgi") as tgi:
        tgi.enqueue(Reply(content="不能。证券公司不得对客户证券买卖的收益作出承诺[1]。另见[9]。"))
        out = cli_env("ask", "证券公司能否向客户承诺保本保收益？", "--json", COMPLY_LLM_URL=tgi.url)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == ASK_KEYS and (answer["mode"], answer["model"]) == ("llm", "test/tgi")
    assert [(c["n"], c["article"], c["verified"]) for c in answer["citations"]] == [(1, "第一百三十五条", True), (9, None, False)]
    assert "[9]" not in answer["answer"] and 0 <= answer["ttft_s"] <= answer["total_s"]
    assert tgi.schema_errors == []


def test_ask_with_unreachable_llm_answers_from_clauses(cli_env):
    out = cli_env("ask", "证券公司能否向客户承诺保本保收益？", COMPLY_LLM_URL="http://127.0.0.1:9", COMPLY_LLM_TIMEOUT="2")
    assert out.returncode == 0, out.stderr
    assert "未使用大模型（无法连接大模型服务" in out.stdout and "第一百三十五条" in out.stdout
    assert "模式：retrieval-only" in out.stdout


def test_llm_status_reports_tgi_backend(cli_env):
    with TgiDouble(model_id="test/tgi") as tgi:
        ok = json.loads(cli_env("llm", "--json", COMPLY_LLM_URL=tgi.url).stdout)
    assert (ok["kind"], ok["model"], ok["healthy"]) == ("tgi", "test/tgi", True)
    off = cli_env("llm", COMPLY_LLM="off")
    assert off.returncode == 1 and "已在配置中关闭" in off.stdout


REVIEW_KEYS = {"span", "start", "end", "category", "severity", "explanation", "citations", "suggestion", "cases", "unverified_basis", "source"}


def test_review_batch_writes_one_line_per_draft(cli_env, tmp_path):
    drafts = tmp_path / "drafts.jsonl"
    drafts.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in [
        {"id": "a", "text": "本产品保本保收益，稳赚不赔，欲购从速！"},
        {"id": 2, "text": "基金有风险，投资需谨慎。本基金不保本，过往业绩不代表未来表现。"},
    ]) + "\n", encoding="utf-8")
    out = cli_env("review", "--drafts", str(drafts), "--json", "--no-llm")
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert set(first) == {"id", "mode", "genre", "learned_model", "notice", "stages", "findings", "hints"} and (first["id"], first["mode"]) == ("a", "rules")
    assert all(set(f) == REVIEW_KEYS for f in first["findings"])
    text = "本产品保本保收益，稳赚不赔，欲购从速！"
    assert all(text[f["start"]:f["end"]] == f["span"] for f in first["findings"])
    assert {"guaranteed_return", "improper_solicitation"} <= {f["category"] for f in first["findings"]}
    cited = [c for f in first["findings"] for c in f["citations"]]
    assert cited and all(set(c) == {"chunk_id", "doc_title", "article"} for c in cited)
    assert (second["id"], second["mode"], second["findings"], second["hints"]) == (2, "rules", [], [])
    stages = {s["stage"]: (s["ran"], s["code"]) for s in second["stages"]}
    assert stages["rules"] == (True, "ran") and stages["model"] == (False, "no_model"), "why the model did not run is recorded"


def test_review_of_a_docx_file_and_bad_input(cli_env, tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("【新品推荐】本基金年化收益稳稳8%，零风险！")
    path = tmp_path / "海报文案.docx"
    document.save(path)
    out = cli_env("review", str(path), "--no-llm")
    assert out.returncode == 0, out.stderr
    assert "仅规则" in out.stdout and "零风险" in out.stdout and "guaranteed_return" in out.stdout
    empty = tmp_path / "空.txt"
    empty.write_text("   \n", encoding="utf-8")
    bad = cli_env("review", str(empty), "--no-llm")
    assert bad.returncode == 1 and bad.stderr.strip()


def test_points_exports_a_checklist(cli_env, tmp_path):
    out = cli_env("points", "证券法", "--format", "csv")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("\ufeff") and "第一百三十五条" in out.stdout
    target = tmp_path / "要点.docx"
    assert cli_env("points", "中华人民共和国证券法", "--format", "docx", "-o", str(target)).returncode == 0
    assert target.stat().st_size > 0
    missing = cli_env("points", "不存在的办法")
    assert missing.returncode == 1 and "未找到" in missing.stderr


GENERATE_BRIEF = {
    "product": {"name": "远舟均衡配置混合型证券投资基金A", "type": "混合型基金", "risk_level": "R3", "manager": "远舟基金管理有限公司",
                "benchmark": "沪深300指数收益率×60%+中债综合指数收益率×40%",
                "performance": [{"period": "2024年度", "return": 6.85, "benchmark_return": 4.12}]},
    "channel": "poster", "length": 150,
}


def test_generate_brief_json_prints_exactly_the_documented_shape(cli_env, tmp_path):
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps(GENERATE_BRIEF, ensure_ascii=False), encoding="utf-8")
    out = cli_env("generate", "--brief", str(brief), "--json", "--no-llm")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"text", "review", "rounds"} and result["review"] == {"findings": []} and result["rounds"] == 1
    assert "2024年度：本产品净值增长率6.85%，同期业绩比较基准收益率4.12%" in result["text"] and "风险提示" in result["text"]
    private = {**GENERATE_BRIEF, "product": {**GENERATE_BRIEF["product"], "type": "私募证券投资基金"}}
    brief.write_text(json.dumps(private, ensure_ascii=False), encoding="utf-8")
    out = cli_env("generate", "--brief", str(brief), "--json", "--no-llm")
    assert out.returncode == 2 and "不特定对象" in out.stderr and out.stdout == ""


def test_sample_clients_and_a_personal_note_from_the_cli(cli_env):
    out = cli_env("clients", "samples")
    assert out.returncode == 0, out.stderr
    out = cli_env("generate", "--client", "DEMO001", "--kind", "daily_commentary", "--json", "--no-llm")
    assert out.returncode == 0, out.stderr
    note = json.loads(out.stdout)
    assert set(note) == {"text", "review", "rounds"} and note["text"].startswith("尊敬的演示客户01：")
    out = cli_env("generate", "--client", "DEMO012", "--kind", "daily_commentary", "--no-llm")
    assert out.returncode == 2 and "未授权" in out.stderr


def test_a_database_held_by_the_running_app_is_explained_not_a_traceback(cli_env):
    held = connect(cli_env.settings.db_path)  # as the app holds it
    try:
        out = cli_env("clients", "list")
    finally:
        held.close()
    assert out.returncode == 75 and "正被另一个进程" in out.stderr and "Traceback" not in out.stderr
