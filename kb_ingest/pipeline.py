"""Corpus changes, applied atomically: stage → build a new index version → one DB transaction → prune.

Every change (ingest, replace, delete, level change, approval of a held document) goes through
:func:`apply_change`. Until its transaction commits, the previous index version keeps serving.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from datetime import datetime, timezone

import duckdb

from comply import audit
from comply.config import Settings
from comply.db import rows_as_dicts, transaction
from kb_ingest.cases import CaseRecord, parse_case
from kb_ingest.chunking import ChunkDraft
from kb_ingest.documents import ParsedDocument
from kb_ingest.indexing import IndexRow, build_version
from kb_ingest.linking import link_case
from kb_ingest.screening import ScreenHit
from retrieval.embedding import embedder_for
from retrieval.links import ArticleChunk, LawResolver, LiveDoc
from retrieval.search import Searcher

T = TypeVar("T")
from retrieval.store import prune, version_dir


@dataclass
class NewDocument:
    """A parsed document to store, as live or held (when screening flagged it)."""

    doc: ParsedDocument
    level: int
    held: bool
    flags: list[ScreenHit]
    replaces: str | None = None


@dataclass
class CorpusChange:
    """Everything one operation changes; applied all together or not at all."""

    new_docs: list[NewDocument] = field(default_factory=list)
    doc_updates: dict[str, dict] = field(default_factory=dict)
    case_upserts: list[tuple[CaseRecord, int]] = field(default_factory=list)
    case_deletes: list[str] = field(default_factory=list)
    events: list[tuple[str, str | None, dict]] = field(default_factory=list)
    rebuild: bool = False

    def empty(self) -> bool:
        """True when nothing would change (and no rebuild was asked for)."""
        return not (self.new_docs or self.doc_updates or self.case_upserts or self.case_deletes or self.rebuild)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _chunk_id(doc_id: str, ord_: int) -> str:
    return f"{doc_id}-{ord_:04d}"


def _future_docs(con: duckdb.DuckDBPyConnection, change: CorpusChange) -> dict[str, dict]:
    """The documents that will be live after the change, keyed by doc id."""
    live = {d["doc_id"]: d for d in rows_as_dicts(con.execute(
        "SELECT doc_id, doc_key, title, version_date, level, state FROM documents WHERE state IN ('live', 'held')"
    ))}
    for doc_id, update in change.doc_updates.items():
        if doc_id in live:
            live[doc_id].update(update)
    for new in change.new_docs:
        live[new.doc.doc_id()] = {"doc_id": new.doc.doc_id(), "doc_key": new.doc.doc_key, "title": new.doc.header.title,
                                  "version_date": new.doc.header.version_date, "level": new.level,
                                  "state": "held" if new.held else "live"}
    return {k: v for k, v in live.items() if v["state"] == "live"}


def _stored_chunks(con: duckdb.DuckDBPyConnection, doc_ids: list[str]) -> list[tuple[str, ChunkDraft]]:
    rows = rows_as_dicts(con.execute(
        "SELECT doc_id, ord, article, article_no, part, chapter, section, paragraphs, path, text FROM chunks "
        "WHERE doc_id IN (SELECT unnest(?)) ORDER BY doc_id, ord", [doc_ids]
    ))
    return [(r.pop("doc_id"), ChunkDraft(**r)) for r in rows]


def _future_cases(con: duckdb.DuckDBPyConnection, change: CorpusChange) -> tuple[list[CaseRecord], dict[str, int]]:
    stored = rows_as_dicts(con.execute("SELECT case_id, level, raw FROM cases WHERE state = 'live'"))
    cases = {r["case_id"]: (parse_case(json.loads(r["raw"]), 0), r["level"]) for r in stored}
    for case_id in change.case_deletes:
        cases.pop(case_id, None)
    for record, level in change.case_upserts:
        cases[record.case_id] = (record, level)
    return [c for c, _ in cases.values()], {cid: lv for cid, (_, lv) in cases.items()}


# One corpus change at a time per process (the service, or the app beside it, runs several requests at once): a change
# plans against the stored state, takes the next index version and publishes its folder; two interleaved would both take
# the same version and the second would replace the first's live folder.
_CHANGE_LOCK = threading.RLock()


def serialised(change: Callable[..., T]) -> Callable[..., T]:
    """Run a corpus-changing function (plan, build, publish, commit) while holding the process's change lock."""

    @functools.wraps(change)
    def run(*args: object, **kwargs: object) -> T:
        with _CHANGE_LOCK:
            return change(*args, **kwargs)

    return run


