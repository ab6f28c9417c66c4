"""Charts of evaluation reports as altair specs, one function per chart kind.

Streamlit draws the specs natively (``st.altair_chart``); the self-contained HTML report embeds them as inline SVG
rendered offline by vl-convert (``to_svg``), so the page holds no script and fetches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from eval.runs import Run
from eval.stats import PERCENTILES, latency_series, percentile

COLORS = ("#2f6db5", "#e08a2c", "#3a9a5b", "#b8483f", "#7a5bb5")
_BAR_STEP = 14  # pixels per bar of a grouped bar chart
_XLINK = ' xmlns:xlink="http://www.w3.org/1999/xlink"'


def _colors(names: Sequence[str], title: str) -> alt.Color:
    """One colour per series in the given order; a legend only when there are several."""
    legend = alt.Legend(title=title, orient="top") if len(names) > 1 else None
    return alt.Color("series:N", scale=alt.Scale(domain=list(names), range=list(COLORS)), legend=legend)


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *, label_title: str, title: str | None = None,
              value_title: str = "值", series_title: str = "模式") -> alt.LayerChart:
    """Horizontal grouped bars: the labels down the y axis, one bar per series in each, values (printed) along x."""
    rows = [{"label": label, "series": name, "value": float(value or 0.0)}
            for name, values in series.items() for label, value in zip(labels, values)]
    top = max([0.0, *(r["value"] for r in rows)])
    scale = alt.Scale(domain=[0, 1]) if top <= 1 else alt.Scale(domainMin=0)
    base = alt.Chart(pd.DataFrame(rows, columns=["label", "series", "value"]), title=title or "").encode(
        y=alt.Y("label:N", title=label_title, sort=list(labels), axis=alt.Axis(labelLimit=0)),  # labels never cut
        yOffset=alt.YOffset("series:N", sort=list(series)),
        x=alt.X("value:Q", title=value_title, scale=scale),
    )
    bars = base.mark_bar().encode(color=_colors(list(series), series_title),
                                  tooltip=[alt.Tooltip("series:N", title=series_title), alt.Tooltip("label:N", title=label_title),
                                           alt.Tooltip("value:Q", title=value_title, format=".3f")])
    values = base.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text("value:Q", format=".3f"))
    return alt.layer(bars, values).properties(width=400, height=alt.Step(_BAR_STEP, **{"for": "offset"}))


def histogram_chart(values: Sequence[float] | Mapping[str, Sequence[float]], *, title: str, unit: str = "秒") -> alt.LayerChart:
    """A histogram of ``values`` (e.g. per-call latencies) with a dashed line at each series' p95.

    ``values`` may be one list or several named lists (e.g. one per search mode); several share the same bins,
    are drawn side by side in each bin with a legend.
    """
    series = {name: list(vs) for name, vs in (values.items() if isinstance(values, Mapping) else [("", values)]) if len(vs)}
    n_bins = max(3, min(12, int(math.sqrt(max(len(vs) for vs in series.values()))) + 1))
    edges = np.histogram_bin_edges([v for vs in series.values() for v in vs], bins=n_bins)
    width = (edges[1] - edges[0]) / len(series)
    bins, marks = [], []
    for j, (name, vs) in enumerate(series.items()):
        counts, _ = np.histogram(vs, bins=edges)
        for i, count in enumerate(counts.tolist()):
            start = float(edges[i]) + j * width
            bins.append({"series": name, "start": start, "end": start + width, "count": count,
                         "bin": f"{edges[i]:.3f}–{edges[i + 1]:.3f}"})
        marks.append({"series": name, "p95": percentile(vs, 95), "label": f"{name} p95".strip(), "y": 8 + 12 * j})
    color = _colors(list(series), "模式")
    x_title = f"耗时（{unit}）"
    hist = alt.Chart(pd.DataFrame(bins)).encode(x=alt.X("start:Q", title=x_title, scale=alt.Scale(zero=False, nice=False)), x2="end:Q",
                                                y=alt.Y("count:Q", title="次数"), y2=alt.datum(0))
    bars = hist.mark_bar(stroke="white").encode(color=color, tooltip=[alt.Tooltip("series:N", title="模式"), alt.Tooltip("bin:N", title=x_title),
                                                                      alt.Tooltip("count:Q", title="次数")])
    count_labels = hist.transform_filter("datum.count > 0").transform_calculate(mid="(datum.start + datum.end) / 2").mark_text(
        dy=-3, baseline="bottom", fontSize=10).encode(x="mid:Q", text="count:Q")
    p95 = alt.Chart(pd.DataFrame(marks)).encode(x="p95:Q")
    rules = p95.mark_rule(strokeDash=[4, 3]).encode(color=color, tooltip=[alt.Tooltip("label:N", title="分位"), alt.Tooltip("p95:Q", format=".3f")])
    labels = p95.mark_text(align="left", dx=3, fontSize=10).encode(y=alt.Y("y:Q", scale=None), text="label:N", color=color)
    n = " / ".join(f"{name} {len(vs)}" for name, vs in series.items()) if len(series) > 1 else str(sum(map(len, series.values())))
    return alt.layer(bars, count_labels, rules, labels).properties(title=alt.Title(title, subtitle=f"n = {n}"), width=480, height=160)


def _bar_charts(run: Run) -> list[alt.LayerChart]:
    """The bar charts of a run's suite: per-category F1, per-k hit rates, or QA accuracy and citation checks."""
    m = run.metrics
    if run.suite == "review":
        modes = m.get("modes", {})
        cats = list(dict.fromkeys(c for r in modes.values() for c in r["per_category"]))
        series = {mode: [r["per_category"].get(c, {}).get("f1", 0.0) for c in cats] for mode, r in modes.items()}
        return [bar_chart(cats, series, title="各类别 F1", value_title="F1", label_title="类别")] if cats else []
    if run.suite in ("retrieval", "cases"):
        modes = m.get("modes", {}) if run.suite == "retrieval" else {"hybrid": m} if m.get("overall") else {}
        keys = list(next(iter(modes.values()))["overall"]) if modes else []
        series = {mode: [r["overall"][k] for k in keys] for mode, r in modes.items()}
        return [bar_chart(keys, series, title="各 k 的命中率与排序指标", label_title="指标")] if keys else []
    if run.suite == "qa":
        conds = m.get("conditions", {})
        labels = [f"{'有检索' if c == 'retrieval' else '无检索'}准确率" for c in conds]
        values = [r["accuracy"] for r in conds.values()]
        validity = conds.get("retrieval", {}).get("citation_validity")
        if validity is not None:
            labels.append("引用核验通过率")
            values.append(validity)
        return [bar_chart(labels, {run.model or "模型": values}, title="准确率与引用核验", value_title="比例",
                          label_title="指标", series_title="模型")] if labels else []
    return []


def run_charts(run: Run) -> list[alt.LayerChart]:
    """A run's charts: per-category / per-k bars, a latency histogram, and per-mode latency histogram and percentiles."""
    out = _bar_charts(run)
    if run.metrics.get("latencies_s"):
        out.append(histogram_chart(run.metrics["latencies_s"], title="单次调用耗时分布"))
    by_mode = {name: [v * 1000 for v in vs] for name, vs in latency_series(run.metrics).items() if name != "全部"}
    if by_mode:
        out.append(histogram_chart(by_mode, title="各模式单次检索耗时分布", unit="毫秒"))
        out.append(bar_chart([f"p{q}" for q in PERCENTILES], {name: [percentile(vs, q) for q in PERCENTILES] for name, vs in by_mode.items()},
                             title="各模式检索耗时分位数（毫秒）", value_title="毫秒", label_title="分位数"))
    return out


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an inline SVG string, rendered offline by vl-convert (no URL may be fetched)."""
    svg = vl_convert.vegalite_to_svg(chart.to_json(), allowed_base_urls=[])
    # Vega declares the xlink namespace for image marks; these charts have none, and the report names no URL.
    return svg.replace(_XLINK, "", 1) if "xlink:href" not in svg else svg
