"""The LangChain peer baseline: FAISS + BM25Retriever in an EnsembleRetriever over the same chunks and vectors."""

from __future__ import annotations

import statistics
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from comply.config import Settings
from eval.bench.synthetic import RealChunks
from eval.bench.timing import CLEARANCE, TOP_K, latency_stats, timed

if TYPE_CHECKING:
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    from eval.retrieval import RetrievalItem


PEER_EMBEDDING = "sentence-transformers on torch (langchain_community HuggingFaceEmbeddings, normalize_embeddings=True)"
TARGET_RATIO = 1 / 3  # issue 15: the project's search median at most a third of the peer's


@lru_cache(maxsize=2)
def _peer_model(model_path: str, device: str) -> Embeddings:
    with warnings.catch_warnings():  # langchain-community's deprecation notices
        warnings.simplefilter("ignore")
        from langchain_community.embeddings import HuggingFaceEmbeddings

        return HuggingFaceEmbeddings(model_name=model_path, model_kwargs={"device": device, "local_files_only": True},
                                     encode_kwargs={"normalize_embeddings": True})


def langchain_embeddings(settings: Settings) -> Embeddings:
    """m3e-small loaded the way a typical LangChain user does (:data:`PEER_EMBEDDING`), not through the project's
    Embedder; queries in its ``cache`` are not embedded again."""
    from langchain_core.embeddings import Embeddings

    from retrieval.embedding import pick_device

    inner = _peer_model(settings.embed_model_path(), pick_device(settings.embed_device))

    class PeerEmbeddings(Embeddings):
        """The peer's embeddings, with a query cache for timing retrieval alone."""

        def __init__(self) -> None:
            self.cache: dict[str, list[float]] = {}

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return inner.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            if text in self.cache:
                return self.cache[text]
            return inner.embed_query(text)

    return PeerEmbeddings()


def faiss_store(texts: list[str], vectors: np.ndarray, metadatas: list[dict], embeddings: Embeddings) -> FAISS:
    """LangChain's FAISS vector store as ``FAISS.from_embeddings`` builds it (IndexFlatL2 + in-memory docstore),
    filled from a float32 array instead of Python lists (which would not fit in memory at 1M rows)."""
    import faiss
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, np.float32))
    ids = [str(i) for i in range(len(texts))]
    docstore = InMemoryDocstore({i: Document(page_content=t, metadata=m) for i, t, m in zip(ids, texts, metadatas)})
    return FAISS(embeddings, index, docstore, dict(enumerate(ids)))


def build_langchain(settings: Settings, texts: list[str], vectors: np.ndarray, tokens: list[list[str]] | None,
                    user_words: tuple[str, ...], metadatas: list[dict], k: int = TOP_K) -> EnsembleRetriever:
    """LangChain's FAISS store + BM25Retriever (project tokenizer) in an EnsembleRetriever, equal weights.

    The stored vectors are passed in (same model, no re-embedding); when ``tokens`` are given, building BM25 looks
    them up instead of re-tokenising (queries are always tokenised by the project's tokenizer).
    """
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever

    from retrieval.tokenize import get_tokenizer

    tok = get_tokenizer(user_words)
    store = faiss_store(texts, vectors, metadatas, langchain_embeddings(settings))
    known = dict(zip(texts, tokens)) if tokens is not None else {}
    bm25 = BM25Retriever.from_texts(texts, metadatas=metadatas, preprocess_func=lambda t: known.get(t) or tok.tokens(t), k=k)
    known.clear()
    return EnsembleRetriever(retrievers=[store.as_retriever(search_kwargs={"k": k}), bm25], weights=[0.5, 0.5])


def time_ensemble(ensemble: EnsembleRetriever, queries: list[str]) -> dict:
    """Ensemble latency with query vectors cached (``ensemble``, retrieval alone) and embedded each time (``e2e``)."""
    embeddings = ensemble.retrievers[0].vectorstore.embedding_function
    ensemble.invoke(queries[0])
    e2e = [timed(ensemble.invoke, q)[0] for q in queries]
    embeddings.cache = {q: embeddings.embed_query(q) for q in queries}
    cached = [timed(ensemble.invoke, q)[0] for q in queries]
    embeddings.cache = {}
    return {"ensemble": latency_stats(cached), "ensemble_e2e": latency_stats(e2e)}


def bench_baseline(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, items: list[RetrievalItem],
                   rounds: int = 3) -> dict:
    """hit@5 and latency: LangChain ensemble vs the project's hybrid ``Searcher.search`` on the same chunks, in one
    process, each question asked of both in turn, ``rounds`` times (hit@5 from the first round). The peer embeds its
    queries with :data:`PEER_EMBEDDING`; the project with its configured backend (``project_embedding``)."""
    from eval.retrieval import is_relevant
    from retrieval.search import Hit, Searcher

    metas = [{"chunk_id": c, "doc_title": t, "article": a} for c, t, a in zip(real.ids, real.titles, real.articles)]
    build_s, ensemble = timed(build_langchain, settings, real.texts, real.vectors, None, real.user_words, metas)
    searcher = Searcher(settings, con)
    ensemble.invoke(items[0].query)
    searcher.search(items[0].query, k=TOP_K, clearance=CLEARANCE)
    lc_times, lc_hits, our_times, our_hits = [], [], [], []
    for round_no in range(rounds):
        for item in items:
            secs, docs = timed(ensemble.invoke, item.query)
            lc_times.append(secs)
            secs, ours = timed(searcher.search, item.query, k=TOP_K, clearance=CLEARANCE)
            our_times.append(secs)
            if round_no == 0:
                hits = [Hit(d.metadata["chunk_id"], "", d.metadata["doc_title"], d.metadata["article"], "", d.page_content,
                            0.0, 0, "lc") for d in docs[:TOP_K]]
                lc_hits.append(any(is_relevant(h, item) for h in hits))
                our_hits.append(any(is_relevant(h, item) for h in ours[:TOP_K]))
    lc, us = latency_stats(lc_times), latency_stats(our_times)
    embedder = searcher.embedder()
    return {
        "questions": len(items), "rounds": rounds, "chunks": len(real.ids), "langchain_build_s": round(build_s, 3),
        "peer_embedding": PEER_EMBEDDING, "project_embedding": embedder.variant, "project_embedding_notice": embedder.notice,
        "langchain": {"hit@5": round(statistics.fmean(lc_hits), 4), **lc},
        "project_hybrid": {"hit@5": round(statistics.fmean(our_hits), 4), **us},
        "p50_ratio": round(us["p50_ms"] / lc["p50_ms"], 4), "target_p50_ratio": round(TARGET_RATIO, 4),
    }
