"""Direct lookup: a query that names a provision (证券法第八十条, 《广告法》第九条第三项) gets that provision first."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kb_ingest.citations import parse_citations
from kb_ingest.linking import ArticleChunk, LawResolver, LiveDoc, pick_chunk


@dataclass(frozen=True)
class LookupHit:
    """A chunk named by the query itself."""

    chunk_id: str
    citation: str


def lookup_provisions(con: duckdb.DuckDBPyConnection, query: str, clearance: int) -> list[LookupHit]:
    """Resolve provisions named in the query to chunks visible at this clearance, in the order named."""
    citations = parse_citations(query)
    if not citations:
        return []
    docs = con.execute(
        "SELECT doc_id, doc_key, version_date FROM documents WHERE state = 'live' AND level <= ?", [clearance]
    ).fetchall()
    resolver = LawResolver([LiveDoc(*d) for d in docs])
    hits: list[LookupHit] = []
    for cit in citations:
        doc = resolver.resolve(cit.law)
        if doc is None:
            continue
        rows = con.execute(
            "SELECT chunk_id, paragraphs FROM chunks WHERE doc_id = ? AND article_no = ? ORDER BY ord", [doc.doc_id, cit.article_no]
        ).fetchall()
        if rows:
            chunk_id = pick_chunk([ArticleChunk(*r) for r in rows], cit.paragraph_no)
            if chunk_id not in {h.chunk_id for h in hits}:
                hits.append(LookupHit(chunk_id, f"{doc.doc_key}{cit.article}"))
    return hits
