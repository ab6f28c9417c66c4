"""Shared fixtures: real settings in temporary folders, and a knowledge base built once from the real corpus."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from comply.config import Settings, load_settings
from comply.db import connect
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
