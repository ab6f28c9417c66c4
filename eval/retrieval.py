"""The retrieval suite: questions → relevant (document, article) or reference text; hybrid vs BM25 vs dense.

Two dataset formats, told apart per record by its fields:

- ``relevant``: a non-empty list of ``{"doc", "article"}`` (``shared/eval/dev/retrieval_questions.jsonl``); a hit
  is a chunk of one of those articles.
- ``answer_text`` with no (or an empty) ``relevant`` list (``shared/eval/external/lawbench_retrieval.jsonl``); a hit
  is a chunk that holds the reference text, judged by :func:`bigram_coverage` ≥ :data:`COVERAGE`. Results are
  grouped by the first of ``laws_mentioned`` when the record has it.
"""

from __future__ import annotations

import statistics
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from comply.files.tables import text_table
from comply.files.jsonl import read_jsonl
from eval.metrics import hit_at, ndcg_at, reciprocal_rank
from eval.stats import latency_summary
from retrieval.search import MODES, Hit, Searcher

K_VALUES = (1, 3, 5, 10)
METRICS = (*(f"hit@{k}" for k in K_VALUES), "mrr", "ndcg@10")
COVERAGE = 0.6  # share of the reference's bigrams a chunk must hold to count as a hit


@dataclass(frozen=True)
class RetrievalItem:
    """One question with its relevant articles and/or reference text."""

    id: str
    query: str
    relevant: list[tuple[str, str]]
    answer_text: str | None
    group: str = ""


def load_dataset(path: Path) -> list[RetrievalItem]:
    """Read a JSONL dataset in the format of shared/eval/dev/retrieval_questions.jsonl.

    Raises:
        ValueError: naming the line of a malformed item.
    """
    return read_jsonl(path, _item)


def _item(obj: dict, n: int) -> RetrievalItem:
    relevant = [(str(r["doc"]), str(r["article"])) for r in obj.get("relevant") or []]
    answer_text = obj.get("answer_text")
    if not isinstance(obj.get("query"), str) or not (relevant or answer_text):
        raise ValueError("需要 query，以及 relevant 或 answer_text")
    if relevant:
        return RetrievalItem(str(obj.get("id", n)), obj["query"], relevant, answer_text, relevant[0][0])
    if not isinstance(answer_text, str) or not reference_bigrams(answer_text):
        raise ValueError("answer_text 须为至少两个字（不计空白和标点）的参考条文")
    laws = obj.get("laws_mentioned")
    group = str(laws[0]) if isinstance(laws, list) and laws else ""
    return RetrievalItem(str(obj.get("id", n)), obj["query"], [], answer_text, group)


def _letters_and_digits(text: str) -> str:
    """``text`` after NFKC normalisation, keeping only letters and digits (Unicode categories L* and N*)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch)[0] in "LN")


def reference_bigrams(reference: str) -> set[str]:
    """The distinct character bigrams of a reference text: adjacent pairs of :func:`_letters_and_digits` of it, so
    whitespace, punctuation and line breaks neither make nor break a pair."""
    text = _letters_and_digits(reference)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def bigram_coverage(text: str, reference: str) -> float:
    """The share of :func:`reference_bigrams` that occur in ``text`` reduced the same way (0.0 for an empty reference)."""
    bigrams = reference_bigrams(reference)
    reduced = _letters_and_digits(text)
    return sum(1 for b in bigrams if b in reduced) / len(bigrams) if bigrams else 0.0


def is_relevant(hit: Hit, item: RetrievalItem) -> bool:
    """Relevance by document + article when the item has them, else a chunk holding ≥ :data:`COVERAGE` of the
    reference text's bigrams (:func:`bigram_coverage`)."""
    if item.relevant:
        return (hit.doc_title, hit.article) in item.relevant
    return bigram_coverage(hit.text, item.answer_text or "") >= COVERAGE


def evaluate(searcher: Searcher, items: list[RetrievalItem], modes: tuple[str, ...] = MODES, k: int = 10, clearance: int = 2) -> dict:
    """Metrics per mode (hit@1/3/5/10, MRR, nDCG@10), overall and per document (or law named by a reference-text
    item), plus per-item ranks; ``relevance`` says how hits were judged (``article``, ``reference_text`` or ``mixed``).

    Each mode also records the wall-clock latency of every ``Searcher.search`` call (query embedding,
    both rankings, fusion and the chunk rows: what a caller waits for) in ``latencies_s``, summarised as
    ``latency_ms`` (p50/p95/p99/mean/max). One untimed search per mode first loads the index and the model.
    """
    kinds = {"article" if item.relevant else "reference_text" for item in items}
    report: dict = {"n": len(items), "relevance": kinds.pop() if len(kinds) == 1 else "mixed", "modes": {}}
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
                "doc": item.group,
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
    how = _RELEVANCE.get(report.get("relevance", "article"), "")
    return f"数据集：{dataset}（{report['n']} 题；{how}）\n" + text_table(["mode", *METRICS, "p50 ms", "p95 ms"], rows,
                                                                 right=(*METRICS, "p50 ms", "p95 ms"))


_RELEVANCE = {
    "article": "命中：检索到标注的条款",
    "reference_text": f"命中：片段含参考条文 ≥{COVERAGE:.0%} 的二元字组（去空白标点）",
    "mixed": "命中：有标注条款的按条款，其余按参考条文二元字组",
}


def _mean(rows: list[dict]) -> dict:
    return {key: round(statistics.fmean(r[key] for r in rows), 4) if rows else 0.0 for key in METRICS}


def _per_doc(rows: list[dict]) -> dict:
    docs: dict[str, list[dict]] = {}
    for r in rows:
        docs.setdefault(r["doc"], []).append(r)
    return {doc: {"n": len(rs), **_mean(rs)} for doc, rs in sorted(docs.items())}
