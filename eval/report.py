"""Reports of evaluation runs: JSON, Markdown and self-contained HTML (altair charts as inline SVG), and run comparisons."""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from eval.charts import run_charts, to_svg
from eval.runs import Run
from eval.stats import PERCENTILES, latency_series, latency_summary, percentile

SUITE_NAMES = {"retrieval": "条款检索", "review": "文案审核", "cases": "相似案例", "qa": "选择题问答", "chat": "问答可信度"}
LOWER_IS_BETTER = ("clean_fp_rate", "clean_flagged", "errors", "latency", "n_pred", "clean_hinted",
                   "not_run.no_model", "not_run.timeout", "not_run.malformed", "not_run.unavailable")
_SKIP = {"items", "latencies_s"}


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
        flat["latency.p50_s"] = round(percentile(latencies, 50), 4)
        flat["latency.mean_s"] = round(statistics.fmean(latencies), 4)
    return flat


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
    figures = "".join(f"<figure>{to_svg(chart)}</figure>" for chart in run_charts(run))
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
