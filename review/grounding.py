"""The clauses a review may cite: legal bases named by rules and the taxonomy, plus clauses retrieved for the draft."""

from __future__ import annotations

import duckdb

from comply.db import rows_as_dicts
from comply.lawtext.status import status_notice
from corpus.catalog import load_catalog
from retrieval.lookup import LiveDoc, lookup_provisions, visible_docs
from retrieval.search import Searcher
from review.findings import ClauseRef


class ClauseResolver:
    """Resolves citation strings (《证券法》第一百三十五条) and searches clauses, at one clearance, with caching."""

    def __init__(self, searcher: Searcher, con: duckdb.DuckDBPyConnection, clearance: int) -> None:
        self.searcher = searcher
        self.con = con
        self.clearance = clearance
        self._docs: list[LiveDoc] = visible_docs(con, clearance)
        self._basis: dict[str, list[ClauseRef]] = {}
        self._searched: dict[tuple[str, int], list[ClauseRef]] = {}

    def _rows(self, chunk_ids: list[str]) -> list[ClauseRef]:
        rows = rows_as_dicts(self.con.execute(
            "SELECT c.chunk_id, d.doc_key AS doc_title, c.article, c.path, c.text, d.status, d.status_note "
            "FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE c.chunk_id IN (SELECT unnest(?)) AND d.state = 'live' AND d.level <= ?", [chunk_ids, self.clearance]
        ))
        for r in rows:
            r["notice"] = status_notice(r.pop("status"), r.pop("status_note"))
        by_id = {r["chunk_id"]: ClauseRef(**r) for r in rows}
        return [by_id[c] for c in chunk_ids if c in by_id]

    def basis(self, citation: str) -> list[ClauseRef]:
        """The clauses a citation string names, if its law is in the corpus and visible (else none)."""
        if citation not in self._basis:
            hits = lookup_provisions(self.con, citation, self._docs)
            self._basis[citation] = self._rows([h.chunk_id for h in hits])
        return self._basis[citation]

    def unresolved(self, citations: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The citations that name no clause visible in the corpus, each saying so and what the catalogue knows of it."""
        catalog = load_catalog(self.searcher.settings.corpus_dir)
        out = []
        for citation in dict.fromkeys(citations):
            if self.basis(citation):
                continue
            entry = catalog.find_cited(citation)
            known = f"；证监会法规目录：{entry.latest.status or '状态不详'}" if entry else ""
            out.append(f"{citation}（知识库未收录，无法核验{known}）")
        return tuple(out)

    def bases(self, citations: tuple[str, ...] | list[str], limit: int = 2) -> list[ClauseRef]:
        """The first ``limit`` resolvable clauses among citation strings, without repeats."""
        out: dict[str, ClauseRef] = {}
        for citation in citations:
            for ref in self.basis(citation):
                out.setdefault(ref.chunk_id, ref)
            if len(out) >= limit:
                break
        return list(out.values())[:limit]

    def search(self, text: str, k: int) -> list[ClauseRef]:
        """The top clauses retrieved for a passage of the draft (its first 500 characters; each passage searched once)."""
        key = (text[:500], k)
        if key not in self._searched:
            hits = self.searcher.search(key[0], k=k, clearance=self.clearance)
            self._searched[key] = [ClauseRef(h.chunk_id, h.doc_title, h.article, h.path, h.text) for h in hits]
        return self._searched[key]
