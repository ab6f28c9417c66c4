"""Benchmarks: ingest throughput, search latency at synthetic scale, review and LLM latency, and a LangChain peer baseline.

Nothing here asserts a timing; it measures and reports (JSON + a Markdown table describing the machine).
Scale-ups are synthetic: real chunks replicated with light perturbation (sentences shuffled, one sometimes
dropped, a numeric suffix token added) and real chunk vectors plus small Gaussian noise, renormalised.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from comply.config import Settings, load_settings

MEASURES = ("ingest", "search", "review", "llm", "baseline")
DEFAULT_MEASURES = ("ingest", "search", "review", "baseline")
SEARCH_MODES = ("dense", "bm25", "hybrid")
NOISE_SIGMA = 0.01
CLEARANCE = 2
TOP_K = 5
BASELINE_MAX_ROWS = 100_000
TARGET_ROWS, TARGET_P95_MS = 100_000, 50.0
_SENTENCE = re.compile(r"(?<=[。；！？\n])")


# --------------------------------------------------------------------------- helpers


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def latency_stats(seconds: Sequence[float]) -> dict:
    """p50/p95/p99/mean in milliseconds over a list of timings in seconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    if not len(ms):
        return {"n": 0}
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"n": int(len(ms)), "p50_ms": round(float(p50), 3), "p95_ms": round(float(p95), 3),
            "p99_ms": round(float(p99), 3), "mean_ms": round(float(ms.mean()), 3)}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Run ``fn`` once; return (seconds, result)."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


@contextmanager
def stage(report: dict, name: str) -> Iterator[dict]:
    """Record a stage's wall time and the process's peak RSS after it (RSS peaks are monotonic)."""
    entry: dict = {}
    start = time.perf_counter()
    yield entry
    entry["wall_s"] = round(time.perf_counter() - start, 3)
    entry["peak_rss_mb_after"] = peak_rss_mb()
    report.setdefault("stages", {})[name] = {"wall_s": entry["wall_s"], "peak_rss_mb_after": entry["peak_rss_mb_after"]}


def machine() -> dict:
    """CPU model and cores, RAM, Python, torch and faiss versions, and the GPU (or that none was measured)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    import faiss
    import torch

    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": models[0].strip() if models else platform.processor() or "unknown",
        "cores": len(models) or None,
        "ram_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "faiss_gpus": gpus,
        "gpu": gpu or ("faiss GPU" if gpus else "GPU 未测量 (no GPU on this machine)"),
    }


# --------------------------------------------------------------------------- the real corpus


@dataclass
class RealChunks:
    """The live chunk collection of a knowledge base: ids, levels, indexed texts, vectors and BM25 tokens."""

    ids: list[str]
    levels: list[int]
    texts: list[str]
    titles: list[str]
    articles: list[str | None]
    vectors: np.ndarray
    user_words: tuple[str, ...]
    sentence_tokens: list[list[list[str]]] = field(default_factory=list)


def load_real_chunks(settings: Settings, con: duckdb.DuckDBPyConnection) -> RealChunks:
    """Read the live version's chunk rows (in index order) with their stored vectors."""
    from retrieval.search import Searcher

    index = Searcher(settings, con).index()
    coll = index.chunks
    dense = getattr(coll.dense, "cpu", coll.dense)
    vectors = dense.index.reconstruct_n(0, dense.index.ntotal)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT c.chunk_id, d.doc_key, c.chapter, c.section, c.article, c.text, d.level "
        "FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN (SELECT unnest(?))", [coll.ids]
    ).fetchall()}
    texts, titles, articles, levels = [], [], [], []
    for cid in coll.ids:
        title, chapter, section, article, text, level = rows[cid]
        context = " ".join(x for x in (title, chapter, section, article) if x)
        texts.append(f"{context}\n{text}" if context else text)
        titles.append(title)
        articles.append(article)
        levels.append(int(level))
    return RealChunks(list(coll.ids), levels, texts, titles, articles, np.ascontiguousarray(vectors, np.float32), index.user_words)


