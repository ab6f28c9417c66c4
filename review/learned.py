"""The learned detection stage: a multi-label classifier over a draft's sentences, trained from the review library.

Each sentence is scored for the taxonomy's categories by one logistic regression per category over two views of
the sentence: character 1–3-gram TF-IDF (the wording) and the sentence embedding (the meaning). A sentence whose
probability reaches its category's threshold (chosen by cross-validation grouped by draft, see
:mod:`review.training`) becomes a finding with ``source = "model"``, its score, and the nearest labelled examples
of that category as evidence. The artefact is a folder of plain arrays and JSON (no pickled code), versioned under
``<data>/review_models/`` with ``current.json`` naming the one in use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer

from review.examples import Example
from review.sections import sentence_spans

MODEL_SOURCE = "model"
CURRENT = "current.json"
NGRAMS = (1, 3)
MAX_UNIT_CHARS = 300  # a longer sentence is cut at clause ends so that a finding points at a readable passage
EVIDENCE_K = 3
NO_EVIDENCE = frozenset({"personal_info"})
EXAMPLE_CHARS = 80  # an example in the model stage's prompt is cut to this length (every prompt token costs time on a CPU)

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Scored:
    """One sentence the classifier puts in ``category`` at ``score`` (calibrated probability), with its evidence."""

    start: int
    end: int
    category: str
    score: float
    evidence: tuple[Example, ...]


def units(text: str) -> list[tuple[int, int]]:
    """The passages the classifier scores: sentences, a sentence over :data:`MAX_UNIT_CHARS` cut at clause ends."""
    out: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if b - a <= MAX_UNIT_CHARS:
            out.append((a, b))
            continue
        start = a
        for i in range(a, b):
            if text[i] in "，,、：:" and i + 1 - start >= 40:
                out.append((start, i + 1))
                start = i + 1
        if start < b:
            out.append((start, b))
    return out


def tfidf(vocabulary: dict[str, int], idf: np.ndarray) -> TfidfVectorizer:
    """The character n-gram TF-IDF view with a fixed vocabulary and IDF (as trained)."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, sublinear_tf=True, vocabulary=vocabulary)
    vec.idf_ = idf
    return vec


def features(vec: TfidfVectorizer, texts: list[str], vectors: np.ndarray) -> csr_matrix:
    """The classifier's input: TF-IDF columns, then the embedding columns."""
    return hstack([vec.transform(texts), csr_matrix(vectors)]).tocsr()


