"""Evaluation page helpers: run the retrieval or the review suite on checked items (``ui.eval_datasets``), and shape
the reports as tables and charts."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import duckdb

from comply.config import Settings
from comply.lawtext.citations import normalize_law_name
from eval import retrieval as retrieval_suite
from eval import review as review_suite
from eval.charts import bar_chart
from retrieval.search import Searcher
from review.pipeline import Reviewer, ReviewReport
from review.rules import load_default_rules

RETRIEVAL_METRICS = retrieval_suite.METRICS
REVIEW_METRICS = ("precision", "recall", "f1")
REVIEW_MODES = {"rules": "规则", "baseline": "关键词基线", "llm": "规则 + 大模型"}
RETRIEVAL_MODES = {"hybrid": "混合检索", "bm25": "BM25", "dense": "向量检索"}
METRIC_NAMES = {"hit@1": "hit@1", "hit@3": "hit@3", "hit@5": "hit@5", "hit@10": "hit@10", "mrr": "MRR", "ndcg@10": "nDCG@10",
                "precision": "精确率", "recall": "召回率", "f1": "F1"}


def run_retrieval(settings: Settings, con: duckdb.DuckDBPyConnection, items: list[retrieval_suite.RetrievalItem],
                  modes: list[str], clearance: int) -> dict:
    """``eval.retrieval.evaluate`` on the items at the caller's clearance."""
    return retrieval_suite.evaluate(Searcher(settings, con), items, tuple(modes), clearance=clearance)


def _llm_predictor(reviewer: Reviewer, clearance: int, user: str) -> review_suite.Predict:
    def predict(text: str) -> ReviewReport:  # the whole review: its hints and stages are scored apart from its findings
        return reviewer.review(text, clearance=clearance, user=user, rewrite=False)

    return predict


def run_review(
    settings: Settings, drafts: list[review_suite.Draft], modes: list[str], *, reviewer: Reviewer | None = None,
    clearance: int = 0, user: str = "eval",
) -> dict[str, dict]:
    """``eval.review.evaluate`` per mode: ``rules`` and ``baseline`` predictors, and ``llm`` (needs ``reviewer``).

    Raises:
        ValueError: ``llm`` without a reviewer.
    """
    rules = load_default_rules(settings)
    categories = review_suite.rules_categories(rules)
    reports: dict[str, dict] = {}
    for mode in modes:
        if mode == "llm":
            if reviewer is None:
                raise ValueError("没有可用的大模型，无法评测「规则 + 大模型」")
            predict = _llm_predictor(reviewer, clearance, user)
        else:
            predict = review_suite.predictor(mode, rules)
        reports[mode] = review_suite.evaluate(drafts, predict, categories)
    return reports


def short_law_names(titles: list[str]) -> dict[str, str]:
    """Each title's short name (no 《》 or 中华人民共和国 prefix: 证券法); titles whose short names would coincide keep
    their full title."""
    short = {t: normalize_law_name(t) or t for t in titles}
    clashes = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {t: t if s in clashes else s for t, s in short.items()}


def retrieval_tables(report: dict) -> tuple[list[dict], dict[str, dict[str, dict]]]:
    """(one overall row per mode, {metric: {document (short name): {mode: value}}}) of a retrieval report."""
    overall = [{"模式": RETRIEVAL_MODES.get(mode, mode), **{METRIC_NAMES[m]: r["overall"][m] for m in RETRIEVAL_METRICS}}
               for mode, r in report["modes"].items()]
    modes = report["modes"]
    docs = list(next(iter(modes.values()))["per_doc"]) if modes else []
    names = short_law_names([doc for doc in docs if doc])
    by_metric = {
        metric: {names.get(doc, "（按参考文本）"): {RETRIEVAL_MODES.get(mode, mode): r["per_doc"][doc][metric] for mode, r in modes.items()}
                 for doc in docs}
        for metric in RETRIEVAL_METRICS
    }
    return overall, by_metric


def review_tables(reports: dict[str, dict], names: Mapping[str, str]) -> tuple[list[dict], dict[str, dict[str, dict]]]:
    """(one overall row per mode incl. the clean-draft FP rate, {metric: {category name: {mode: value}}})."""
    overall = [
        {"方式": REVIEW_MODES.get(mode, mode), **{METRIC_NAMES[m]: r["overall"][m] for m in REVIEW_METRICS},
         "预测数": r["overall"]["n_pred"], "标注数": r["overall"]["n_label"], "干净稿误报率": r["clean_fp_rate"]}
        for mode, r in reports.items()
    ]
    categories = list(dict.fromkeys(c for r in reports.values() for c in r["per_category"]))
    by_metric = {
        metric: {names.get(c, c): {REVIEW_MODES.get(mode, mode): r["per_category"].get(c, {}).get(metric, 0.0) for mode, r in reports.items()}
                 for c in categories}
        for metric in REVIEW_METRICS
    }
    return overall, by_metric


def breakdown_chart(by_group: Mapping[str, Mapping[str, float]], metric_name: str, group: str) -> alt.LayerChart:
    """Bars of one metric per document or category (y axis, ``group``), one bar per mode, the metric along the x axis."""
    labels = list(by_group)
    modes = list(dict.fromkeys(mode for values in by_group.values() for mode in values))
    series = {mode: [by_group[label].get(mode) for label in labels] for mode in modes}
    return bar_chart(labels, series, value_title=metric_name, label_title=group)
