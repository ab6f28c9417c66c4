"""Reports of evaluation runs: JSON, Markdown and self-contained HTML (charts as inline SVG), and run comparisons."""

from __future__ import annotations

import html
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from eval.runs import Run

SUITE_NAMES = {"retrieval": "条款检索", "review": "文案审核", "cases": "相似案例", "qa": "选择题问答"}
COLORS = ("#2f6db5", "#e08a2c", "#3a9a5b", "#b8483f", "#7a5bb5")
LOWER_IS_BETTER = ("clean_fp_rate", "clean_flagged", "errors", "latency", "n_pred")
_SKIP = {"items", "latencies_s"}
PERCENTILES = (50, 95, 99)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``, interpolated linearly between closest ranks (as numpy's default)."""
    if not values:
        raise ValueError("percentile of an empty list")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    """p50/p95/p99, mean and max of per-call latencies given in seconds, in milliseconds (empty when none)."""
    if not latencies_s:
        return {}
    ms = [v * 1000 for v in latencies_s]
    out = {f"p{q}": round(percentile(ms, q), 3) for q in PERCENTILES}
    return {**out, "mean": round(statistics.fmean(ms), 3), "max": round(max(ms), 3)}


def latency_series(metrics: dict) -> dict[str, list[float]]:
    """Per-call latencies in seconds by series: one per retrieval mode, or one (“全部”) for suites timing every call."""
    series = {mode: r["latencies_s"] for mode, r in (metrics.get("modes") or {}).items()
              if isinstance(r, dict) and r.get("latencies_s")}
    if metrics.get("latencies_s"):
        series["全部"] = metrics["latencies_s"]
    return series


# ------------------------------------------------------------------------------------------ metrics


def summary_metrics(metrics: dict) -> dict[str, float]:
    """The report's numeric values flattened to dotted names (per-item rows left out), plus latency p50/mean."""
    flat: dict[str, float] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in _SKIP:
                    walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            flat[prefix] = node

    walk(metrics, "")
    latencies = metrics.get("latencies_s") or []
    if latencies:
        flat["latency.p50_s"] = round(statistics.median(latencies), 4)
        flat["latency.mean_s"] = round(statistics.fmean(latencies), 4)
    return flat


def _series(run: Run) -> list[tuple[str, list[str], dict[str, list[float]]]]:
    """(title, bar labels, {series name: values}) for each chart of a run's suite."""
    m = run.metrics
    if run.suite == "review":
        cats = list(dict.fromkeys(c for r in m.get("modes", {}).values() for c in r["per_category"]))
        series = {mode: [r["per_category"].get(c, {}).get("f1", 0.0) for c in cats] for mode, r in m.get("modes", {}).items()}
        return [("各类别 F1", cats, series)] if cats else []
    if run.suite == "retrieval":
        modes = m.get("modes", {})
        keys = list(next(iter(modes.values()))["overall"]) if modes else []
        return [("各 k 的命中率与排序指标", keys, {mode: [r["overall"][k] for k in keys] for mode, r in modes.items()})] if keys else []
    if run.suite == "cases":
        keys = list(m.get("overall", {}))
        return [("各 k 的命中率与排序指标", keys, {"hybrid": [m["overall"][k] for k in keys]})] if keys else []
    if run.suite == "qa":
        conds = m.get("conditions", {})
        labels = [f"{'有检索' if c == 'retrieval' else '无检索'}准确率" for c in conds]
        values = [r["accuracy"] for r in conds.values()]
        validity = conds.get("retrieval", {}).get("citation_validity")
        if validity is not None:
            labels.append("引用核验通过率")
            values.append(validity)
        return [("准确率与引用核验", labels, {run.model or "模型": values})] if labels else []
    return []


# ------------------------------------------------------------------------------------------ charts


def bar_chart_svg(title: str, labels: list[str], series: dict[str, list[float]], vmax: float | None = None) -> str:
    """Horizontal grouped bars (one group per label, one bar per series) as an inline SVG."""
    names = list(series)
    top = vmax or max([1.0, *(v for vs in series.values() for v in vs)])
    label_w, bar_w, bar_h, gap = 190, 340, 14, 10
    legend_h = 22 if len(names) > 1 else 0
    height = 30 + legend_h + len(labels) * (len(names) * bar_h + gap) + 10
    width = label_w + bar_w + 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="4" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>']
    for i, name in enumerate(names if legend_h else []):
        x = label_w + i * 110
        out.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
                   f'<text x="{x + 14}" y="37">{html.escape(name)}</text>')
    y = 30 + legend_h
    for j, label in enumerate(labels):
        out.append(f'<text x="{label_w - 6}" y="{y + len(names) * bar_h / 2 + 4}" text-anchor="end">{html.escape(label)}</text>')
        for i, name in enumerate(names):
            value = series[name][j] or 0.0
            w = max(0.0, bar_w * value / top)
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{COLORS[i % len(COLORS)]}">'
                       f'<title>{html.escape(name)} {html.escape(label)}: {value:.3f}</title></rect>'
                       f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">{value:.3f}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    return "".join(out)


