"""The LangChain peer baseline: FAISS + BM25Retriever in an EnsembleRetriever over the same chunks and vectors."""

from __future__ import annotations

import statistics
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


def langchain_embeddings(settings: Settings) -> Embeddings:
    """The project's Embedder wrapped as a LangChain ``Embeddings``; queries in its ``cache`` are not embedded again."""
    from langchain_core.embeddings import Embeddings

    from retrieval.embedding import get_embedder

    embedder = get_embedder(settings.embed_model_path(), settings.embed_device, settings.embed_batch_size)

    class ProjectEmbeddings(Embeddings):
        """m3e-small through the project's Embedder (unit vectors)."""

        def __init__(self) -> None:
            self.cache: dict[str, list[float]] = {}

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            if text in self.cache:
                return self.cache[text]
            return embedder.encode([text])[0].tolist()

    return ProjectEmbeddings()


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


def bench_baseline(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, items: list[RetrievalItem]) -> dict:
    """hit@5 and latency: LangChain ensemble vs the project's hybrid ``Searcher.search`` on the same chunks and model."""
    from eval.retrieval import is_relevant
    from retrieval.search import Hit, Searcher

    metas = [{"chunk_id": c, "doc_title": t, "article": a} for c, t, a in zip(real.ids, real.titles, real.articles)]
    build_s, ensemble = timed(build_langchain, settings, real.texts, real.vectors, None, real.user_words, metas)
    searcher = Searcher(settings, con)
    ensemble.invoke(items[0].query)
    searcher.search(items[0].query, k=TOP_K, clearance=CLEARANCE)
    lc_times, lc_hits, our_times, our_hits = [], [], [], []
    for item in items:
        secs, docs = timed(ensemble.invoke, item.query)
        lc_times.append(secs)
        hits = [Hit(d.metadata["chunk_id"], "", d.metadata["doc_title"], d.metadata["article"], "", d.page_content, 0.0, 0, "lc")
                for d in docs[:TOP_K]]
        lc_hits.append(any(is_relevant(h, item) for h in hits))
        secs, ours = timed(searcher.search, item.query, k=TOP_K, clearance=CLEARANCE)
        our_times.append(secs)
        our_hits.append(any(is_relevant(h, item) for h in ours[:TOP_K]))
    return {
        "questions": len(items), "chunks": len(real.ids), "langchain_build_s": round(build_s, 3),
        "langchain": {"hit@5": round(statistics.fmean(lc_hits), 4), **latency_stats(lc_times)},
        "project_hybrid": {"hit@5": round(statistics.fmean(our_hits), 4), **latency_stats(our_times)},
    }
