"""Direct lookup: a query that names a provision (证券法第八十条, 《广告法》第九条第三项) gets that provision first;
a document named by id or title (with or without 《》 or 中华人民共和国) is found at a clearance."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from comply.lawtext.citations import parse_citations
from comply.lawtext.numerals import NUMERAL, cn_to_int
from retrieval.links import ArticleChunk, LawResolver, LiveDoc, pick_chunk

_REF_AFTER_TITLE = rf"》?\s*第({NUMERAL})条(?:第({NUMERAL})款)?"


@dataclass(frozen=True)
class LookupHit:
    """A chunk named by the query itself."""

    chunk_id: str
    citation: str


def _named(query: str, docs: list[LiveDoc]) -> list[tuple[LiveDoc, int, int | None]]:
    """(document, article, paragraph) named in the query: statute citations, or any document title + 第N条."""
    resolver = LawResolver(docs)
    out = []
    for cit in parse_citations(query):
        doc = resolver.resolve(cit.law)
        if doc is not None:
            out.append((doc, cit.article_no, cit.paragraph_no))
    for doc in docs:
        for name in {doc.doc_key, doc.doc_key.removeprefix("中华人民共和国")}:
            for m in re.finditer(re.escape(name) + _REF_AFTER_TITLE, query):
                out.append((doc, cn_to_int(m.group(1)), cn_to_int(m.group(2)) if m.group(2) else None))
    return out


def visible_docs(con: duckdb.DuckDBPyConnection, clearance: int) -> list[LiveDoc]:
    """The live documents a caller with this clearance may see."""
    return [LiveDoc(*d) for d in con.execute(
        "SELECT doc_id, doc_key, version_date FROM documents WHERE state = 'live' AND level <= ?", [clearance]
    ).fetchall()]


def lookup_provisions(con: duckdb.DuckDBPyConnection, query: str, docs: list[LiveDoc]) -> list[LookupHit]:
    """Resolve provisions named in the query to chunks of the given (visible) documents, in the order named."""
    if "条" not in query:
        return []
    hits: list[LookupHit] = []
    for doc, article_no, paragraph_no in _named(query, docs):
        rows = con.execute(
            "SELECT chunk_id, paragraphs FROM chunks WHERE doc_id = ? AND article_no = ? ORDER BY ord", [doc.doc_id, article_no]
        ).fetchall()
        if rows:
            chunk_id = pick_chunk([ArticleChunk(*r) for r in rows], paragraph_no)
            if chunk_id not in {h.chunk_id for h in hits}:
                hits.append(LookupHit(chunk_id, f"{doc.doc_key}第{article_no}条"))
    return hits


def find_document(con: duckdb.DuckDBPyConnection, doc_id_or_title: str, clearance: int) -> tuple[str, str]:
    """(doc_id, title) of the live document named by id or title (with or without 《》 / 中华人民共和国).

    Raises:
        LookupError: when no such document is visible at this clearance (the same message either way).
    """
    wanted = re.sub(r"[《》\s　]", "", doc_id_or_title or "")
    short = wanted.removeprefix("中华人民共和国")
    rows = con.execute(
        "SELECT doc_id, doc_key, title FROM documents WHERE state = 'live' AND level <= ? ORDER BY doc_key", [clearance]
    ).fetchall()
    for doc_id, key, title in rows:
        names = {re.sub(r"[\s　]", "", n).removeprefix("中华人民共和国") for n in (key, title) if n}
        if wanted and (wanted == doc_id or short in names):
            return doc_id, key
    raise LookupError(f"知识库中未找到文档「{doc_id_or_title}」，或当前密级无权查看")