def histogram_svg(title: str, values: list[float] | dict[str, list[float]], unit: str = "秒") -> str:
    """A histogram of ``values`` (e.g. per-query latencies) as an inline SVG.

    ``values`` may be one list or several named lists (e.g. one per search mode); several share the same bins,
    are drawn side by side in each bin with a legend, and each gets a dashed line at its p95.
    """
    series = values if isinstance(values, dict) else {"": values}
    series = {name: vs for name, vs in series.items() if vs}
    every = [v for vs in series.values() for v in vs]
    lo, hi = min(every), max(every)
    n_bins = max(3, min(12, int(math.sqrt(max(len(vs) for vs in series.values()))) + 1))
    width_bin = (hi - lo) / n_bins or 1.0
    counts = {name: [0] * n_bins for name in series}
    for name, vs in series.items():
        for v in vs:
            counts[name][min(n_bins - 1, int((v - lo) / width_bin))] += 1
    names = list(series)
    legend_h = 22 if len(names) > 1 else 0
    plot_w, plot_h, left, top = 480, 160, 40, 30 + legend_h + (10 if legend_h else 0)
    bw = plot_w / n_bins
    sub = bw / len(names)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + plot_w + 20}" height="{top + plot_h + 40}" role="img" '
           f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="12">',
           f'<text x="4" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>']
    for i, name in enumerate(names if legend_h else []):
        x = left + i * 110
        out.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
                   f'<text x="{x + 14}" y="37">{html.escape(name)}</text>')
    peak = max(c for cs in counts.values() for c in cs)
    for j, name in enumerate(names):
        color = COLORS[j % len(COLORS)]
        label = f"{name} " if name else ""
        for i, c in enumerate(counts[name]):
            h = plot_h * c / peak
            x = left + i * bw + j * sub
            out.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(sub - 2, 1):.1f}" height="{h:.1f}" fill="{color}">'
                       f'<title>{html.escape(label)}{lo + i * width_bin:.3f}–{lo + (i + 1) * width_bin:.3f} {unit}: {c}</title></rect>')
            if c:
                out.append(f'<text x="{x + sub / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle">{c}</text>')
        if legend_h:
            p95 = percentile(series[name], 95)
            x = left + plot_w * (p95 - lo) / (width_bin * n_bins)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{color}" stroke-dasharray="4 3">'
                       f'<title>{html.escape(name)} p95: {p95:.3f} {unit}</title></line>')
    n = " / ".join(f"{name} {len(vs)}" for name, vs in series.items()) if legend_h else str(len(every))
    out.append(f'<text x="{left}" y="{top + plot_h + 16}">{lo:.3f}</text>'
               f'<text x="{left + plot_w}" y="{top + plot_h + 16}" text-anchor="end">{hi:.3f} {unit}</text>'
               f'<text x="{left + plot_w / 2}" y="{top + plot_h + 32}" text-anchor="middle">n = {html.escape(n)}</text></svg>')
    return "".join(out)


