"""Calibrating the gate on model findings for one model, on labelled development drafts (never an evaluation set).

The model reviews each draft with the gate shut, so every finding it alone raises comes back as a hint with
its similarity to its category's clauses. A label of the same category overlapping it confirms it. From
these the calibration keeps the lowest similarity at which model-only findings in marketing genres were right
at least ``gate_precision`` of the time with 95% confidence (the threshold that opens the gate; none when no
threshold reaches it), and, per category, how many of those the gate would still leave as hints were found and
confirmed (the hints' confidence). It is stored under the serving protocol and model, with the rules file's
hash and the embedding model it was measured with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from comply.config import PROJECT_ROOT
from comply.text import normalise_text
from eval.review import Draft, overlaps
from review.gate import Calibration, CategoryRecord, choose_threshold, gate_key
from review.genre import AUTO
from review.pipeline import Reviewer
from review.stages import MODEL, RAN


class CalibrationError(ValueError):
    """The calibration cannot be run as asked; the message says why."""


def check_dataset(path: Path, drafts: list[Draft], evaluation: list[Path]) -> None:
    """Refuse a dataset inside an evaluation folder (or that is an evaluation file), or one sharing a draft with an
    evaluation set (compared by normalised text, so a copy is caught): a gate calibrated on it would make those
    scores meaningless. ``evaluation`` holds folders (every JSONL below them) and files.

    Raises:
        CalibrationError: naming the folder or the shared drafts.
    """
    resolved = path.resolve()
    for place in evaluation:
        if resolved.is_relative_to(place.resolve()):
            raise CalibrationError(f"{path} 是评测数据（{place}）：门槛只能用开发用的标注数据校准，不能用评测集")
    files = [f for place in evaluation for f in ([place] if place.is_file() else sorted(place.rglob("*.jsonl")))]
    held = {normalise_text(str(obj.get("text", ""))) for f in files for obj in _objects(f)}
    shared = [d.id for d in drafts if d.text in held]
    if shared:
        raise CalibrationError(f"{path} 中有 {len(shared)} 篇与评测集相同（{'、'.join(shared[:5])}）：门槛不能用评测集校准")


def _objects(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file (other lines are skipped: only texts are compared)."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def spread(drafts: list[Draft], sample: int) -> list[Draft]:
    """``sample`` drafts spread evenly over the dataset (all of them when ``sample`` is 0 or not smaller)."""
    if sample <= 0 or sample >= len(drafts):
        return drafts
    step = len(drafts) / sample
    return [drafts[int(i * step)] for i in range(sample)]


def _shown(path: Path) -> str:
    """The dataset's path as stored: relative to the project when inside it (a shipped calibration names no machine)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) else str(path)


def calibrate(reviewer: Reviewer, dataset: Path, drafts: list[Draft], target: float,
              progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Measure the reviewer's model on ``drafts`` (read from ``dataset``) and return its calibration.

    Only drafts on which the model stage ran count. The confidence per category is measured on the findings that
    stay hints under the chosen threshold (those the gate would not count).

    Raises:
        CalibrationError: the reviewer has no model, or the model ran on none of the drafts.
    """
    client = reviewer.client
    if client is None:
        raise CalibrationError(f"没有可用的大模型，无法校准（{reviewer.no_llm_reason}）")
    reviewer.calibration = None  # the gate shut: every model-only finding comes back as a hint
    seen: list[tuple[str, float, bool, bool]] = []  # category, similarity, marketing genre, confirmed by a label
    measured: list[str] = []
    for n, draft in enumerate(drafts, start=1):
        report = reviewer.review(draft.text, rewrite=False, audit=False, genre=draft.genre if draft.genre in reviewer.genres else AUTO)
        if any(s.name == MODEL and s.code == RAN for s in report.stages):
            measured.append(draft.id)
            marketing = report.genre is not None and report.genre.marketing
            seen += [(h.category, h.similarity, marketing, any(overlaps(h, label) for label in draft.labels)) for h in report.hints]
        if progress:
            progress(n, len(drafts))
    if not measured:
        raise CalibrationError("大模型在所有样本上都未能运行（或规则已覆盖每一句），无法校准")
    threshold, precision = choose_threshold([(sim, ok) for _, sim, marketing, ok in seen if marketing], target)
    found: dict[str, list[int]] = {}
    for category, sim, marketing, ok in seen:
        if marketing and threshold is not None and sim >= threshold:
            continue  # the gate would count it: not a hint
        counts = found.setdefault(category, [0, 0])
        counts[0] += 1
        counts[1] += ok
    return Calibration(
        model=gate_key(client.kind, client.model), clause_threshold=threshold, precision_at_threshold=precision,
        target_precision=target, categories={c: CategoryRecord(n, ok) for c, (n, ok) in sorted(found.items())},
        dataset=_shown(dataset), dataset_sha256=hashlib.sha256(Path(dataset).read_bytes()).hexdigest(), drafts=len(measured),
        created=datetime.now(UTC).isoformat(timespec="seconds"), rules_sha256=reviewer.rules_sha256,
        embed_model=reviewer.embed_model, draft_ids=tuple(measured),
    )


def describe(calibration: Calibration, names: dict[str, str]) -> str:
    """The calibration as people read it."""
    c = calibration
    gate = (f"相似度 ≥ {c.clause_threshold:.3f} 时计入结论（校准集上准确率 {c.precision_at_threshold:.2f}）"
            if c.clause_threshold is not None
            else f"关闭（没有哪个门槛能让模型单独提出的问题以 95% 置信度达到准确率 {c.target_precision:.2f}）")
    lines = [f"模型：{c.model}（规则 sha256 {c.rules_sha256[:12]}…，向量模型 {c.embed_model}）",
             f"校准数据：{c.dataset}（模型运行 {c.drafts} 篇，sha256 {c.dataset_sha256[:12]}…，{c.created}）",
             f"门槛：{gate}", "仍为提示的各类别（模型单独提出 / 被标注证实 / 校准置信度）："]
    lines += [f"  {names.get(cat, cat)}：{r.found} / {r.confirmed} / {r.confidence:.2f}" for cat, r in c.categories.items()]
    return "\n".join(lines)
