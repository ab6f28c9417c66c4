"""The evaluation page's chart (issue 18): axis titles name what each axis holds, and laws go by distinct short names."""

from __future__ import annotations

from ui.evaluation import breakdown_chart, retrieval_tables, short_law_names

TITLES = ["中华人民共和国证券法", "中华人民共和国证券投资基金法", "《中华人民共和国反洗钱法》"]


def _report() -> dict:
    per_doc = {t: {"n": 1, "hit@1": 1.0, "hit@3": 1.0, "hit@5": 1.0, "hit@10": 1.0, "mrr": 1.0, "ndcg@10": 0.5 + i / 10}
               for i, t in enumerate(TITLES)}
    overall = {k: 1.0 for k in ("hit@1", "hit@3", "hit@5", "hit@10", "mrr", "ndcg@10")}
    return {"n": 3, "modes": {"hybrid": {"overall": overall, "per_doc": per_doc}, "bm25": {"overall": overall, "per_doc": per_doc}}}


def test_chart_axes_match_their_data_and_laws_have_distinct_short_labels():
    _, by_metric = retrieval_tables(_report())
    spec = breakdown_chart(by_metric["ndcg@10"], "nDCG@10", "文档").to_dict()
    encoding = spec["layer"][0]["encoding"]
    rows = spec["datasets"][next(iter(spec["datasets"]))]
    assert encoding["y"]["field"] == "label" and encoding["y"]["title"] == "文档"
    assert encoding["x"]["field"] == "value" and encoding["x"]["title"] == "nDCG@10"
    assert encoding["y"]["axis"]["labelLimit"] == 0, "labels are never cut"
    labels = {r["label"] for r in rows}
    assert labels == {"证券法", "证券投资基金法", "反洗钱法"}
    assert {round(r["value"], 1) for r in rows if r["label"] == "证券投资基金法"} == {0.6}, "values stay with their law"


def test_titles_whose_short_names_coincide_keep_their_full_titles():
    names = short_law_names(["中华人民共和国证券法", "证券法", "中华人民共和国信托法"])
    assert names == {"中华人民共和国证券法": "中华人民共和国证券法", "证券法": "证券法", "中华人民共和国信托法": "信托法"}