def charts(run: Run) -> list[str]:
    """The run's charts as SVG strings: per-category / per-k bars, and a latency histogram when latencies exist."""
    svgs = [bar_chart_svg(title, labels, series) for title, labels, series in _series(run)]
    if run.metrics.get("latencies_s"):
        svgs.append(histogram_svg("单次调用耗时分布", run.metrics["latencies_s"]))
    by_mode = {name: vs for name, vs in latency_series(run.metrics).items() if name != "全部"}
    if by_mode:
        ms = {name: [v * 1000 for v in vs] for name, vs in by_mode.items()}
        svgs.append(histogram_svg("各模式单次检索耗时分布", ms, unit="毫秒"))
        labels = [f"p{q}" for q in PERCENTILES]
        svgs.append(bar_chart_svg("各模式检索耗时分位数（毫秒）", labels, {name: [percentile(vs, q) for q in PERCENTILES] for name, vs in ms.items()}))
    return svgs


def latency_table(metrics: dict) -> list[tuple[str, int, dict[str, float]]]:
    """(series, number of calls, p50/p95/p99/mean/max in ms) for every latency series of a report."""
    return [(name, len(vs), latency_summary(vs)) for name, vs in latency_series(metrics).items()]


_LATENCY_COLUMNS = [f"p{q}" for q in PERCENTILES] + ["mean", "max"]


# ------------------------------------------------------------------------------------------ one run


def _meta(run: Run) -> list[tuple[str, str]]:
    return [("评测套件", f"{run.suite}（{SUITE_NAMES.get(run.suite, run.suite)}）"), ("记录编号", run.run_id),
            ("时间（UTC）", run.created_at.isoformat(timespec="seconds")), ("代码提交", run.git_commit or "未知"),
            ("模型", run.model or "—"), ("数据集", run.dataset_path), ("数据集 SHA-256", run.dataset_sha256)]


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def to_markdown(run: Run) -> str:
    """The run as Markdown: provenance, metrics table, configuration."""
    lines = [f"# 评测报告：{SUITE_NAMES.get(run.suite, run.suite)}（{run.run_id}）", "", "| 项目 | 值 |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _meta(run)]
    lines += ["", "## 指标", "", "| 指标 | 值 |", "|---|---:|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in summary_metrics(run.metrics).items()]
    latency = latency_table(run.metrics)
    if latency:
        lines += ["", "## 耗时（毫秒，每次调用）", "", "| 模式 | n | " + " | ".join(_LATENCY_COLUMNS) + " |",
                  "|---|---:|" + "---:|" * len(_LATENCY_COLUMNS)]
        lines += [f"| {name} | {n} | " + " | ".join(f"{stats[c]:.1f}" for c in _LATENCY_COLUMNS) + " |" for name, n, stats in latency]
    lines += ["", "## 配置", "", "```json", json.dumps(run.config, ensure_ascii=False, indent=2), "```", ""]
    return "\n".join(lines)


_CSS = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".up{color:#1a7f37}.down{color:#b42318}pre{background:#f6f6f6;padding:1em;overflow:auto}figure{margin:1em 0}"
)


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def to_html(run: Run) -> str:
    """The run as one self-contained HTML page (inline CSS and SVG charts, nothing fetched)."""
    meta = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _meta(run))
    rows = "".join(f'<tr><td>{html.escape(k)}</td><td class="num">{_fmt(v)}</td></tr>' for k, v in summary_metrics(run.metrics).items())
    figures = "".join(f"<figure>{svg}</figure>" for svg in charts(run))
    latency = "".join(f'<tr><td>{html.escape(name)}</td><td class="num">{n}</td>'
                      + "".join(f'<td class="num">{stats[c]:.1f}</td>' for c in _LATENCY_COLUMNS) + "</tr>"
                      for name, n, stats in latency_table(run.metrics))
    if latency:
        head = "".join(f"<th>{c}</th>" for c in _LATENCY_COLUMNS)
        latency = f"<h2>耗时（毫秒，每次调用）</h2><table><tr><th>模式</th><th>n</th>{head}</tr>{latency}</table>"
    body = (f"<table>{meta}</table><h2>图表</h2>{figures}<h2>指标</h2><table><tr><th>指标</th><th>值</th></tr>{rows}</table>"
            f"{latency}<h2>配置</h2><pre>{html.escape(json.dumps(run.config, ensure_ascii=False, indent=2))}</pre>")
    return _page(f"评测报告：{SUITE_NAMES.get(run.suite, run.suite)}（{run.run_id}）", body)