def split_sentences(text: str) -> list[str]:
    """Split on Chinese sentence punctuation and newlines, keeping the punctuation."""
    return [s for s in _SENTENCE.split(text) if s.strip()]


def tokenize_sentences(real: RealChunks) -> None:
    """Tokenise every real chunk sentence by sentence (the tokenizer never joins across 。；！？ or newlines)."""
    from retrieval.tokenize import get_tokenizer

    tok = get_tokenizer(real.user_words)
    real.sentence_tokens = [[tok.tokens(s) for s in split_sentences(t)] or [[]] for t in real.texts]


# --------------------------------------------------------------------------- synthetic scale-up


@dataclass
class Synthetic:
    """A scaled-up copy of the real chunks: ids, levels, vectors, BM25 token lists and texts."""

    ids: list[str]
    levels: list[int]
    vectors: np.ndarray
    tokens: list[list[str]]
    texts: list[str]


def scale_up(real: RealChunks, n: int, seed: int = 0) -> Synthetic:
    """``n`` rows: the real chunks first, then perturbed replicas (sentences shuffled, maybe one dropped, a numeric
    suffix token) with the source vector plus N(0, NOISE_SIGMA²) noise, renormalised."""
    if not real.sentence_tokens:
        tokenize_sentences(real)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    base = len(real.ids)
    src = np.arange(n) % base
    vectors = real.vectors[src].copy()
    if n > base:
        vectors[base:] += nrng.normal(0.0, NOISE_SIGMA, size=(n - base, vectors.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids, levels, tokens, texts = [], [], [], []
    for i, s in enumerate(src.tolist()):
        sentences = split_sentences(real.texts[s]) or [real.texts[s]]
        parts = list(range(len(real.sentence_tokens[s])))
        if i >= base:
            rng.shuffle(parts)
            if len(parts) > 2 and rng.random() < 0.3:
                parts.pop()
        suffix = [] if i < base else [str(i)]
        ids.append(real.ids[s] if i < base else f"{real.ids[s]}~{i}")
        levels.append(real.levels[s])
        tokens.append([t for p in parts for t in real.sentence_tokens[s][p]] + suffix)
        texts.append("".join(sentences[p] for p in parts if p < len(sentences)) + (f" {i}" if suffix else ""))
    return Synthetic(ids, levels, np.ascontiguousarray(vectors), tokens, texts)


def build_scaled(syn: Synthetic, folder: Path, ann_threshold: int):
    """Write and load the scaled collection with the project's own index classes (flat / HNSW by ``ann_threshold``)."""
    from retrieval.collection import read_collection, write_collection

    write_collection(folder, syn.ids, syn.levels, syn.vectors, syn.tokens, ann_threshold)
    return read_collection(folder)


# --------------------------------------------------------------------------- measures


def bench_ingest(settings: Settings, data_dir: Path) -> dict:
    """Parse throughput (documents/s, chars/s; pages/s when PDFs are present), full ingest time into ``data_dir``,
    then embedding throughput (chunks/s, cold) and index build time for the chunk collection."""
    from comply.db import connect
    from kb_ingest.documents import parse_document
    from kb_ingest.ingest import default_sources, ingest
    from retrieval.collection import write_collection
    from retrieval.embedding import Embedder
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
    isettings = load_settings(data_dir=data_dir, corpus_dir=settings.corpus_dir)
    con = connect(isettings.db_path)
    ingest_s, report = timed(lambda: ingest(isettings, con, sources, actor="bench"))
    chunks = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
    out.update({"ingest_s": round(ingest_s, 3), "chunks": int(chunks), "errors": len(report.errors)})
    real = load_real_chunks(isettings, con)
    embedder = Embedder(isettings.embed_model_path(), isettings.embed_device, isettings.embed_batch_size)
    embed_s, vectors = timed(lambda: embedder.encode(real.texts))
    out.update({"embed_s": round(embed_s, 3), "chunks_per_s_embedded": round(len(real.texts) / embed_s, 2)})
    tok = get_tokenizer(legal_terms(real.titles))
    tokens_s, tokens = timed(lambda: [tok.tokens(t) for t in real.texts])
    with tempfile.TemporaryDirectory() as tmp:
        build_s, _ = timed(lambda: write_collection(Path(tmp) / "c", real.ids, real.levels, vectors, tokens, isettings.ann_threshold))
    out.update({"tokenize_s": round(tokens_s, 3), "index_build_s": round(build_s, 3)})
    con.close()
    return out


def _queries(settings: Settings, n: int) -> list:
    from eval.retrieval import load_dataset

    items = load_dataset(settings.taxonomy_file.parent / "dev" / "retrieval_questions.jsonl")
    return items[:n] if n > 0 else items


def _fake_version(coll, user_words: tuple[str, ...]):
    from retrieval.store import IndexVersion

    return IndexVersion(0, Path("."), coll, coll, {"user_words": list(user_words)})


def cached_searcher(settings: Settings, con: duckdb.DuckDBPyConnection, vectors: dict[str, np.ndarray]):
    """A ``Searcher`` whose query vectors come from a precomputed table (to time retrieval alone)."""
    from retrieval.search import Searcher

    searcher = Searcher(settings, con)
    searcher._embed = vectors.__getitem__  # type: ignore[method-assign]
    return searcher


def time_modes(settings: Settings, con: duckdb.DuckDBPyConnection, coll, user_words: tuple[str, ...], queries: list[str]) -> dict:
    """Latency through ``Searcher.rank``: every mode with query vectors precomputed (``retrieval``), hybrid end to end
    with the query embedded each time (``hybrid_e2e``), and query embedding alone."""
    from retrieval.search import Searcher

    live = Searcher(settings, con)
    version = _fake_version(coll, user_words)
    live._embed(queries[0])
    embed, vectors = [], {}
    for q in queries:
        secs, vectors[q] = timed(lambda: live._embed(q))
        embed.append(secs)
    out: dict = {"query_embedding": latency_stats(embed)}
    cached = cached_searcher(settings, con, vectors)
    for mode in SEARCH_MODES:
        cached.rank(version, coll, queries[0], CLEARANCE, mode, settings.dense_floor)
        out[mode] = latency_stats([timed(lambda: cached.rank(version, coll, q, CLEARANCE, mode, settings.dense_floor))[0] for q in queries])
    out["hybrid_e2e"] = latency_stats([timed(lambda: live.rank(version, coll, q, CLEARANCE, "hybrid", settings.dense_floor))[0] for q in queries])
    return out


def bench_search(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, scales: list[int],
                 queries: list[str], baseline_max_rows: int, gpu: bool) -> dict:
    """Build each scaled collection with the project's classes and time dense / BM25 / hybrid (and the GPU when
    faiss sees one, and the LangChain ensemble at scales up to ``baseline_max_rows``; 0 skips it)."""
    from retrieval.dense import gpu_available, load_dense

    results: dict = {}
    for n in scales:
        entry: dict = {"rows": n, "synthetic": n > len(real.ids)}
        with tempfile.TemporaryDirectory() as tmp:
            gen_s, syn = timed(lambda: scale_up(real, n))
            build_s, coll = timed(lambda: build_scaled(syn, Path(tmp) / "c", settings.ann_threshold))
            entry.update({"generate_s": round(gen_s, 3), "build_s": round(build_s, 3), "dense_kind": coll.dense.kind,
                          "peak_rss_mb_after_build": peak_rss_mb()})
            entry["latency"] = time_modes(settings, con, coll, real.user_words, queries)
            if gpu and gpu_available():
                coll.dense = load_dense(Path(tmp) / "c" / "dense.faiss", coll.bounds, use_gpu=True)
                entry["gpu_kind"] = coll.dense.kind
                entry["latency_gpu"] = {m: v for m, v in time_modes(settings, con, coll, real.user_words, queries).items()
                                        if m in ("dense", "hybrid")}
            if n <= baseline_max_rows:
                lc_build_s, ensemble = timed(lambda: build_langchain(settings, syn.texts, syn.vectors, syn.tokens, real.user_words,
                                                                     [{"i": i} for i in range(n)]))
                entry["langchain"] = {"build_s": round(lc_build_s, 3), **time_ensemble(ensemble, queries)}
                del ensemble
            entry["peak_rss_mb_after"] = peak_rss_mb()
            del coll, syn
        results[str(n)] = entry
    return results


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
    times = [timed(lambda: reviewer.review(d.text, clearance=CLEARANCE, rewrite=False, audit=False))[0] for d in drafts]
    apply_rules(long_text, reviewer.rules)
    rules_only = [timed(lambda: apply_rules(long_text, reviewer.rules))[0] for _ in range(20)]
    return {"drafts": len(drafts), "chars": sum(len(d.text) for d in drafts), **latency_stats(times),
            "rules_stage_2000_chars": latency_stats(rules_only)}


def bench_llm(settings: Settings, con: duckdb.DuckDBPyConnection, question: str) -> dict:
    """Time-to-first-token and total for one grounded question through ``ask`` with the configured backend."""
    from assistant.qa.answer import ask
    from comply.llm.backend import open_backend

    start_s, backend = timed(lambda: open_backend(settings, progress=False))
    with backend:
        if backend.client is None:
            return {"skipped": True, "reason": backend.reason, "backend": backend.label}
        answer = ask(settings, con, question, client=backend.client, no_llm_reason=backend.reason, clearance=CLEARANCE, user="bench")
        return {"backend": backend.label, "model": backend.model, "startup_s": round(start_s, 3), "mode": answer.mode,
                "ttft_s": None if answer.ttft_s is None else round(answer.ttft_s, 3), "total_s": round(answer.total_s, 3),
                "citations": len(answer.citations), "question": question}


# --------------------------------------------------------------------------- LangChain peer baseline


def langchain_embeddings(settings: Settings):
    """The project's Embedder wrapped as a LangChain ``Embeddings``."""
    from langchain_core.embeddings import Embeddings

    from retrieval.embedding import get_embedder

    embedder = get_embedder(settings.embed_model_path(), settings.embed_device, settings.embed_batch_size)

    class ProjectEmbeddings(Embeddings):
        """m3e-small through the project's Embedder (unit vectors)."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

        cache: dict[str, list[float]] = {}

        def embed_query(self, text: str) -> list[float]:
            if text in self.cache:
                return self.cache[text]
            return embedder.encode([text])[0].tolist()

    return ProjectEmbeddings()


def faiss_store(texts: list[str], vectors: np.ndarray, metadatas: list[dict], embeddings):
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
                    user_words: tuple[str, ...], metadatas: list[dict], k: int = TOP_K):
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


def time_ensemble(ensemble, queries: list[str]) -> dict:
    """Ensemble latency with query vectors cached (``ensemble``, retrieval alone) and embedded each time (``e2e``)."""
    embeddings = ensemble.retrievers[0].vectorstore.embedding_function
    ensemble.invoke(queries[0])
    e2e = [timed(lambda: ensemble.invoke(q))[0] for q in queries]
    embeddings.cache = {q: embeddings.embed_query(q) for q in queries}
    cached = [timed(lambda: ensemble.invoke(q))[0] for q in queries]
    embeddings.cache = {}
    return {"ensemble": latency_stats(cached), "ensemble_e2e": latency_stats(e2e)}


def bench_baseline(settings: Settings, con: duckdb.DuckDBPyConnection, real: RealChunks, items: list) -> dict:
    """hit@5 and latency: LangChain ensemble vs the project's hybrid ``Searcher.search`` on the same chunks and model."""
    from eval.retrieval import is_relevant
    from retrieval.search import Hit, Searcher

    metas = [{"chunk_id": c, "doc_title": t, "article": a} for c, t, a in zip(real.ids, real.titles, real.articles)]
    build_s, ensemble = timed(lambda: build_langchain(settings, real.texts, real.vectors, None, real.user_words, metas))
    searcher = Searcher(settings, con)
    ensemble.invoke(items[0].query)
    searcher.search(items[0].query, k=TOP_K, clearance=CLEARANCE)
    lc_times, lc_hits, our_times, our_hits = [], [], [], []
    for item in items:
        secs, docs = timed(lambda: ensemble.invoke(item.query))
        lc_times.append(secs)
        hits = [Hit(d.metadata["chunk_id"], "", d.metadata["doc_title"], d.metadata["article"], "", d.page_content, 0.0, 0, "lc")
                for d in docs[:TOP_K]]
        lc_hits.append(any(is_relevant(h, item) for h in hits))
        secs, ours = timed(lambda: searcher.search(item.query, k=TOP_K, clearance=CLEARANCE))
        our_times.append(secs)
        our_hits.append(any(is_relevant(h, item) for h in ours[:TOP_K]))
    return {
        "questions": len(items), "chunks": len(real.ids), "langchain_build_s": round(build_s, 3),
        "langchain": {"hit@5": round(sum(lc_hits) / len(items), 4), **latency_stats(lc_times)},
        "project_hybrid": {"hit@5": round(sum(our_hits) / len(items), 4), **latency_stats(our_times)},
    }


# --------------------------------------------------------------------------- report


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3g}×" if a and b else "–"


def markdown(report: dict) -> str:
    """The report as Markdown: machine, then one table per measure, with medians and ratios to the baseline."""
    m = report["machine"]
    lines = ["# comply bench", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, "
             f"torch {m['torch']}, faiss {m['faiss']}; GPU: {m['gpu']}.", ""]
    if "ingest" in report:
        i = report["ingest"]
        if i.get("skipped"):
            lines += [f"Ingest: skipped (--skip-ingest); existing data dir with {i.get('chunks')} chunks.", ""]
        else:
            parse = f"{i['pages_per_s']} pages/s" if "pages_per_s" in i else f"{i['documents_per_s']} documents/s, {i['chars_per_s']:.0f} chars/s"
            lines += ["## Ingest (real corpus, temp data dir)", "", "| measure | value |", "|---|---|",
                      f"| documents (PDF) | {i['documents']} ({i['pdfs']}) |", f"| parse | {parse} |",
                      f"| full ingest (parse, embed, index, DuckDB) | {i['ingest_s']:.1f} s, {i['chunks']} chunks |",
                      f"| embedding (cold) | {i['chunks_per_s_embedded']} chunks/s |",
                      f"| tokenise / index build (chunks) | {i['tokenize_s']:.2f} s / {i['index_build_s']:.2f} s |", ""]
    if "search" in report:
        lines += ["## Search latency (ms; Searcher.rank over the project's Collection; query vectors precomputed except e2e)", "",
                  "| rows | dense index | build s | dense p50/p95/p99 | BM25 p50/p95/p99 | hybrid p50/p95/p99 | "
                  "hybrid e2e p50/p95/p99 | LangChain ensemble p50/p95/p99 | LangChain e2e p50/p95/p99 | hybrid ÷ LangChain (p50) | "
                  "peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        cell = lambda s: f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} / {s['p99_ms']:.1f}"  # noqa: E731
        for n, e in report["search"].items():
            lat, lc = e["latency"], e.get("langchain")
            lines.append(f"| {int(n):,}{' (synthetic)' if e['synthetic'] else ''} | {e['dense_kind']} | {e['build_s']:.1f} | "
                         f"{cell(lat['dense'])} | {cell(lat['bm25'])} | {cell(lat['hybrid'])} | {cell(lat['hybrid_e2e'])} | "
                         f"{cell(lc['ensemble']) if lc else '–'} | {cell(lc['ensemble_e2e']) if lc else '–'} | "
                         f"{_ratio(lat['hybrid']['p50_ms'], lc['ensemble']['p50_ms'] if lc else None)} | {e['peak_rss_mb_after']:.0f} |")
        first = next(iter(report["search"].values()))
        unbaselined = [f"{int(n):,}" for n, e in report["search"].items() if "langchain" not in e]
        lines += ["", f"e2e embeds the query each time (m3e-small, CPU; query embedding alone p50 "
                  f"{first['latency']['query_embedding']['p50_ms']:.1f} ms). "
                  "Rows beyond the real chunks are synthetic: replicas with sentences shuffled (one dropped 30% of the time) "
                  f"and a numeric suffix token; vectors are the source chunk's plus N(0, {NOISE_SIGMA}²) noise, renormalised. "
                  "BM25 tokens of replicas reuse the per-sentence tokens of the source chunk. "
                  + (f"LangChain ensemble not built at {', '.join(unbaselined)} rows. " if unbaselined else "")
                  + ("GPU: measured (see JSON latency_gpu)." if any("latency_gpu" in e for e in report["search"].values())
                     else "GPU 未测量 (no GPU: dense search ran on the CPU only)."), ""]
        target = report["search"].get(str(TARGET_ROWS))
        if target:
            p95 = target["latency"]["hybrid_e2e"]["p95_ms"]
            lines += [f"Target: hybrid p95 ≤ {TARGET_P95_MS:.0f} ms at {TARGET_ROWS:,} rows, end to end: {p95:.1f} ms, "
                      f"{'met' if p95 <= TARGET_P95_MS else 'not met'}.", ""]
    if "baseline" in report:
        b = report["baseline"]
        lc, us = b["langchain"], b["project_hybrid"]
        lines += [f"## Peer baseline: same {b['chunks']} chunks, same m3e-small vectors, {b['questions']} dev questions", "",
                  "| system | hit@5 | p50 ms | p95 ms | p50 ratio to baseline |", "|---|---|---|---|---|",
                  f"| LangChain FAISS + BM25Retriever in EnsembleRetriever (baseline) | {lc['hit@5']:.2f} | {lc['p50_ms']:.1f} | {lc['p95_ms']:.1f} | 1× |",
                  f"| project hybrid (Searcher.search, full path incl. lookup + DuckDB) | {us['hit@5']:.2f} | {us['p50_ms']:.1f} | {us['p95_ms']:.1f} | "
                  f"{_ratio(us['p50_ms'], lc['p50_ms'])} |", ""]
    if "review" in report:
        r = report["review"]
        lines += ["## Review (rules only, no LLM)", "", "| what | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|",
                  f"| full review of each dev draft ({r['drafts']}; rules, grounding, cases) | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} |"]
        if "rules_stage_2000_chars" in r:
            s = r["rules_stage_2000_chars"]
            lines.append(f"| rules stage alone, one 2,000-character draft (×{s['n']}) | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | {s['p99_ms']:.2f} |")
        lines.append("")
    llm = report.get("llm", {"skipped": True, "reason": "not requested (--llm not given)"})
    if llm.get("skipped"):
        lines += [f"LLM: not measured ({llm.get('reason')}).", ""]
    else:
        lines += ["## LLM (one grounded question via assistant.qa.answer.ask)", "", "| backend | TTFT s | total s | startup s |",
                  "|---|---|---|---|", f"| {llm['backend']} | {llm['ttft_s']} | {llm['total_s']} | {llm['startup_s']} |", ""]
    lines += ["## Peak RSS per stage (MiB, process peak so far: monotonic)", "", "| stage | wall s | peak RSS MiB |", "|---|---|---|"]
    lines += [f"| {k} | {v['wall_s']:.1f} | {v['peak_rss_mb_after']:.0f} |" for k, v in report.get("stages", {}).items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="comply bench", description="性能基准：入库吞吐、检索延迟（合成扩容）、审核与大模型延迟、LangChain 对照")
    p.add_argument("--only", default=",".join(DEFAULT_MEASURES), help=f"comma-separated subset of {','.join(MEASURES)}")
    p.add_argument("--scales", default="10000,100000", help="row counts for the synthetic scale-up (1000000 is optional)")
    p.add_argument("--queries", type=int, default=0, help="use only the first N dev questions (0: all)")
    p.add_argument("--data", type=Path, default=None, help="existing data dir to search (default: fresh ingest, else COMPLY_DATA)")
    p.add_argument("--skip-ingest", action="store_true", help="do not ingest; use the existing data dir")
    p.add_argument("--llm", action="store_true", help="also time one grounded question with the configured LLM")
    p.add_argument("--baseline-max-rows", type=int, default=BASELINE_MAX_ROWS,
                   help="build the LangChain ensemble only at scales up to this many rows (its BM25 scores every row in Python)")
    p.add_argument("--no-gpu", action="store_true", help="do not run dense search on the GPU even when faiss sees one")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for bench.json and bench.md")
    args = p.parse_args(argv)
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    bad = [m for m in args.only if m not in MEASURES]
    if bad:
        p.error(f"unknown measure(s) {', '.join(bad)}; choose from {', '.join(MEASURES)}")
    if args.llm and "llm" not in args.only:
        args.only.append("llm")
    try:
        args.scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        p.error("--scales takes comma-separated integers")
    return args


def run(args: argparse.Namespace) -> dict:
    """Run the selected measures; returns the JSON report."""
    from comply.db import connect

    settings = load_settings(**({"data_dir": args.data} if args.data else {}))
    host = machine()
    report: dict = {"machine": host, "measures": args.only, "scales": args.scales,
                    "notes": {"synthetic": "rows beyond the real chunk count are synthetic replicas",
                              "gpu": "measured" if not args.no_gpu and host["faiss_gpus"] else "GPU 未测量"}}
    tmp = Path(tempfile.mkdtemp(prefix="comply-bench-"))
    try:
        if "ingest" in args.only and not args.skip_ingest:
            with stage(report, "ingest"):
                report["ingest"] = bench_ingest(settings, tmp / "data")
            if not args.data:
                settings = load_settings(data_dir=tmp / "data", corpus_dir=settings.corpus_dir)
        needs_kb = any(m in args.only for m in ("search", "review", "llm", "baseline"))
        if not needs_kb:
            return report
        con = connect(settings.db_path)
        with stage(report, "load"):
            real = load_real_chunks(settings, con)
            tokenize_sentences(real)
        if "ingest" in args.only and args.skip_ingest:
            report["ingest"] = {"skipped": True, "chunks": len(real.ids), "data_dir": str(settings.data_dir)}
        items = _queries(settings, args.queries)
        if "search" in args.only:
            with stage(report, "search"):
                report["search"] = bench_search(settings, con, real, args.scales, [i.query for i in items],
                                                args.baseline_max_rows if "baseline" in args.only else 0, not args.no_gpu)
        if "baseline" in args.only:
            with stage(report, "baseline"):
                report["baseline"] = bench_baseline(settings, con, real, items)
        if "review" in args.only:
            with stage(report, "review"):
                report["review"] = bench_review(settings, con, args.queries)
        if "llm" in args.only:
            with stage(report, "llm"):
                report["llm"] = bench_llm(settings, con, items[0].query)
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``comply bench``: run, write ``bench.json`` and ``bench.md`` under ``--out``, print the Markdown."""
    args = parse_args(argv)
    try:
        report = run(args)
    except Exception as exc:  # a benchmark run reports what failed instead of a traceback
        from retrieval.search import NoIndexError

        if isinstance(exc, (NoIndexError, FileNotFoundError)):
            print(f"错误：{exc}", file=sys.stderr)
            return 1
        raise
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (args.out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (args.out / "bench.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
