"""Shared fixtures: real settings in temporary folders, and a knowledge base built once from the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from comply.config import Settings, load_settings
from comply.db import connect
from comply.llm.client import ChatOptions, LlmClient
from kb_ingest.ingest import IngestReport, default_sources, ingest

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
REGULATIONS = CORPUS / "regulations"
DEV = SHARED / "eval" / "dev"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings pointing at a private data folder and the real corpus."""
    return load_settings(data_dir=data_dir, corpus_dir=CORPUS, **overrides)


@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, duckdb.DuckDBPyConnection, IngestReport]:
    """The whole default corpus ingested once (real parsing, embeddings, FAISS, BM25, DuckDB). Read-only for tests."""
    settings = make_settings(tmp_path_factory.mktemp("corpus-kb"))
    con = connect(settings.db_path)
    report = ingest(settings, con, default_sources(settings), actor="test")
    return settings, con, report


@pytest.fixture()
def small_kb(tmp_path: Path) -> tuple[Settings, duckdb.DuckDBPyConnection]:
    """An empty knowledge base of its own, for tests that change the corpus."""
    settings = make_settings(tmp_path / "data")
    return settings, connect(settings.db_path)


SECRET_POLICY = """# 衡岳证券内部合规手册（秘密）

第一条 为规范营销人员客户招揽行为，制定本手册。

第二条 营销人员向高净值客户推介私募产品前，须经合规部双人复核，复核代号为“青鸾计划”。

第三条 对客户投诉的处理时限为五个工作日，超过时限的须报告首席合规官。
"""

INTERNAL_POLICY = """# 衡岳证券员工执业行为守则（内部）

第一条 员工不得在朋友圈发布未经合规审查的产品宣传材料。

第二条 员工不得向客户承诺收益，不得代客理财，违者按“白鹭条款”处理。

第三条 员工发现客户疑似洗钱的，应当在当日报告合规部。
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def leveled_kb(small_kb: tuple[Settings, duckdb.DuckDBPyConnection], tmp_path: Path) -> tuple[Settings, duckdb.DuckDBPyConnection]:
    """Two public regulations, an internal and a secret policy, and a secret case."""
    settings, con = small_kb
    files = tmp_path / "files"
    public = [REGULATIONS / "证券公司监督管理条例.md", REGULATIONS / "中华人民共和国广告法.md"]
    assert ingest(settings, con, public, level=0).errors == []
    assert ingest(settings, con, [_write(files, "员工执业行为守则", INTERNAL_POLICY)], level=1).errors == []
    assert ingest(settings, con, [_write(files, "内部合规手册", SECRET_POLICY)], level=2).errors == []
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "case-secret-1", "title": "内部调查：营销人员违规承诺收益（青鸾计划）",
                                 "violation_summary": "营销人员向客户承诺保本保收益，违反青鸾计划复核要求。"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    assert ingest(settings, con, [cases], level=2).errors == []
    return settings, con


@pytest.fixture()
def tgi():
    """The TGI-protocol test double (tests/tgi_double.py); the test fails if the client sent a request off TGI's schema."""
    from tgi_double import TgiDouble

    with TgiDouble(model_id="test/tgi") as double:
        yield double
    assert double.schema_errors == [] and double.handler_errors == []


def tgi_client(double) -> LlmClient:
    """A probed client for the double, with short timeouts and back-off."""
    client = LlmClient(double.url, options=ChatOptions(timeout_s=5.0, retries=1, backoff_s=0.01))
    client.probe()
    return client
