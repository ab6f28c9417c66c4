"""Document listing and knowledge-base status, for the CLI and the app alike."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb

from comply.config import Settings
from comply.db import rows_as_dicts
from comply.levels import LEVELS, level_name
from corpus import describe
from retrieval.embedding import Embedder

DOC_STATES = {"live": "在用", "held": "待审", "replaced": "已替换", "deleted": "已删除", "rejected": "已驳回"}
FULL_CLEARANCE = len(LEVELS) - 1


def documents(con: duckdb.DuckDBPyConnection, states: Sequence[str] = (), clearance: int = FULL_CLEARANCE) -> list[dict]:
    """Documents (all versions) in the given states (all states when empty), by title then version, of titles whose
    every version is at or below ``clearance`` (an old version at a lower level must not reveal a title since
    raised). Pass the reader's clearance; the default (every level) is for the command line's operator.

    ``level`` is the level name, ``state_name`` the Chinese state, ``flags`` the parsed sensitive-word hits.
    """
    rows = rows_as_dicts(con.execute(
        "SELECT doc_id, doc_key, title, doc_type, version, state, level, n_chunks, flags, ingested_at FROM documents "
        "WHERE (len(?) = 0 OR list_contains(?, state)) "
        "AND (SELECT max(v.level) FROM documents v WHERE v.doc_key = documents.doc_key) <= ? ORDER BY doc_key, version",
        [list(states), list(states), clearance],
    ))
    for r in rows:
        r["level"] = level_name(r["level"])
        r["state_name"] = DOC_STATES.get(r["state"], r["state"])
        r["flags"] = json.loads(r["flags"]) if r["flags"] else []
    return rows


def live_documents(con: duckdb.DuckDBPyConnection, clearance: int) -> list[tuple[str, str]]:
    """(doc_id, title) of the live documents visible at this clearance, by title."""
    return [tuple(r) for r in con.execute(
        "SELECT doc_id, doc_key FROM documents WHERE state = 'live' AND level <= ? ORDER BY doc_key", [clearance]
    ).fetchall()]


def status(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict:
    """The corpus on disk, the database, the live index version, the embedding backend serving queries (loading
    the model when this process has not yet) and the documents by state."""
    from retrieval.search import Searcher

    live = con.execute(
        "SELECT version, n_chunks, n_cases, embed_model, dense_kind FROM index_versions WHERE state = 'live'"
    ).fetchone()
    counts = dict(con.execute("SELECT state, count(*) FROM documents GROUP BY state").fetchall())
    return {
        "corpus": describe(settings).summary() if settings.corpus_dir.is_dir() else f"未找到 {settings.corpus_dir}",
        "database": str(settings.db_path),
        "index_version": live[0] if live else None,
        "chunks": live[1] if live else 0,
        "cases": live[2] if live else 0,
        "embed_model": live[3] if live else None,
        "dense_index": live[4] if live else None,
        "embed_backend": _backend(Searcher(settings, con).embedder()),
        "documents": counts,
    }


def _backend(embedder: Embedder) -> str:
    """The backend serving, with the reason when ONNX was asked for and torch serves."""
    return f"{embedder.variant}；{embedder.notice}" if embedder.notice else embedder.variant
