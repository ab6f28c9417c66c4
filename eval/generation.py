"""Generation benchmark: for a set of product briefs, how often the drafts pass review first time and after the loop,
how many rounds, how long, and whether any output holds a figure not in its inputs (must be none).

Dataset: JSONL, one brief per line (the ``comply generate --brief`` shape) with an ``id``.
The figure check is recomputed here on the final text, independently of the generator's own check.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assistant.generate.brief import Brief, BriefError, parse_brief
from assistant.generate.loop import Loop
from assistant.generate.marketing import GenerationRefused, generate_marketing
from comply.files.tables import text_table
from comply.files.jsonl import read_jsonl
from eval.stats import percentile
from review.verify import new_figures


@dataclass(frozen=True)
class BriefItem:
    """One brief of the dataset."""

    id: str
    brief: Brief


def _item(obj: dict, n: int) -> BriefItem:
    try:
        return BriefItem(str(obj.get("id", n)), parse_brief(obj))
    except BriefError as exc:
        raise ValueError(str(exc)) from None


def load_dataset(path: Path) -> list[BriefItem]:
    """Read a briefs dataset.

    Raises:
        ValueError: a line that is not JSON or not a valid brief (the line is named).
    """
    return read_jsonl(path, _item)


def evaluate(loop: Loop, items: Sequence[BriefItem], *, max_rounds: int, today: date | None = None) -> dict:
    """Generate every brief through the real loop and summarise; one row per brief in ``items``."""
    rows = []
    inputs_extra = Path(loop.reviewer.settings.disclosures_file).read_text(encoding="utf-8")
    for item in items:
        started = time.perf_counter()
        try:
            result = generate_marketing(loop, item.brief, user="eval", max_rounds=max_rounds, today=today)
        except GenerationRefused as exc:
            rows.append({"id": item.id, "channel": item.brief.channel, "refused": str(exc)})
            continue
        invented = new_figures(item.brief.model_dump_json(by_alias=True) + inputs_extra, result.text)
        rows.append({
            "id": item.id, "channel": item.brief.channel, "mode": result.mode, "rounds": result.rounds,
            "first_pass_clean": result.first_pass_clean, "clean": result.clean,
            "findings": [{"category": f.category, "span": f.span, "source": f.source} for f in result.report.findings],
            "invented": invented,
            "seconds": round(time.perf_counter() - started, 3), "chars": len(result.text),
        })
    made = [r for r in rows if "refused" not in r]
    seconds = [r["seconds"] for r in made]

    def share(key: str) -> float | None:
        return round(statistics.fmean(bool(r[key]) for r in made), 3) if made else None

    by_channel = {}
    for channel in dict.fromkeys(r["channel"] for r in made):
        group = [r for r in made if r["channel"] == channel]
        by_channel[channel] = {"n": len(group), "first_pass_clean": statistics.fmean(r["first_pass_clean"] for r in group),
                               "clean": statistics.fmean(r["clean"] for r in group),
                               "seconds_p50": percentile([r["seconds"] for r in group], 50)}
    return {
        "n": len(rows), "generated": len(made), "refused": len(rows) - len(made),
        "modes": dict(Counter(r["mode"] for r in made)),
        "first_pass_clean": share("first_pass_clean"), "clean_after_loop": share("clean"),
        "mean_rounds": round(statistics.mean(r["rounds"] for r in made), 3) if made else None,
        "rounds": dict(sorted(Counter(r["rounds"] for r in made).items())),
        "with_invented_figures": share("invented"),
        "seconds": {"p50": round(percentile(seconds, 50), 3), "p95": round(percentile(seconds, 95), 3),
                    "mean": round(statistics.mean(seconds), 3)} if seconds else {"p50": None, "p95": None, "mean": None},
        "remaining_findings": dict(Counter(f["category"] for r in made for f in r["findings"])),
        "by_channel": by_channel, "rows": rows, "max_rounds": max_rounds,
    }


def format_report(report: dict, dataset: str) -> str:
    """The benchmark as text (Chinese labels)."""
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.0f}%"

    s = report["seconds"]
    lines = [
        f"数据集：{dataset}（{report['n']} 份产品资料，生成 {report['generated']}，拒绝 {report['refused']}）  生成方式：{report['modes']}",
        (f"首轮即通过审核：{pct(report['first_pass_clean'])}   循环后通过：{pct(report['clean_after_loop'])}   "
         f"平均轮数：{report['mean_rounds']}（上限 {report['max_rounds']}）   轮数分布：{report['rounds']}"),
        f"每篇用时：中位数 {s['p50']} 秒，p95 {s['p95']} 秒   含资料外数字的输出：{pct(report['with_invented_figures'])}",
        f"终稿遗留问题：{report['remaining_findings'] or '无'}",
        text_table(["渠道", "篇数", "首轮通过", "最终通过", "用时中位数"],
                   [(ch, v["n"], pct(v["first_pass_clean"]), pct(v["clean"]), f"{v['seconds_p50']:.1f}") for ch, v in report["by_channel"].items()],
                   right=("篇数", "首轮通过", "最终通过", "用时中位数")),
    ]
    return "\n".join(lines)
