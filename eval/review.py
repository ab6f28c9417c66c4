"""Span-level scoring of draft review: rules, keyword baseline, or any ``predict(text) -> findings`` callable.

A finding is correct when it overlaps (character offsets) a label of the same category; a label is
found when some finding of its category overlaps it. Precision counts findings, recall counts labels.
Clean drafts also give a false-positive rate: the share of them with at least one finding.

    python -m eval.review --dataset ../shared/eval/dev/review_drafts.jsonl --mode rules|baseline [--json] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from comply.config import load_settings
from comply.files.tables import text_table
from comply.text import normalise_text
from eval.jsonl import read_jsonl
from review.baseline import apply_baseline
from review.findings import Located
from review.rules import RuleSet, apply_rules, load_default_rules

MODES = ("rules", "baseline")


Predict = Callable[[str], Sequence[Located]]


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


def _overlaps(a: Located | Label, b: Located | Label) -> bool:
    return a.category == b.category and a.start < b.end and b.start < a.end


def _prf(tp_pred: int, n_pred: int, tp_label: int, n_label: int) -> dict:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_label / n_label if n_label else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "n_pred": n_pred, "tp_pred": tp_pred, "n_label": n_label, "tp_label": tp_label}


def evaluate(drafts: Sequence[Draft], predict: Predict, categories: Sequence[str] = ()) -> dict:
    """P/R/F1 overall and per category, the clean-draft false-positive rate, and per-draft errors."""
    counts: dict[str, list[int]] = {c: [0, 0, 0, 0] for c in categories}  # tp_pred, n_pred, tp_label, n_label
    items = []
    clean_flagged = 0
    for draft in drafts:
        preds = list(predict(draft.text))
        for p in preds:
            row = counts.setdefault(p.category, [0, 0, 0, 0])
            row[1] += 1
            row[0] += any(_overlaps(p, label) for label in draft.labels)
        for label in draft.labels:
            row = counts.setdefault(label.category, [0, 0, 0, 0])
            row[3] += 1
            row[2] += any(_overlaps(p, label) for p in preds)
        clean_flagged += draft.clean and bool(preds)
        items.append({
            "id": draft.id,
            "clean": draft.clean,
            "false_positives": [{"category": p.category, "start": p.start, "end": p.end, "span": draft.text[p.start:p.end]}
                                for p in preds if not any(_overlaps(p, label) for label in draft.labels)],
            "misses": [{"category": label.category, "span": label.span}
                       for label in draft.labels if not any(_overlaps(p, label) for p in preds)],
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
