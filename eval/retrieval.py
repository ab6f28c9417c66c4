"""The retrieval suite: questions → relevant (document, article) or reference text; hybrid vs BM25 vs dense."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from comply.files.tables import text_table
from comply.files.jsonl import read_jsonl
from eval.metrics import hit_at, ndcg_at, reciprocal_rank
from eval.stats import latency_summary
from retrieval.search import MODES, Hit, Searcher

K_VALUES = (1, 5, 10)
METRICS = (*(f"hit@{k}" for k in K_VALUES), "mrr", "ndcg@10")


@dataclass(frozen=True)
class RetrievalItem:
    """One question with its relevant articles and/or reference text."""

    id: str
    query: str
    relevant: list[tuple[str, str]]
    answer_text: str | None


def load_dataset(path: Path) -> list[RetrievalItem]:
    """Read a JSONL dataset in the format of shared/eval/dev/retrieval_questions.jsonl.

    Raises:
        ValueError: naming the line of a malformed item.
    """
    return read_jsonl(path, _item)


def _item(obj: dict, n: int) -> RetrievalItem:
    relevant = [(str(r["doc"]), str(r["article"])) for r in obj.get("relevant") or []]
    if not isinstance(obj.get("query"), str) or not (relevant or obj.get("answer_text")):
        raise ValueError("需要 query，以及 relevant 或 answer_text")
    return RetrievalItem(str(obj.get("id", n)), obj["query"], relevant, obj.get("answer_text"))


def _covers_reference(text: str, reference: str) -> bool:
    """A chunk 'contains most of' a reference when ≥ 60% of the reference's character bigrams occur in it."""
    ref = [reference[i : i + 2] for i in range(len(reference) - 1) if reference[i : i + 2].strip()]
    return bool(ref) and sum(1 for b in ref if b in text) / len(ref) >= 0.6


def is_relevant(hit: Hit, item: RetrievalItem) -> bool:
    """Relevance by document + article when the item has them, else by reference text."""
    if item.relevant:
        return (hit.doc_title, hit.article) in item.relevant
    return _covers_reference(hit.text, item.answer_text or "")


def evaluate(searcher: Searcher, items: list[RetrievalItem], modes: tuple[str, ...] = MODES, k: int = 10, clearance: int = 2) -> dict:
    """Metrics per mode (hit@1/5/10, MRR, nDCG@10), overall and per document, plus per-item ranks.

    Each mode also records the wall-clock latency of every ``Searcher.search`` call (query embedding,
    both rankings, fusion and the chunk rows: what a caller waits for) in ``latencies_s``, summarised as
    ``latency_ms`` (p50/p95/p99/mean/max). One untimed search per mode first loads the index and the model.
    """
    report: dict = {"n": len(items), "modes": {}}
    for mode in modes:
        if items:
            searcher.search(items[0].query, k=k, clearance=clearance, mode=mode)  # warm-up, not timed
        rows, latencies = [], []
        for item in items:
            start = time.perf_counter()
            hits = searcher.search(item.query, k=k, clearance=clearance, mode=mode)
            latencies.append(round(time.perf_counter() - start, 6))
            flags = [is_relevant(h, item) for h in hits]
            rows.append({
                "id": item.id,
                "doc": item.relevant[0][0] if item.relevant else "",
                "rank": next((i for i, f in enumerate(flags, start=1) if f), None),
                **{f"hit@{kk}": hit_at(flags, kk) for kk in K_VALUES},
                "mrr": reciprocal_rank(flags),
                "ndcg@10": ndcg_at(flags, 10, max(1, len(item.relevant))),
                "latency_s": latencies[-1],
            })
        report["modes"][mode] = {"overall": _mean(rows), "per_doc": _per_doc(rows), "items": rows,
                                 "latency_ms": latency_summary(latencies), "latencies_s": latencies}
    return report


def format_report(report: dict, dataset: str) -> str:
    """A plain-text summary of a retrieval report: the overall metrics and latency of each mode."""
    rows = [[mode, *(f"{r['overall'][m]:.3f}" for m in METRICS), f"{r['latency_ms']['p50']:.1f}", f"{r['latency_ms']['p95']:.1f}"]
            for mode, r in report["modes"].items()]
    return f"数据集：{dataset}（{report['n']} 题）\n" + text_table(["mode", *METRICS, "p50 ms", "p95 ms"], rows,
                                                                 right=(*METRICS, "p50 ms", "p95 ms"))


def _mean(rows: list[dict]) -> dict:
    return {key: round(statistics.fmean(r[key] for r in rows), 4) if rows else 0.0 for key in METRICS}


def _per_doc(rows: list[dict]) -> dict:
    docs: dict[str, list[dict]] = {}
    for r in rows:
        docs.setdefault(r["doc"], []).append(r)
    return {doc: {"n": len(rs), **_mean(rs)} for doc, rs in sorted(docs.items())}
