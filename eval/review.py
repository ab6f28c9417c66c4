"""Span-level scoring of draft review: rules, keyword baseline, or any ``predict(text)`` callable.

A finding is correct when it overlaps (character offsets) a label of the same category; a label is
found when some finding of its category overlaps it. Precision counts findings, recall counts labels.
Clean drafts also give a false-positive rate: the share of them with at least one finding.

A predictor may return a whole review (:class:`Reviewed`, such as ``review.pipeline.ReviewReport``) instead of
a list of findings: only its ``findings`` are scored as above; its ``hints`` (shown, never counted) get their
own precision, and its ``stages`` say on how many drafts the model stage ran and why it did not on the others.

    python -m eval.review --dataset ../shared/eval/dev/review_drafts.jsonl --mode rules|baseline [--json] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from comply.config import load_settings
from comply.files.jsonl import read_jsonl
from comply.files.tables import text_table
from comply.text import normalise_text
from review.baseline import apply_baseline
from review.findings import Located
from review.rules import RuleSet, apply_rules, load_default_rules
from review.stages import COVERED, FAILED, MALFORMED, MODEL, NO_MODEL, TIMEOUT, UNAVAILABLE, Stage

MODES = ("rules", "baseline")
NOT_RUN = (NO_MODEL, TIMEOUT, MALFORMED, UNAVAILABLE, COVERED)  # why the model stage did not run, in report order
NOT_RUN_ZH = {NO_MODEL: "无模型", TIMEOUT: "超时", MALFORMED: "回复无效", UNAVAILABLE: "不可用", COVERED: "规则已覆盖"}


@runtime_checkable
class Reviewed(Protocol):
    """What scoring reads of a whole review (``review.pipeline.ReviewReport`` is one)."""

    @property
    def findings(self) -> Sequence[Located]: ...

    @property
    def hints(self) -> Sequence[Located]: ...

    @property
    def stages(self) -> Sequence[Stage]: ...


Predict = Callable[[str], Sequence[Located] | Reviewed]


@dataclass(frozen=True)
class Label:
    """A labelled span located in its draft (first occurrence)."""

    span: str
    category: str
    start: int
    end: int


@dataclass(frozen=True)
class Draft:
    """One draft of a review dataset."""

    id: str
    genre: str
    text: str
    clean: bool
    labels: tuple[Label, ...]


def load_dataset(path: Path) -> list[Draft]:
    """Read a JSONL dataset in the format of shared/eval/dev/review_drafts.jsonl.

    Raises:
        ValueError: naming the line of a malformed item or of a label span not found in its text.
    """
    return read_jsonl(path, _draft)


def _draft(obj: dict, n: int) -> Draft:
    """One item, its text and label spans normalised as every draft under review is (offsets refer to that text)."""
    text = normalise_text(obj["text"])
    labels = []
    for label in obj.get("labels") or []:
        span = normalise_text(label["span"])
        start = text.find(span)
        if not span or start < 0:
            raise ValueError(f"标注片段“{label['span']}”不在正文中")
        labels.append(Label(span, label["category"], start, start + len(span)))
    return Draft(str(obj.get("id", n)), obj.get("genre", ""), text, bool(obj.get("clean", not labels)), tuple(labels))


def overlaps(a: Located | Label, b: Located | Label) -> bool:
    """Whether two spans of one draft overlap and share a category (how a finding or hint is matched to a label)."""
    return a.category == b.category and a.start < b.end and b.start < a.end


def _prf(tp_pred: int, n_pred: int, tp_label: int, n_label: int) -> dict:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_label / n_label if n_label else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "n_pred": n_pred, "tp_pred": tp_pred, "n_label": n_label, "tp_label": tp_label}


def check_genres(drafts: Sequence[Draft], known: Collection[str]) -> None:
    """Check that every draft is labelled with a genre of the catalogue (before a run that uses the labels).

    Raises:
        ValueError: naming the first draft whose genre is missing or unknown.
    """
    for draft in drafts:
        if draft.genre not in known:
            raise ValueError(f"文案 {draft.id} 的体裁标注“{draft.genre}”不在体裁目录中（可选：{'、'.join(known)}），"
                             "无法按标注体裁评测；去掉 --use-labelled-genre 则自动识别体裁")


def evaluate(drafts: Sequence[Draft], predict: Predict, categories: Sequence[str] = ()) -> dict:
    """P/R/F1 overall and per category, the clean-draft false-positive rate, and per-draft errors (see
    :func:`evaluate_drafts`; ``predict`` reads only each draft's text)."""
    return evaluate_drafts(drafts, lambda draft: predict(draft.text), categories)


def _model_stage(stages: Sequence[Stage]) -> Stage | None:
    return next((s for s in stages if s.name == MODEL), None)


def _hint_report(counts: dict[str, list[int]], clean_hinted: int, only_hinted: int) -> dict:
    """Hints overall and per category: how many, how many a label confirmed, and that share (None without hints)."""
    def row(n: int, right: int) -> dict:
        return {"n": n, "right": right, "precision": round(right / n, 4) if n else None}

    total = [sum(c[i] for c in counts.values()) for i in range(2)]
    return {**row(*total), "clean_hinted": clean_hinted, "labels_only_hinted": only_hinted,
            "per_category": {c: row(*r) for c, r in counts.items()}}


def evaluate_drafts(drafts: Sequence[Draft], review: Callable[[Draft], Sequence[Located] | Reviewed],
                    categories: Sequence[str] = ()) -> dict:
    """P/R/F1 of the counted findings overall and per category, the clean-draft false-positive rate, and per-draft
    errors; when ``review`` returns whole reviews, also the hints' precision and a summary of the model stage.

    ``hints``: ``n`` / ``right`` / ``precision`` (a hint is right when it overlaps a label of its category) overall
    and per category, the clean drafts with a hint, and the labels only a hint (no finding) overlaps. ``stages``:
    the drafts whose review recorded a model stage, those where it ran, and the others by :class:`Stage` code.
    """
    counts: dict[str, list[int]] = {c: [0, 0, 0, 0] for c in categories}  # tp_pred, n_pred, tp_label, n_label
    hint_counts: dict[str, list[int]] = {}  # n, right
    stages = {"recorded": 0, "ran": 0, "not_run": dict.fromkeys(NOT_RUN, 0)}
    items = []
    clean_flagged = clean_hinted = only_hinted = 0
    for draft in drafts:
        result = review(draft)
        reviewed = isinstance(result, Reviewed)
        preds = list(result.findings if reviewed else result)
        hints = list(result.hints) if reviewed else []
        stage = _model_stage(result.stages) if reviewed else None
        if stage is not None:
            stages["recorded"] += 1
            if stage.ran:
                stages["ran"] += 1
            else:
                stages["not_run"][stage.code] = stages["not_run"].get(stage.code, 0) + 1
        for h in hints:
            row = hint_counts.setdefault(h.category, [0, 0])
            row[0] += 1
            row[1] += any(overlaps(h, label) for label in draft.labels)
        clean_hinted += draft.clean and bool(hints)
        only_hinted += sum(not any(overlaps(p, label) for p in preds) and any(overlaps(h, label) for h in hints)
                           for label in draft.labels)
        for p in preds:
            row = counts.setdefault(p.category, [0, 0, 0, 0])
            row[1] += 1
            row[0] += any(overlaps(p, label) for label in draft.labels)
        for label in draft.labels:
            row = counts.setdefault(label.category, [0, 0, 0, 0])
            row[3] += 1
            row[2] += any(overlaps(p, label) for p in preds)
        clean_flagged += draft.clean and bool(preds)
        items.append({
            "id": draft.id,
            "clean": draft.clean,
            "false_positives": [{"category": p.category, "start": p.start, "end": p.end, "span": draft.text[p.start:p.end]}
                                for p in preds if not any(overlaps(p, label) for label in draft.labels)],
            "misses": [{"category": label.category, "span": label.span}
                       for label in draft.labels if not any(overlaps(p, label) for p in preds)],
            "hints": [{"category": h.category, "start": h.start, "end": h.end, "span": draft.text[h.start:h.end],
                       "right": any(overlaps(h, label) for label in draft.labels)} for h in hints],
            "model_stage": stage.code if stage else None,
        })
    n_clean = sum(d.clean for d in drafts)
    totals = [sum(row[i] for row in counts.values()) for i in range(4)]
    return {
        "n_drafts": len(drafts),
        "n_clean": n_clean,
        "overall": _prf(totals[0], totals[1], totals[2], totals[3]),
        "per_category": {c: _prf(row[0], row[1], row[2], row[3]) for c, row in counts.items()},
        "clean_fp_rate": round(clean_flagged / n_clean, 4) if n_clean else 0.0,
        "clean_flagged": clean_flagged,
        "hints": _hint_report(hint_counts, clean_hinted, only_hinted),
        "stages": stages,
        "items": items,
    }


def predictor(mode: str, rules: RuleSet) -> Predict:
    """The rules stage or the keyword baseline as a ``predict(text)`` callable."""
    if mode not in MODES:
        raise ValueError(f"未知的审查模式：{mode}（可用：{', '.join(MODES)}）")
    apply = apply_rules if mode == "rules" else apply_baseline
    return lambda text: apply(text, rules)


def rules_categories(rules: RuleSet) -> list[str]:
    """Categories in rules-file order (so every category covered by a rule gets a row)."""
    return list(dict.fromkeys(r.category for r in rules.rules))


def format_report(report: dict, title: str, errors: bool = False) -> str:
    """A plain-text table of the report (and, with ``errors``, each draft's misses and false positives)."""
    rows = [*report["per_category"].items(), ("overall", report["overall"])]
    table = text_table(["category", "P", "R", "F1", "pred", "labels"],
                       [(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["n_pred"], m["n_label"]) for name, m in rows],
                       right=("P", "R", "F1", "pred", "labels"))
    lines = [title, table, f"clean-draft FP rate: {report['clean_fp_rate']:.3f} ({report['clean_flagged']}/{report['n_clean']})"]
    if errors:
        for item in report["items"]:
            for miss in item["misses"]:
                lines.append(f"  MISS {item['id']} [{miss['category']}] {miss['span']}")
            for fp in item["false_positives"]:
                lines.append(f"  FP   {item['id']} [{fp['category']}] {fp['span']}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _side_by_side(reports: Mapping[str, dict]) -> str:
    """One row per category (then overall), each mode's P / R / F1 next to the others', then the labels."""
    categories = list(dict.fromkeys(c for r in reports.values() for c in r["per_category"]))
    columns = ["类别", *(f"{mode} {m}" for mode in reports for m in ("P", "R", "F1")), "标注数"]
    rows = []
    for name in [*categories, "overall"]:
        cells = [r["overall"] if name == "overall" else r["per_category"].get(name) for r in reports.values()]
        labels = next((c["n_label"] for c in cells if c), 0)
        rows.append([name, *(_num(c[k] if c else None) for c in cells for k in ("precision", "recall", "f1")), labels])
    return text_table(columns, rows, right=columns[1:])


def _hints_table(reports: Mapping[str, dict]) -> str:
    """Per category, each mode's hints: how many, how many a label confirmed, and their precision."""
    categories = list(dict.fromkeys(c for r in reports.values() for c in r["hints"]["per_category"]))
    columns = ["类别", *(f"{mode} {m}" for mode in reports for m in ("提示数", "正确", "P"))]
    rows = []
    for name in [*categories, "overall"]:
        cells = [r["hints"] if name == "overall" else r["hints"]["per_category"].get(name) for r in reports.values()]
        rows.append([name, *(v for c in cells for v in ((c["n"], c["right"], _num(c["precision"])) if c else (0, 0, "–")))])
    return text_table(columns, rows, right=columns[1:])


def _stages_table(reports: Mapping[str, dict]) -> str:
    """Per mode: drafts whose model stage was recorded, those where it ran, and the others by why it did not run."""
    columns = ["方式", "篇数", "大模型已运行", *(f"{NOT_RUN_ZH[c]}（{c}）" for c in NOT_RUN)]
    rows = [[mode, r["stages"]["recorded"], r["stages"]["ran"], *(r["stages"]["not_run"].get(c, 0) for c in NOT_RUN)]
            for mode, r in reports.items()]
    return text_table(columns, rows, right=columns[1:])


def format_side_by_side(reports: Mapping[str, dict], title: str) -> str:
    """Several modes' reports as people compare them: one per-category table of every mode's P / R / F1, each mode's
    clean drafts flagged, the hints (shown, never counted) per category, and where the model stage ran."""
    lines = [title, _side_by_side(reports), ""]
    lines += [f"干净稿被标出问题（{mode}）：{r['clean_flagged']}/{r['n_clean']}（{r['clean_fp_rate']:.3f}）" for mode, r in reports.items()]
    hinted = {mode: r for mode, r in reports.items() if r["hints"]["n"] or r["stages"]["ran"]}
    if hinted:
        lines += ["", "待复核提示（仅大模型提出，不计入结论；与同类标注重叠即为正确）：", _hints_table(hinted)]
        lines += [f"干净稿出现提示（{mode}）：{r['hints']['clean_hinted']}/{r['n_clean']}；只有提示覆盖、结论漏掉的标注："
                  f"{r['hints']['labels_only_hinted']}" for mode, r in hinted.items()]
    staged = {mode: r for mode, r in reports.items() if r["stages"]["recorded"]}
    if staged:
        lines += ["", "大模型阶段：", _stages_table(staged)]
        for mode, r in staged.items():
            failed = sum(r["stages"]["not_run"].get(c, 0) for c in FAILED)
            if failed:
                lines.append(f"注意：{mode} 有 {failed} 篇大模型调用失败，这些篇只按规则计分")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: score the rules stage or the keyword baseline on a review dataset."""
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m eval.review", description="文案审查的片段级评测（规则 / 关键词基线）")
    parser.add_argument("--dataset", type=Path, default=settings.taxonomy_file.parent / "dev" / "review_drafts.jsonl")
    parser.add_argument("--mode", choices=MODES, default="rules")
    parser.add_argument("--json", action="store_true", help="输出 JSON 报告")
    parser.add_argument("--errors", action="store_true", help="列出每篇的漏报和误报")
    args = parser.parse_args(argv)
    try:
        rules = load_default_rules(settings)
        drafts = load_dataset(args.dataset)
    except (OSError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    report = evaluate(drafts, predictor(args.mode, rules), rules_categories(rules))
    if args.json:
        print(json.dumps({"mode": args.mode, "dataset": str(args.dataset), **report}, ensure_ascii=False, indent=2))
    else:
        print(format_report(report, f"mode: {args.mode}   dataset: {args.dataset}   drafts: {report['n_drafts']} (clean {report['n_clean']})", args.errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