def write_report(run: Run, directory: Path) -> list[Path]:
    """Write ``<run_id>.json``, ``.md`` and ``.html`` into ``directory``; returns the three paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{run.run_id}.{ext}" for ext in ("json", "md", "html")]
    paths[0].write_text(json.dumps(run.as_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    paths[1].write_text(to_markdown(run), encoding="utf-8")
    paths[2].write_text(to_html(run), encoding="utf-8")
    return paths


# ------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Comparison:
    """Two runs side by side: (metric, value in A, value in B, B − A) for every metric of either."""

    a: Run
    b: Run
    rows: list[tuple[str, float | None, float | None, float | None]]

    @property
    def notes(self) -> list[str]:
        """Warnings about what makes the two runs not directly comparable."""
        notes = []
        if self.a.suite != self.b.suite:
            notes.append(f"两次评测的套件不同（{self.a.suite} / {self.b.suite}）")
        if self.a.dataset_sha256 != self.b.dataset_sha256:
            notes.append("两次评测的数据集内容不同（SHA-256 不一致）")
        return notes

    def markdown(self) -> str:
        """A Markdown table with deltas."""
        lines = [f"# 评测对比：{self.a.run_id}（A） vs {self.b.run_id}（B）", ""]
        lines += [f"> 注意：{n}" for n in self.notes] + ([""] if self.notes else [])
        lines += ["| 项目 | A | B |", "|---|---|---|"]
        lines += [f"| {k} | {va} | {vb} |" for (k, va), (_, vb) in zip(_meta(self.a), _meta(self.b))]
        lines += ["", "| 指标 | A | B | Δ (B − A) |", "|---|---:|---:|---:|"]
        lines += [f"| {k} | {_fmt(va)} | {_fmt(vb)} | {_delta(d)} |" for k, va, vb, d in self.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """A self-contained HTML page with the same table (improvements green, regressions red)."""
        notes = "".join(f"<p><strong>注意：</strong>{html.escape(n)}</p>" for n in self.notes)
        meta = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(va)}</td><td>{html.escape(vb)}</td></tr>"
                       for (k, va), (_, vb) in zip(_meta(self.a), _meta(self.b)))
        rows = "".join(
            f'<tr><td>{html.escape(k)}</td><td class="num">{_fmt(va)}</td><td class="num">{_fmt(vb)}</td>'
            f'<td class="num {_direction(k, d)}">{_delta(d)}</td></tr>' for k, va, vb, d in self.rows)
        body = (f"{notes}<table><tr><th></th><th>A</th><th>B</th></tr>{meta}</table>"
                f"<table><tr><th>指标</th><th>A</th><th>B</th><th>Δ (B − A)</th></tr>{rows}</table>")
        return _page(f"评测对比：{self.a.run_id} vs {self.b.run_id}", body)


def _delta(d: float | None) -> str:
    return "—" if d is None else f"{d:+.4f}" if isinstance(d, float) else f"{d:+d}"


def _direction(metric: str, d: float | None) -> str:
    if not d:
        return ""
    better = d < 0 if any(part in metric for part in LOWER_IS_BETTER) else d > 0
    return "up" if better else "down"


def compare(run_a: Run, run_b: Run) -> Comparison:
    """Compare two runs metric by metric (metrics present in only one run get no delta)."""
    ma, mb = summary_metrics(run_a.metrics), summary_metrics(run_b.metrics)
    rows = []
    for key in dict.fromkeys([*ma, *mb]):
        va, vb = ma.get(key), mb.get(key)
        delta = None
        if va is not None and vb is not None:
            delta = round(vb - va, 4) if isinstance(va, float) or isinstance(vb, float) else vb - va
        rows.append((key, va, vb, delta))
    return Comparison(run_a, run_b, rows)


def write_comparison(comparison: Comparison, directory: Path) -> list[Path]:
    """Write ``compare-<A>-<B>.md`` and ``.html`` into ``directory``; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{comparison.a.run_id}-{comparison.b.run_id}"
    paths = [directory / f"{stem}.md", directory / f"{stem}.html"]
    paths[0].write_text(comparison.markdown(), encoding="utf-8")
    paths[1].write_text(comparison.html(), encoding="utf-8")
    return paths
