"""The bench's measures: ingest throughput, search latency at synthetic scale, review latency and LLM latency."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from comply import audit
from comply.config import Settings, load_settings
from eval.bench.baseline import build_langchain, time_ensemble
from eval.bench.synthetic import RealChunks, build_scaled, load_real_chunks, scale_up
from eval.bench.timing import CLEARANCE, latency_stats, peak_rss_mb, timed

if TYPE_CHECKING:
    from eval.retrieval import RetrievalItem
    from retrieval.collection import Collection
    from retrieval.search import Searcher

SEARCH_MODES = ("dense", "bm25", "hybrid")


def bench_ingest(settings: Settings, data_dir: Path) -> dict:
    """Parse throughput (documents/s, chars/s; pages/s when PDFs are present), full ingest time into ``data_dir`` (a
    cold embedding cache; the embedder loaded beforehand, its load timed apart), then, with the same embedder,
    embedding throughput (chunks/s), tokenising and index build time for the chunk collection; ``other_s`` is the
    rest of the ingest (DuckDB, linking, cases)."""
    from comply.db import connect
    from kb_ingest.documents import parse_document
    from kb_ingest.ingest import default_sources, ingest
    from retrieval.collection import write_collection
    from retrieval.embedding import embedder_for
    from retrieval.tokenize import get_tokenizer, legal_terms

    sources = default_sources(settings)
    docs = [p for p in sources if p.suffix.lower() != ".jsonl"]
    pdfs = [p for p in docs if p.suffix.lower() == ".pdf"]
    parse_s, parsed = timed(lambda: [parse_document(p, settings) for p in docs])
    chars = sum(len(d.text) for d in parsed)
    out: dict = {"documents": len(docs), "pdfs": len(pdfs), "chars": chars, "parse_s": round(parse_s, 3),
                 "documents_per_s": round(len(docs) / parse_s, 2), "chars_per_s": round(chars / parse_s, 1)}
    if pdfs:
        from pypdf import PdfReader

        pages = sum(len(PdfReader(str(p)).pages) for p in pdfs)
        out["pages_per_s"] = round(pages / parse_s, 2)
    isettings = load_settings(data_dir=data_dir, corpus_dir=settings.corpus_dir, audit_key_file=data_dir.parent / "audit.key")
    audit.bind(isettings)  # the throw-away knowledge base signs with a throw-away key, not one under ~/.config
    con = connect(isettings.db_path)
    load_s, embedder = timed(embedder_for, isettings)
    ingest_s, report = timed(ingest, isettings, con, sources, actor="bench")
    chunks = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
    out.update({"embed_backend": embedder.variant, "embedder_load_s": round(load_s, 3), "ingest_s": round(ingest_s, 3),
                "chunks": int(chunks), "errors": len(report.errors)})
    real = load_real_chunks(isettings, con)
    embed_s, vectors = timed(embedder.encode, real.texts)
    out.update({"embed_s": round(embed_s, 3), "chunks_per_s_embedded": round(len(real.texts) / embed_s, 2)})
    tok = get_tokenizer(legal_terms(real.titles))
    tokens_s, tokens = timed(lambda: [tok.tokens(t) for t in real.texts])
    with tempfile.TemporaryDirectory() as tmp:
        build_s, _ = timed(write_collection, Path(tmp) / "c", real.ids, real.levels, vectors, tokens, isettings.ann_threshold)
    other_s = ingest_s - parse_s - embed_s - tokens_s - build_s
    out.update({"tokenize_s": round(tokens_s, 3), "index_build_s": round(build_s, 3), "other_s": round(other_s, 3)})
    con.close()
    return out


def dev_questions(settings: Settings, n: int) -> list[RetrievalItem]:
    """The first ``n`` dev retrieval questions (all when ``n`` ≤ 0)."""
    from eval.retrieval import load_dataset

    items = load_dataset(settings.taxonomy_file.parent / "dev" / "retrieval_questions.jsonl")
    return items[:n] if n > 0 else items


def cached_searcher(settings: Settings, con: duckdb.DuckDBPyConnection, vectors: dict[str, np.ndarray]) -> Searcher:
    """A ``Searcher`` whose query vectors come from a precomputed table (to time retrieval alone)."""
    from retrieval.search import Searcher

    searcher = Searcher(settings, con)
    searcher.embed_many = lambda texts, index=None: np.stack([vectors[t] for t in texts])  # type: ignore[method-assign]
    return searcher


def time_modes(settings: Settings, con: duckdb.DuckDBPyConnection, coll: Collection, user_words: tuple[str, ...],
               queries: list[str]) -> dict:
    """Latency through ``Searcher.rank``: every mode with query vectors precomputed (``retrieval``), hybrid end to end
    with the query embedded each time (``hybrid_e2e``), and query embedding alone."""
    from retrieval.search import Searcher
    from retrieval.store import IndexVersion

    live = Searcher(settings, con)
    version = IndexVersion(0, Path("."), coll, coll, {"user_words": list(user_words)})
    live.embed_many(queries[:1])
    embed, vectors = [], {}
    for q in queries:
        secs, vectors[q] = timed(lambda q=q: live.embed_many([q])[0])
        embed.append(secs)
    out: dict = {"query_embedding": latency_stats(embed)}
    cached = cached_searcher(settings, con, vectors)
    for mode in SEARCH_MODES:
        cached.rank(version, coll, queries[0], CLEARANCE, mode, settings.dense_floor)
        out[mode] = latency_stats([timed(cached.rank, version, coll, q, CLEARANCE, mode, settings.dense_floor)[0] for q in queries])
    out["hybrid_e2e"] = latency_stats([timed(live.rank, version, coll, q, CLEARANCE, "hybrid", settings.dense_floor)[0] for q in queries])
    return out


def bench_scale(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, n: int, queries: list[str],
                baseline: bool, gpu: bool) -> dict:
    """One scale of ``bench_search``: build ``n`` rows in a temporary folder and time them (everything freed on return)."""
    from retrieval.dense import gpu_available, load_dense

    entry: dict = {"rows": n, "synthetic": n > len(real.ids)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "c"
        gen_s, syn = timed(scale_up, real, n)
        build_s, coll = timed(build_scaled, syn, folder, settings.ann_threshold)
        entry.update({"generate_s": round(gen_s, 3), "build_s": round(build_s, 3), "dense_kind": coll.dense.kind,
                      "peak_rss_mb_after_build": peak_rss_mb()})
        entry["latency"] = time_modes(settings, con, coll, real.user_words, queries)
        if gpu and gpu_available():
            coll.dense = load_dense(folder / "dense.faiss", coll.bounds, use_gpu=True)
            entry["gpu_kind"] = coll.dense.kind
            entry["latency_gpu"] = {m: v for m, v in time_modes(settings, con, coll, real.user_words, queries).items()
                                    if m in ("dense", "hybrid")}
        if baseline:
            lc_build_s, ensemble = timed(build_langchain, settings, syn.texts, syn.vectors, syn.tokens, real.user_words,
                                         [{"i": i} for i in range(n)])
            entry["langchain"] = {"build_s": round(lc_build_s, 3), **time_ensemble(ensemble, queries)}
        entry["peak_rss_mb_after"] = peak_rss_mb()
    return entry


def bench_search(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, scales: list[int],
                 queries: list[str], baseline_max_rows: int, gpu: bool) -> dict:
    """Build each scaled collection with the project's classes and time dense / BM25 / hybrid (and the GPU when
    faiss sees one, and the LangChain ensemble at scales up to ``baseline_max_rows``; 0 skips it)."""
    return {str(n): bench_scale(settings, con, real, n, queries, n <= baseline_max_rows, gpu) for n in scales}


def bench_review(settings: Settings, con: duckdb.DuckDBPyConnection, limit: int = 0) -> dict:
    """Rules-only review latency (``Reviewer`` without a client, no rewrite, no audit) over the dev drafts, and the
    rules stage alone (``apply_rules``) on a 2,000-character draft."""
    from eval.review import load_dataset
    from review.pipeline import Reviewer
    from review.rules import apply_rules

    drafts = load_dataset(settings.taxonomy_file.parent / "dev" / "review_drafts.jsonl")
    long_text = "\n".join(d.text for d in drafts)[:2000]
    drafts = drafts[:limit] if limit > 0 else drafts
    reviewer = Reviewer(settings, con, None, "基准测试：仅规则")
    reviewer.review(drafts[0].text, clearance=CLEARANCE, rewrite=False, audit=False)
    times = [timed(reviewer.review, d.text, clearance=CLEARANCE, rewrite=False, audit=False)[0] for d in drafts]
    apply_rules(long_text, reviewer.rules)
    rules_only = [timed(apply_rules, long_text, reviewer.rules)[0] for _ in range(20)]
    return {"drafts": len(drafts), "chars": sum(len(d.text) for d in drafts), **latency_stats(times),
            "rules_stage_2000_chars": latency_stats(rules_only)}


def bench_llm(settings: Settings, con: duckdb.DuckDBPyConnection, question: str) -> dict:
    """Time-to-first-token and total for one grounded question through ``ask`` with the configured backend."""
    from assistant.qa.answer import ask
    from comply.llm.backend import open_backend

    start_s, backend = timed(open_backend, settings, progress=False)
    with backend:
        if backend.client is None:
            return {"skipped": True, "reason": backend.reason, "backend": backend.label}
        answer = ask(settings, con, question, client=backend.client, no_llm_reason=backend.reason, clearance=CLEARANCE, user="bench")
        return {"backend": backend.label, "model": backend.model, "startup_s": round(start_s, 3), "mode": answer.mode,
                "ttft_s": None if answer.ttft_s is None else round(answer.ttft_s, 3), "total_s": round(answer.total_s, 3),
                "citations": len(answer.citations), "question": question}