def calibrate(raw: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Calibrated probabilities: the isotonic map fitted on cross-validated scores, interpolated."""
    return np.interp(raw, xs, ys) if len(xs) else raw


@dataclass
class LearnedModel:
    """A trained classifier loaded from its folder (see :func:`load_model`)."""

    version: str
    folder: Path
    meta: dict
    categories: list[str]
    vec: TfidfVectorizer
    coef: csr_matrix | np.ndarray
    intercept: np.ndarray
    thresholds: np.ndarray
    iso: list[tuple[np.ndarray, np.ndarray]]
    example_vectors: np.ndarray
    examples: list[dict]

    @property
    def embed_key(self) -> str:
        """The embedding model (name@runtime) whose vectors the classifier was trained on."""
        return str(self.meta["embed_key"])

    def probabilities(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """The classifiers' probabilities (what the thresholds apply to), one row per text, one column per category."""
        raw = np.asarray(features(self.vec, texts, vectors) @ self.coef.T) + self.intercept
        return 1.0 / (1.0 + np.exp(-raw))

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities mapped through each category's isotonic calibration (the score shown with a finding)."""
        return np.column_stack([calibrate(probabilities[:, j], *self.iso[j]) for j in range(len(self.categories))])

    def evidence(self, vector: np.ndarray, category: str, max_level: int, k: int = EVIDENCE_K) -> tuple[Example, ...]:
        """The ``k`` labelled sentences of ``category`` nearest to ``vector``, from drafts at or below ``max_level``; none
        for :data:`NO_EVIDENCE` categories (a client's name or number in a reviewer's draft is not shown to others)."""
        rows = [i for i, e in enumerate(self.examples) if e["category"] == category and e["level"] <= max_level]
        if not rows or category in NO_EVIDENCE:
            return ()
        sims = self.example_vectors[rows] @ vector
        best = np.argsort(-sims)[:k]
        return tuple(Example(self.examples[rows[i]]["text"], category, self.examples[rows[i]]["draft_id"], float(sims[i])) for i in best)

    def neighbours(self, vectors: np.ndarray, max_level: int, k: int) -> tuple[Example, ...]:
        """The ``k`` labelled sentences (any category, from drafts at or below ``max_level``) closest to any of ``vectors``."""
        rows = [i for i, e in enumerate(self.examples) if e["level"] <= max_level and e["category"] not in NO_EVIDENCE]
        if not rows or not len(vectors) or k <= 0:
            return ()
        sims = (self.example_vectors[rows] @ np.asarray(vectors).T).max(axis=1)
        out: dict[str, Example] = {}
        for i in np.argsort(-sims):
            e = self.examples[rows[i]]
            out.setdefault(e["text"], Example(e["text"][:EXAMPLE_CHARS], e["category"], e["draft_id"], float(sims[i])))
            if len(out) == k:
                break
        return tuple(out.values())

    def classify(self, text: str, embed: Embed, max_level: int) -> list[Scored]:
        """The passages of ``text`` at or above their category's threshold, with evidence visible at ``max_level``."""
        spans = units(text)
        if not spans:
            return []
        texts = [text[a:b] for a, b in spans]
        vectors = embed(texts)
        probabilities = self.probabilities(texts, vectors)
        scores = self.calibrated(probabilities)
        out = []
        for (a, b), vector, row, score in zip(spans, vectors, probabilities, scores):
            for j, category in enumerate(self.categories):
                if row[j] >= self.thresholds[j]:
                    out.append(Scored(a, b, category, float(score[j]), self.evidence(vector, category, max_level)))
        return out


def load_model(root: Path, version: str | None = None) -> LearnedModel | None:
    """The model named by ``root/current.json`` (or ``version``); ``None`` when none was trained.

    Raises:
        ValueError: in Chinese, when the named model folder is missing or unreadable.
    """
    if version is None:
        pointer = root / CURRENT
        if not pointer.exists():
            return None
        try:
            version = str(json.loads(pointer.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"审核学习模型指针文件 {pointer} 无法读取：{exc}") from exc
    folder = root / version
    try:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        with np.load(folder / "weights.npz") as npz:
            arrays = dict(npz)
        examples = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
        vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        categories = [str(c) for c in meta["categories"]]
        iso = [(arrays[f"iso_x_{j}"], arrays[f"iso_y_{j}"]) for j in range(len(categories))]
        model = LearnedModel(version, folder, meta, categories, tfidf(vocabulary, arrays["idf"]), arrays["coef"],
                             arrays["intercept"], arrays["thresholds"], iso, arrays["example_vectors"], examples)
        _check_shapes(model, len(vocabulary))
        return model
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the files (bad zip, JSON of the wrong shape), it is unreadable
        raise ValueError(f"审核学习模型 {folder} 无法读取：{exc}；请重新运行 comply review train") from exc


def _check_shapes(model: LearnedModel, vocabulary: int) -> None:
    """Raise ValueError when the arrays do not fit each other (a mismatch would otherwise fail mid-review)."""
    n = len(model.categories)
    width = model.coef.shape[1] - vocabulary
    if model.coef.shape[0] != n or width <= 0 or model.intercept.shape != (n,) or model.thresholds.shape != (n,) \
            or model.example_vectors.shape[1:] != (width,) or len(model.examples) != len(model.example_vectors):
        raise ValueError("模型文件的数组尺寸不一致")