@serialised
def apply_change(
    settings: Settings, con: duckdb.DuckDBPyConnection, change: CorpusChange, actor: str, progress: bool = False
) -> int | None:
    """Apply a corpus change atomically; return the new live index version (None when nothing changed)."""
    if change.empty():
        return None
    docs = _future_docs(con, change)
    new_by_id = {n.doc.doc_id(): n for n in change.new_docs}
    stored = _stored_chunks(con, [d for d in docs if d not in new_by_id])
    all_chunks = stored + [(doc_id, c) for doc_id, n in new_by_id.items() if not n.held for c in n.doc.chunks]
    chunk_rows = []
    articles: dict[tuple[str, int], list[ArticleChunk]] = {}
    for doc_id, chunk in all_chunks:
        doc = docs[doc_id]
        text = chunk.embedding_text(doc["doc_key"])
        chunk_rows.append(IndexRow(_chunk_id(doc_id, chunk.ord), int(doc["level"]), text, chunk.embed_key(doc["doc_key"])))
        if chunk.article_no is not None:
            articles.setdefault((doc_id, chunk.article_no), []).append(ArticleChunk(_chunk_id(doc_id, chunk.ord), chunk.paragraphs))
    cases, case_levels = _future_cases(con, change)
    case_rows = []
    for case in cases:
        text = case.search_text()
        case_rows.append(IndexRow(case.case_id, case_levels[case.case_id], text, _hash(text)))
    resolver = LawResolver([LiveDoc(d["doc_id"], d["doc_key"], d["version_date"]) for d in docs.values()])
    links = [row for case in cases for row in link_case(case, resolver, articles)]

    version = (con.execute("SELECT max(version) FROM index_versions").fetchone()[0] or 0) + 1
    # Only a full re-index (``comply reindex``) switches to a newly activated model; any other change keeps the model the
    # live index was built with, so its vectors and its relevance floor stay consistent.
    embedder = embedder_for(settings) if change.rebuild else Searcher(settings, con).embedder()
    path = build_version(settings, con, embedder, version, chunk_rows, case_rows, [d["doc_key"] for d in docs.values()], progress)
    if progress:
        print(f"提交事务并切换到索引版本 v{version}…", file=sys.stderr, flush=True)
    try:
        with transaction(con):
            _write_documents(con, change)
            _write_cases(con, change)
            con.execute("DELETE FROM case_citations")
            if links:
                con.executemany(
                    "INSERT INTO case_citations VALUES ($case_id, $role, $raw, $law, $article, $article_no, $doc_key, $chunk_id, $note)", links
                )
            con.execute("UPDATE index_versions SET state = 'retired' WHERE state = 'live'")
            con.execute(
                "INSERT INTO index_versions VALUES (?, ?, 'live', ?, ?, ?, ?, ?)",
                [version, path.name, len(chunk_rows), len(case_rows), embedder.name, _dense_kind(path), _now()],
            )
            for action, target, detail in change.events:
                audit.append(con, actor, action, target, detail)
            audit.append(con, actor, "index.swap", f"v{version}", {"chunks": len(chunk_rows), "cases": len(case_rows)})
    except BaseException:
        _discard_unrecorded(con, settings, version)
        raise
    keep = {r[0] for r in con.execute(
        "SELECT version FROM index_versions ORDER BY version DESC LIMIT ?", [settings.keep_index_versions]
    ).fetchall()}
    prune(settings.index_root, keep)
    return version


def _discard_unrecorded(con: duckdb.DuckDBPyConnection, settings: Settings, version: int) -> None:
    """Remove the folder of a version whose transaction failed, unless the database records that version.

    (Another session of the same process may have committed the same number meanwhile; its folder stays.)
    """
    try:
        recorded = con.execute("SELECT count(*) FROM index_versions WHERE version = ?", [version]).fetchone()[0]
    except duckdb.Error:
        return  # the database cannot say: keep the folder, the next change prunes it if it is not live
    if not recorded:
        shutil.rmtree(version_dir(settings.index_root, version), ignore_errors=True)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dense_kind(path) -> str:
    return json.loads((path / "meta.json").read_text(encoding="utf-8"))["chunks"]["dense_kind"]


def _write_documents(con: duckdb.DuckDBPyConnection, change: CorpusChange) -> None:
    for doc_id, update in change.doc_updates.items():
        for column, value in update.items():
            if column not in ("state", "level", "issuer", "doc_number", "status", "status_note"):
                raise ValueError(f"cannot update {column}")
            con.execute(f"UPDATE documents SET {column} = ? WHERE doc_id = ?", [value, doc_id])
    for new in change.new_docs:
        doc, h = new.doc, new.doc.header
        doc_id = doc.doc_id()
        prev_version = con.execute("SELECT max(version) FROM documents WHERE doc_key = ?", [doc.doc_key]).fetchone()[0] or 0
        # The same content again after it was deleted, rejected or replaced: its old row gives way to the new version.
        con.execute("DELETE FROM chunks WHERE doc_id = ?", [doc_id])
        con.execute("DELETE FROM documents WHERE doc_id = ?", [doc_id])
        flags = [{"rule": f.rule, "match": f.match, "offset": f.offset} for f in new.flags]
        con.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [doc_id, doc.doc_key, h.title, "regulation" if doc.is_legal else "text", doc.source_path, doc.content_hash,
             h.issuer, h.doc_number, h.version_date, h.status, h.text[:4000], new.level, "held" if new.held else "live",
             prev_version + 1, len(doc.chunks), json.dumps(flags, ensure_ascii=False), _now(), h.status_note],
        )
        con.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[_chunk_id(doc_id, c.ord), doc_id, c.ord, c.article, c.article_no, c.part, c.chapter, c.section,
              c.paragraphs, c.path, c.text, c.embed_key(doc.doc_key)] for c in doc.chunks],
        )


def _write_cases(con: duckdb.DuckDBPyConnection, change: CorpusChange) -> None:
    for case_id in change.case_deletes:
        con.execute("UPDATE cases SET state = 'deleted' WHERE case_id = ?", [case_id])
    for record, level in change.case_upserts:
        f = record.fields
        con.execute("DELETE FROM cases WHERE case_id = ?", [record.case_id])
        con.execute(
            "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [record.case_id, f["title"], f.get("authority"), f.get("date"), f.get("doc_number"), f.get("party"),
             f.get("party_type"), f.get("measure_type"), f.get("penalty"), f.get("violation_summary"),
             json.dumps(f["tags"], ensure_ascii=False), json.dumps(f["legal_basis_violated"], ensure_ascii=False),
             json.dumps(f["legal_basis_penalty"], ensure_ascii=False), f["marketing_related"], f.get("text_type"),
             f.get("full_text"), f.get("source"), level, record.content_hash, record.source_path, "live", _now(),
             json.dumps(record.raw, ensure_ascii=False)],
        )
