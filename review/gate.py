"""The gate on model findings: a model finding no other stage supports is a 待复核提示 (hint), never a finding.

A model finding counts only when a rule finding of its category overlaps it (it then merges into that
finding) or, for a model whose calibration opened the gate, when its sentence is close to a clause its
category rests on (cosine similarity at or above the calibrated threshold) in a marketing genre. Everything
else is a :class:`Hint`: shown apart, with its calibrated confidence, counted in no verdict and rewritten by
nobody. Calibrations are measured per backend and model on labelled development data (``comply gate calibrate``);
a model without one, or whose calibration was measured with other rules or another embedding model, has the gate shut.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from review.findings import ClauseRef

MIN_PROMOTED = 10  # model-only findings a threshold must keep on the calibration data before it opens the gate
Z = 1.645  # one-sided 95%: the gate opens only where the lower confidence bound of precision reaches the target


def gate_key(kind: str, model: str) -> str:
    """The name a calibration is stored under: the serving protocol and the model (``llama.cpp:qwen2.5-coder-1.5b``)."""
    return f"{kind}:{model}"


def wilson_lower(confirmed: int, found: int, z: float = Z) -> float:
    """The Wilson score lower bound of a proportion ``confirmed / found`` (0 when nothing was found)."""
    if not found:
        return 0.0
    p = confirmed / found
    centre = p + z * z / (2 * found)
    margin = z * math.sqrt(p * (1 - p) / found + z * z / (4 * found * found))
    return (centre - margin) / (1 + z * z / found)


@dataclass(frozen=True)
class CategoryRecord:
    """Model-only findings of one category on the calibration data, and how many a label confirmed."""

    found: int = 0
    confirmed: int = 0

    @property
    def confidence(self) -> float:
        """The share confirmed, smoothed towards one half (Laplace), so that few observations claim little."""
        return (self.confirmed + 1) / (self.found + 2)


@dataclass(frozen=True)
class Calibration:
    """One model's gate, as measured on labelled development data with one rules file and one embedding model."""

    model: str  # the key: gate_key(kind, model name)
    clause_threshold: float | None
    precision_at_threshold: float | None
    target_precision: float
    categories: dict[str, CategoryRecord]  # model-only findings that stay hints under the threshold
    dataset: str
    dataset_sha256: str
    drafts: int
    created: str
    rules_sha256: str = ""
    embed_model: str = ""
    draft_ids: tuple[str, ...] = ()

    def confidence(self, category: str) -> float:
        """Calibrated confidence of a model-only finding of ``category`` that stays a hint; a category never seen in
        calibration gets the pooled rate of all categories."""
        if category in self.categories:
            return self.categories[category].confidence
        return CategoryRecord(sum(r.found for r in self.categories.values()),
                              sum(r.confirmed for r in self.categories.values())).confidence

    def stale(self, rules_sha256: str, embed_model: str) -> bool:
        """Whether it was measured with other rules or another embedding model (which findings are model-only, and
        what a similarity means, would differ): such a calibration keeps the gate shut."""
        return self.rules_sha256 != rules_sha256 or self.embed_model != embed_model

    def as_json(self) -> dict:
        """The stored form."""
        return {**asdict(self), "categories": {c: asdict(r) for c, r in self.categories.items()}, "draft_ids": list(self.draft_ids)}

    @classmethod
    def from_json(cls, obj: dict) -> Calibration:
        """Read the stored form.

        Raises:
            KeyError, TypeError, ValueError: on a malformed entry.
        """
        categories = {str(c): CategoryRecord(int(r["found"]), int(r["confirmed"])) for c, r in obj["categories"].items()}
        threshold = obj["clause_threshold"]
        precision = obj["precision_at_threshold"]
        return cls(str(obj["model"]), None if threshold is None else float(threshold), None if precision is None else float(precision),
                   float(obj["target_precision"]), categories, str(obj["dataset"]), str(obj["dataset_sha256"]),
                   int(obj["drafts"]), str(obj["created"]), str(obj.get("rules_sha256", "")), str(obj.get("embed_model", "")),
                   tuple(str(i) for i in obj.get("draft_ids", ())))


