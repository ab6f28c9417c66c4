"""Administrator operations on documents: approve or reject a held document, delete, change level (of a case too)."""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb

from comply import audit
from comply.config import Settings
from comply.db import transaction
from comply.levels import level_name
from kb_ingest.cases import parse_case
from kb_ingest.pipeline import CorpusChange, apply_change, serialised


class AdminError(ValueError):
    """An operation that does not apply to the document in its current state."""


def _doc(con: duckdb.DuckDBPyConnection, doc_id: str) -> tuple[str, str, int]:
    row = con.execute("SELECT doc_key, state, level FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
    if row is None:
        raise AdminError(f"文档 {doc_id} 不存在")
    return row


@serialised
def approve(settings: Settings, con: duckdb.DuckDBPyConnection, doc_id: str, actor: str) -> int | None:
    """Put a held document live (replacing the live version of the same document, if any)."""
    key, state, level = _doc(con, doc_id)
    if state != "held":
        raise AdminError(f"文档 {doc_id} 状态为 {state}，只有待审文档可以批准")
    change = CorpusChange(doc_updates={doc_id: {"state": "live"}})
    for (old,) in con.execute("SELECT doc_id FROM documents WHERE doc_key = ? AND state = 'live'", [key]).fetchall():
        change.doc_updates[old] = {"state": "replaced"}
    change.events.append(("doc.approve", doc_id, {"doc_key": key, "level": level_name(level),
                                                 "replaces": [d for d in change.doc_updates if d != doc_id]}))
    return apply_change(settings, con, change, actor)


@serialised
def reject(con: duckdb.DuckDBPyConnection, doc_id: str, actor: str, reason: str = "") -> None:
    """Reject a held document; it never goes live (no index change is needed)."""
    key, state, level = _doc(con, doc_id)
    if state != "held":
        raise AdminError(f"文档 {doc_id} 状态为 {state}，只有待审文档可以驳回")
    with transaction(con):
        con.execute("UPDATE documents SET state = 'rejected' WHERE doc_id = ?", [doc_id])
        audit.append(con, actor, "doc.reject", doc_id, {"doc_key": key, "level": level_name(level), "reason": reason})


@serialised
def delete(settings: Settings, con: duckdb.DuckDBPyConnection, doc_id: str, actor: str) -> int | None:
    """Take a live document out of the knowledge base."""
    key, state, level = _doc(con, doc_id)
    if state != "live":
        raise AdminError(f"文档 {doc_id} 状态为 {state}，只能删除在用文档")
    change = CorpusChange(doc_updates={doc_id: {"state": "deleted"}},
                          events=[("doc.delete", doc_id, {"doc_key": key, "level": level_name(level)})])
    return apply_change(settings, con, change, actor)


@serialised
def set_level(settings: Settings, con: duckdb.DuckDBPyConnection, doc_id: str, level: int, actor: str) -> int | None:
    """Change the security level of a document (or of a live case, by its case id); the index is rebuilt so
    clearance filtering follows at once. This is the one way to lower a level: an import never does."""
    if con.execute("SELECT 1 FROM documents WHERE doc_id = ?", [doc_id]).fetchone() is None:
        case = con.execute("SELECT level, raw, source_path FROM cases WHERE case_id = ? AND state = 'live'", [doc_id]).fetchone()
        if case is not None:
            return _set_case_level(settings, con, doc_id, case, level, actor)
    key, state, old = _doc(con, doc_id)
    if state not in ("live", "held"):
        raise AdminError(f"文档 {doc_id} 状态为 {state}，不能修改密级")
    if old == level:
        return None
    change = CorpusChange(
        doc_updates={doc_id: {"level": level}},
        events=[("doc.level", doc_id, {"doc_key": key, "from": level_name(old), "to": level_name(level),
                                           "level": level_name(max(old, level))})],
    )
    return apply_change(settings, con, change, actor)


def _set_case_level(settings: Settings, con: duckdb.DuckDBPyConnection, case_id: str, case: tuple, level: int,
                    actor: str) -> int | None:
    old, raw, source_path = case
    if old == level:
        return None
    record = replace(parse_case(json.loads(raw), 0), source_path=source_path)
    change = CorpusChange(case_upserts=[(record, level)],
                          events=[("case.level", case_id, {"from": level_name(old), "to": level_name(level),
                                                                    "level": level_name(max(old, level))})])
    return apply_change(settings, con, change, actor)


@serialised
def reindex(settings: Settings, con: duckdb.DuckDBPyConnection, actor: str) -> int | None:
    """Rebuild the index from the database as it is (after a settings change, or to repair)."""
    live = con.execute("SELECT count(*) FROM documents WHERE state = 'live'").fetchone()[0]
    change = CorpusChange(rebuild=True, events=[("index.rebuild", None, {"documents": live})])
    return apply_change(settings, con, change, actor)
