"""The similar-case suite: a draft excerpt or conduct → the penalty cases describing similar conduct.

Scores ``Searcher.search_cases`` (the function the app and ``comply cases`` use) with hit@1/3/5 and MRR;
any dataset in the format of shared/eval/dev/case_queries.jsonl can be given.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from comply.files.tables import text_table
from comply.files.jsonl import read_jsonl
from eval.metrics import hit_at, reciprocal_rank
from retrieval.search import Searcher

K_VALUES = (1, 3, 5)
METRICS = tuple(f"hit@{k}" for k in K_VALUES) + ("mrr", "recall@5")


@dataclass(frozen=True)
class CaseQuery:
    """One query with the ids of the cases that describe genuinely similar conduct."""

    id: str
    query: str
    relevant: tuple[str, ...]


def load_dataset(path: Path) -> list[CaseQuery]:
    """Read a JSONL dataset in the format of shared/eval/dev/case_queries.jsonl.

    Raises:
        ValueError: naming the line of a malformed item.
    """
    return read_jsonl(path, _case_query)


def _case_query(obj: dict, n: int) -> CaseQuery:
    relevant = tuple(str(c) for c in obj["relevant_case_ids"])
    if not obj["query"].strip() or not relevant:
        raise ValueError("query 或 relevant_case_ids 为空")
    return CaseQuery(str(obj.get("id", n)), obj["query"], relevant)


def evaluate(searcher: Searcher, items: list[CaseQuery], k: int = max(K_VALUES), clearance: int = 2) -> dict:
    """hit@1/3/5, MRR and recall@5 over the queries, per-query ranks, and per-query latency (seconds)."""
    rows, latencies = [], []
    for item in items:
        start = time.perf_counter()
        hits = searcher.search_cases(item.query, k=k, clearance=clearance)
        latencies.append(round(time.perf_counter() - start, 4))
        ids = [h.case_id for h in hits]
        flags = [c in item.relevant for c in ids]
        rows.append({
            "id": item.id,
            "rank": next((i for i, f in enumerate(flags, start=1) if f), None),
            "retrieved": ids,
            **{f"hit@{kk}": hit_at(flags, kk) for kk in K_VALUES},
            "mrr": reciprocal_rank(flags),
            "recall@5": len(set(ids[:5]) & set(item.relevant)) / len(item.relevant),
        })
    overall = {m: round(statistics.fmean(r[m] for r in rows), 4) if rows else 0.0 for m in METRICS}
    return {"n": len(items), "overall": overall, "items": rows, "latencies_s": latencies}


def format_report(report: dict, dataset: str) -> str:
    """A plain-text summary of a cases report."""
    table = text_table(METRICS, [[f"{report['overall'][m]:.3f}" for m in METRICS]], right=METRICS)
    misses = [r["id"] for r in report["items"] if r["rank"] is None]
    lines = [f"数据集：{dataset}（{report['n']} 条）", table]
    if misses:
        lines.append("前 5 名中没有相关案例：" + "、".join(misses))
    return "\n".join(lines)