@dataclass(frozen=True)
class Hint:
    """A model finding no other stage supports: shown for review, never counted, never rewritten."""

    span: str
    start: int
    end: int
    category: str
    explanation: str
    suggestion: str
    similarity: float
    confidence: float | None
    why: str
    citations: list[ClauseRef] = field(default_factory=list)

    def as_json(self) -> dict:
        """The public hint shape of ``comply review --json``."""
        return {"span": self.span, "start": self.start, "end": self.end, "category": self.category,
                "explanation": self.explanation, "suggestion": self.suggestion, "similarity": round(self.similarity, 3),
                "confidence": None if self.confidence is None else round(self.confidence, 3), "why": self.why,
                "citations": [c.as_json() for c in self.citations]}


def promotes(calibration: Calibration | None, similarity: float, marketing: bool) -> bool:
    """Whether a model-only finding whose sentence is ``similarity`` from its category's clauses counts as a finding."""
    return (marketing and calibration is not None and calibration.clause_threshold is not None
            and similarity >= calibration.clause_threshold)


def why_hint(calibration: Calibration | None, similarity: float, genre_name: str | None, marketing: bool) -> str:
    """Why a model-only finding stays a hint, in the reviewer's words (``genre_name`` None: the genre is unknown)."""
    if calibration is None:
        return "仅大模型提出，规则未命中；该模型尚未校准（或校准已失效），其单独提出的问题只作提示"
    if genre_name is None:
        return "仅大模型提出，规则未命中；未能识别体裁，模型单独提出的问题只作提示"
    if not marketing:
        return f"仅大模型提出，规则未命中；{genre_name}不是营销宣传，模型单独提出的问题只作提示"
    if calibration.clause_threshold is None:
        return "仅大模型提出，规则未命中；校准显示该模型单独提出的问题准确率不足，只作提示"
    return f"仅大模型提出，规则未命中；与该类依据条款的相似度 {similarity:.2f} 低于校准门槛 {calibration.clause_threshold:.2f}"


def choose_threshold(candidates: list[tuple[float, bool]], target: float, minimum: int = MIN_PROMOTED) -> tuple[float | None, float | None]:
    """The lowest similarity at which the model-only findings at or above it are right at least ``target`` of the
    time with 95% confidence (the Wilson lower bound of their precision reaches ``target``), keeping at least
    ``minimum`` of them; ``(None, None)`` when no threshold qualifies (the gate stays shut).

    ``candidates`` are (similarity, confirmed by a label) pairs. Returns the threshold and the precision observed there.
    """
    ranked = sorted(candidates, key=lambda c: -c[0])
    best: tuple[float | None, float | None] = (None, None)
    confirmed = 0
    for n, (similarity, ok) in enumerate(ranked, start=1):
        confirmed += ok
        last_of_tie = n == len(ranked) or ranked[n][0] < similarity
        if last_of_tie and n >= minimum and wilson_lower(confirmed, n) >= target:
            best = (similarity, confirmed / n)
    return best


def load_calibrations(*files: Path) -> dict[str, Calibration]:
    """Calibrations by model name; a later file's entry replaces an earlier one's. Missing files are skipped.

    Raises:
        ValueError: naming the file, when one is not a valid calibration file.
    """
    out: dict[str, Calibration] = {}
    for path in files:
        if not path.is_file():
            continue
        try:
            models = json.loads(path.read_text(encoding="utf-8"))["models"]
            out.update({name: Calibration.from_json(obj) for name, obj in models.items()})
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"大模型门槛校准文件 {path} 格式无效：{exc}") from exc
    return out


def save_calibration(path: Path, calibration: Calibration) -> None:
    """Add or replace one model's calibration in ``path``, written atomically."""
    models = {}
    if path.is_file():
        models = {name: obj for name, obj in json.loads(path.read_text(encoding="utf-8")).get("models", {}).items()}
    models[calibration.model] = calibration.as_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": models}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
