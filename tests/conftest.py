"""Shared fixtures: real settings in temporary folders, and a knowledge base built once from the real corpus."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import duckdb
import pytest
from support import INTERNAL_POLICY, REGULATIONS, SECRET_POLICY, make_settings

from comply.config import Settings
from comply.db import connect
from kb_ingest.ingest import IngestReport, default_sources, ingest

# Audit signing keys default to ~/.config/comply; every test (and every process it starts) keeps them in a
# private folder instead, so the suite never writes into the user's configuration.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="comply-test-config-")


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
    """The TGI-protocol test double (tests/support/tgi_double.py); the test fails if the client sent a request off TGI's schema."""
    from support.tgi_double import TgiDouble

    with TgiDouble(model_id="test/tgi") as double:
        yield double
    assert double.schema_errors == [] and double.handler_errors == []
