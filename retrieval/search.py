"""Hybrid search over the live index version: dense + BM25 fused by reciprocal rank, a relevance floor,
provisions named in the query first, and the caller's clearance applied before anything is ranked."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np

from comply.config import Settings, default_embed_model
from comply.db import rows_as_dicts
from comply.lawtext.status import status_notice
from comply.levels import level_name
from retrieval.collection import Collection
from retrieval.embedding import Embedder, embedder_for
from retrieval.expansion import expansion_terms
from retrieval.lookup import lookup_provisions, visible_docs
from retrieval.store import IndexVersion, live_version, load_version
from retrieval.tokenize import get_tokenizer

MODES = ("hybrid", "bm25", "dense")
CANDIDATES = 50
# The relevance floor gates the query (no candidate reaching it: no basis), and then keeps candidates down to this
# far below it: a provision phrased unlike the question often sits just under the floor while BM25 ranks it first.
FLOOR_MARGIN = 0.01


@dataclass
class Hit:
    """One retrieved chunk; ``match`` says how: 'lookup' (named in the query) or the search mode."""

    chunk_id: str
    doc_id: str
    doc_title: str
    article: str | None
    path: str
    text: str
    score: float
    level: int
    match: str
    notice: str = ""  # the cited document is repealed, amended or has a newer version (:func:`comply.lawtext.status.status_notice`)

    def as_json(self) -> dict:
        """The public JSON shape (``level`` by name)."""
        out = asdict(self)
        out["level"] = level_name(self.level)
        out["score"] = round(self.score, 6)
        return out


@dataclass
class CaseHit:
    """One retrieved penalty / supervisory case."""

    case_id: str
    title: str
    authority: str | None
    date: str | None
    measure_type: str | None
    penalty: str | None
    snippet: str
    score: float
    level: int

    def as_json(self) -> dict:
        """The public JSON shape (``level`` by name)."""
        out = asdict(self)
        out["level"] = level_name(self.level)
        out["score"] = round(self.score, 6)
        return out


class NoIndexError(RuntimeError):
    """The knowledge base has not been built yet."""


@lru_cache(maxsize=2)
def _load(version: int, path: str) -> IndexVersion:
    return load_version(version, Path(path))


def rrf(rankings: list[tuple[float, list]], k: int) -> dict:
    """Weighted reciprocal-rank fusion of (weight, ranked ids) lists."""
    scores: dict = {}
    for weight, ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


class Searcher:
    """Searches whichever index version is live at the time of each call."""

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection) -> None:
        self.settings = settings
        self.con = con

    def index(self) -> IndexVersion:
        """The live index version (loaded once per process, reloaded after a swap).

        Raises:
            NoIndexError: before the first ingest.
        """
        live = live_version(self.con, self.settings.index_root)
        if live is None:
            raise NoIndexError("知识库尚未建立索引，请先运行 comply ingest")
        return _load(*live)

    def embed_many(self, texts: list[str], index: IndexVersion | None = None) -> np.ndarray:
        """Query vectors for several texts in one batch (one at a time, the model dominates a long review)."""
        return self.embedder(index).encode(texts)

    def embedder(self, index: IndexVersion | None = None) -> Embedder:
        """The model the live index (or ``index``) was built with, so that query and index vectors agree; the configured
        one before the first build. An index from before the model's path was recorded was built with the untuned model."""
        if index is None:
            try:
                index = self.index()
            except NoIndexError:
                return embedder_for(self.settings)
        built_with = index.meta.get("embed_model_path") or self.settings.embed_model or default_embed_model()
        return embedder_for(self.settings, built_with if Path(built_with).is_dir() else None)

    def rank(
        self, index: IndexVersion, coll: Collection, query: str, clearance: int, mode: str, floor: float,
        prefer: frozenset[str] = frozenset(), depth: int = CANDIDATES, vector: np.ndarray | None = None,
    ) -> list[tuple[str, float]]:
        """Ids ranked for the query among rows visible at this clearance, with their scores.

        Hybrid and dense return nothing when no candidate's cosine similarity reaches ``floor`` (BM25 alone
        matches stray words such as 基本原理 in unrelated questions); otherwise they keep rows whose similarity
        is at least ``floor - FLOOR_MARGIN``. BM25 keeps rows with any term match; its query is the question's
        tokens plus statutory terms for colloquial words in it (:func:`retrieval.expansion.expansion_terms`).
        In hybrid mode, ids whose prefix (the document id of a chunk) is in ``prefer`` (documents the query
        names by title or short title) get a small boost. ``coll`` is one of ``index``'s collections; ``vector``
        is the query's embedding when the caller computed it already (:meth:`embed_many`).
        """
        if mode not in MODES:
            raise ValueError(f"未知检索模式 {mode}，可选：{', '.join(MODES)}")
        vec = (self.embed_many([query], index)[0] if vector is None else vector) if mode != "bm25" else None
        dense = dict(coll.dense_search(vec, depth, clearance)) if vec is not None else {}
        sparse = {}
        if mode != "dense":
            tokenizer = get_tokenizer(index.user_words)
            extra = expansion_terms(query)
            tokens = tokenizer.tokens(query) + (tokenizer.tokens(" ".join(extra)) if extra else [])
            sparse = dict(coll.bm25_search(tokens, depth, clearance))
        if mode == "bm25":
            return [(coll.ids[r], s) for r, s in sorted(sparse.items(), key=lambda x: -x[1])]
        if mode == "hybrid":
            missing = [r for r in sparse if r not in dense]
            dense.update(zip(missing, coll.dense.score_rows(vec, missing).tolist()))
        if not dense or max(dense.values()) < floor:
            return []
        keep = {r for r, s in dense.items() if s >= floor - FLOOR_MARGIN}
        if mode == "dense":
            return [(coll.ids[r], dense[r]) for r in sorted(keep, key=lambda r: -dense[r])]
        s = self.settings
        fused = rrf([(1.0, sorted(dense, key=lambda r: -dense[r])), (s.bm25_weight, sorted(sparse, key=lambda r: -sparse[r]))], s.rrf_k)
        for r in keep:
            if coll.ids[r].rsplit("-", 1)[0] in prefer:
                fused[r] += s.named_doc_boost
        return [(coll.ids[r], fused[r]) for r in sorted(keep, key=lambda r: -fused[r])]

    def search(self, query: str, k: int = 10, clearance: int = 0, mode: str = "hybrid") -> list[Hit]:
        """Top-k chunks for a query at a clearance; an empty list means no match (未找到依据)."""
        query = query.strip()
        if not query or k <= 0:
            return []
        index = self.index()
        named, prefer = [], frozenset()
        if mode == "hybrid":
            docs = visible_docs(self.con, clearance)
            named = [h.chunk_id for h in lookup_provisions(self.con, query, docs)]
            prefer = frozenset(d.doc_id for d in docs if d.doc_key.removeprefix("中华人民共和国") in query)
        ranked = self.rank(index, index.chunks, query, clearance, mode, self.settings.dense_floor, prefer)
        seen, order = set(), []
        for chunk_id, score, how in [(c, 1.0, "lookup") for c in named] + [(c, s, mode) for c, s in ranked]:
            if chunk_id not in seen:
                seen.add(chunk_id)
                order.append((chunk_id, score, how))
        rows = self._chunk_rows([c for c, _, _ in order[: k * 2]], clearance)
        hits = [Hit(score=s, match=m, **rows[c]) for c, s, m in order if c in rows]
        return hits[:k]

    def shares_terms(self, query: str, hits: list[Hit]) -> bool:
        """Whether some hit was named by the query or holds one of its search terms (tokens and statutory terms for its
        colloquial words): the dense floor alone lets unrelated questions through on generic provisions (施行日期)."""
        if any(h.match == "lookup" for h in hits):
            return True
        tokenizer = get_tokenizer(self.index().user_words)
        extra = expansion_terms(query)
        terms = {t for t in tokenizer.tokens(query) + (tokenizer.tokens(" ".join(extra)) if extra else []) if len(t) >= 2}
        return any(t in h.text for h in hits for t in terms)

    def _chunk_rows(self, chunk_ids: list[str], clearance: int) -> dict[str, dict]:
        """Chunk rows that are live and within clearance (a second guard behind the index's own filter)."""
        rows = rows_as_dicts(self.con.execute(
            "SELECT c.chunk_id, c.doc_id, d.doc_key AS doc_title, c.article, c.path, c.text, d.level, d.status, d.status_note "
            "FROM chunks c JOIN documents d USING (doc_id) "
            "WHERE c.chunk_id IN (SELECT unnest(?)) AND d.state = 'live' AND d.level <= ?", [chunk_ids, clearance]
        ))
        for r in rows:
            r["notice"] = status_notice(r.pop("status"), r.pop("status_note"))
        return {r["chunk_id"]: r for r in rows}

    def search_cases(self, query: str, k: int = 5, clearance: int = 0, vector: np.ndarray | None = None) -> list[CaseHit]:
        """Penalty / supervisory cases whose conduct is closest to the query, within clearance (``vector``: see
        :meth:`rank`)."""
        query = query.strip()
        if not query or k <= 0:
            return []
        index = self.index()
        ranked = self.rank(index, index.cases, query, clearance, "hybrid", self.settings.case_dense_floor, vector=vector)[:k]
        rows = rows_as_dicts(self.con.execute(
            "SELECT case_id, title, authority, date, measure_type, penalty, "
            "coalesce(violation_summary, left(full_text, 160)) AS snippet, level FROM cases "
            "WHERE case_id IN (SELECT unnest(?)) AND state = 'live' AND level <= ?", [[c for c, _ in ranked], clearance]
        ))
        by_id = {r["case_id"]: r for r in rows}
        return [CaseHit(score=s, **by_id[c]) for c, s in ranked if c in by_id]

    def cases_for_chunks(self, chunk_ids: list[str], clearance: int = 0) -> dict[str, list[dict]]:
        """The cases citing each chunk (clause → cases), within clearance."""
        rows = rows_as_dicts(self.con.execute(
            "SELECT DISTINCT l.chunk_id, c.case_id, c.title, c.date, c.measure_type FROM case_citations l "
            "JOIN cases c USING (case_id) WHERE l.chunk_id IN (SELECT unnest(?)) AND c.state = 'live' AND c.level <= ? "
            "ORDER BY c.case_id", [chunk_ids, clearance]
        ))
        out: dict[str, list[dict]] = {}
        for r in rows:
            out.setdefault(r.pop("chunk_id"), []).append(r)
        return out
