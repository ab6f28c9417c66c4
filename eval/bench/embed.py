"""The bench's embedding measure: torch (sentence-transformers) against the ONNX Runtime exports (fp32 and int8).

Query latency is timed with every backend in one process, each question embedded by one after the other, so that
load from other processes falls on all alike; batch throughput embeds the same real chunk texts (batched by length)
with each; agreement is the per-text cosine between each ONNX variant's vectors and torch's.
"""

from __future__ import annotations

from pathlib import Path

from comply.config import Settings
from eval.bench.synthetic import RealChunks
from eval.bench.timing import latency_stats, timed

BACKENDS = ("torch", "onnx", "onnx-int8")


def bench_embed(settings: Settings, real: RealChunks, queries: list[str], texts: int = 512, rounds: int = 3) -> dict:
    """Per backend: load time, query latency (``rounds`` passes over ``queries``), chunks/s over the first ``texts``
    real chunk texts, and (ONNX) the lowest and mean cosine to torch's vectors of the same queries and chunks."""
    from retrieval.embedding import Embedder
    from retrieval.onnx_export import META_FILE, export_dir

    path = settings.embed_model_path()
    cached = (export_dir(settings.cache_dir, Path(path)) / META_FILE).is_file()
    out: dict = {"model": path, "onnx_export_cached": cached, "queries": len(queries), "rounds": rounds, "backends": {}}
    embedders = {}
    for backend in BACKENDS:
        load_s, embedders[backend] = timed(Embedder, path, settings.embed_device, settings.embed_batch_size, backend,
                                           settings.cache_dir)
        out["backends"][backend] = {"variant": embedders[backend].variant, "load_s": round(load_s, 3)}
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for b in BACKENDS:
        embedders[b].encode(queries[:1])
    for _ in range(rounds):
        for q in queries:
            for b in BACKENDS:
                times[b].append(timed(embedders[b].encode, [q])[0])
    sample = real.texts[:texts]
    chunk_vectors, query_vectors = {}, {}
    for b in BACKENDS:
        secs, chunk_vectors[b] = timed(embedders[b].encode, sample)
        query_vectors[b] = embedders[b].encode(queries)
        out["backends"][b].update({"query": latency_stats(times[b]), "chunks": len(sample), "chunks_s": round(secs, 3),
                                   "chunks_per_s": round(len(sample) / secs, 2)})
        if b != "torch":
            qcos = (query_vectors[b] * query_vectors["torch"]).sum(axis=1)
            ccos = (chunk_vectors[b] * chunk_vectors["torch"]).sum(axis=1)
            out["backends"][b]["cosine_to_torch"] = {"queries_min": round(float(qcos.min()), 5),
                                                     "chunks_min": round(float(ccos.min()), 5),
                                                     "chunks_mean": round(float(ccos.mean()), 5)}
    return out
