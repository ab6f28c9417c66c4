"""Training the learned review stage (``comply review train``) from the review library.

Every library draft is cut into the passages the classifier scores (:func:`review.learned.units`); a passage is a
positive of a category when a positive label of that category overlaps it. A reviewer's dismissal makes the
passage a negative of its category with extra weight, so each decision moves the next model. Scores are calibrated
(isotonic) and each category's threshold chosen on out-of-fold scores of a cross-validation grouped by draft (a
draft's passages never sit on both sides of a split), as the lowest score at which the passages flagged reach
``target_precision`` (on the raw probability: the isotonic map has ties that would blur it); a category that never reaches it is switched off. Evaluation sets are never read here: only
what is in the library.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from comply import audit
from comply.config import Settings
from comply.db import transaction
from retrieval.embedding import embedder_for
from review.learned import CURRENT, NGRAMS, Embed, features, load_model, units
from review.library import LibraryDraft, drafts, library_sha256
from review.taxonomy import load_taxonomy

DISMISSED_WEIGHT = 3.0
Doubt = Callable[[str, int, int], bool]  # whether the merge policy drops a finding on text[start:end] (see review.merge)
OFF = 1.01  # the threshold of a category the model may not flag (no score reaches it)


@dataclass(frozen=True)
class TrainSettings:
    """What a training run is configured with (recorded in the model and the audit row)."""

    c: float = 4.0
    folds: int = 5
    target_precision: float = 0.9
    min_df: int = 2
    min_positives: int = 8
    seed: int = 42


@dataclass
class Passages:
    """The library cut into scored passages: text, labels (0/1 per category), weights, draft (group) and level."""

    texts: list[str]
    y: np.ndarray
    weight: np.ndarray
    groups: np.ndarray
    levels: list[int]
    draft_ids: list[str]
    doubted: np.ndarray  # passages the merge policy drops whatever their score (quotations, disclaimers)


def passages(drafts: Sequence[LibraryDraft], categories: Sequence[str], doubt: Doubt | None = None) -> Passages:
    """Cut every draft into passages labelled per category (see the module docstring)."""
    texts, ys, ws, groups, levels, ids, doubted = [], [], [], [], [], [], []
    for g, draft in enumerate(drafts):
        for a, b in units(draft.text):
            y, w = [], []
            for c in categories:
                hit = [lab for lab in draft.labels if lab.category == c and lab.start < b and a < lab.end]
                dismissed = {(lab.start, lab.end) for lab in hit if lab.polarity < 0}
                positive = any(lab.polarity > 0 and (lab.start, lab.end) not in dismissed for lab in hit)
                y.append(int(positive))
                w.append(DISMISSED_WEIGHT if dismissed and not positive else 1.0)
            texts.append(draft.text[a:b])
            ys.append(y)
            ws.append(w)
            groups.append(g)
            levels.append(draft.level)
            ids.append(draft.id)
            doubted.append(doubt is not None and doubt(draft.text, a, b))
    return Passages(texts, np.array(ys, dtype=np.int8).reshape(-1, len(categories)), np.array(ws, dtype=np.float32).reshape(-1, len(categories)),
                    np.array(groups), levels, ids, np.array(doubted, dtype=bool))


def _fit(x, y: np.ndarray, w: np.ndarray, s: TrainSettings) -> LogisticRegression | None:
    if y.sum() < 2 or y.sum() == len(y):
        return None
    return LogisticRegression(C=s.c, class_weight="balanced", max_iter=3000, random_state=s.seed).fit(x, y, sample_weight=w)


def _vectorizer(texts: list[str], s: TrainSettings) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, min_df=s.min_df, sublinear_tf=True).fit(texts)


def out_of_fold(p: Passages, vectors: np.ndarray, s: TrainSettings) -> np.ndarray:
    """Out-of-fold probabilities, one column per category, from folds grouped by draft."""
    out = np.zeros(p.y.shape, dtype=np.float64)
    texts = np.array(p.texts, dtype=object)
    folds = min(s.folds, len(set(p.groups.tolist())))
    for train, test in GroupKFold(folds).split(vectors, p.y, p.groups):
        vec = _vectorizer(list(texts[train]), s)
        x_train, x_test = features(vec, list(texts[train]), vectors[train]), features(vec, list(texts[test]), vectors[test])
        for j in range(p.y.shape[1]):
            model = _fit(x_train, p.y[train, j], p.weight[train, j], s)
            if model is not None:
                out[test, j] = model.predict_proba(x_test)[:, 1]
    return out


def _threshold(score: np.ndarray, y: np.ndarray, target: float, min_positives: int) -> float:
    """The lowest out-of-fold probability at which the passages flagged reach ``target`` precision (:data:`OFF` if none)."""
    if y.sum() < min_positives:
        return OFF
    for t in np.round(np.arange(0.2, 1.0, 0.01), 2):
        flagged = score >= t
        if flagged.sum() and (flagged & (y == 1)).sum() / flagged.sum() >= target:
            return float(t)
    return OFF


def _scores_at(score: np.ndarray, y: np.ndarray, t: float) -> dict:
    flagged = score >= t
    tp = int((flagged & (y == 1)).sum())
    p = tp / flagged.sum() if flagged.sum() else 0.0
    r = tp / y.sum() if y.sum() else 0.0
    return {"threshold": t, "precision": round(float(p), 3), "recall": round(float(r), 3),
            "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0, "positives": int(y.sum())}


@dataclass
class Trained:
    """A trained model before it is written: arrays, vocabulary, examples and metadata."""

    arrays: dict[str, np.ndarray]
    vocabulary: dict[str, int]
    examples: list[dict]
    meta: dict


def train(drafts: Sequence[LibraryDraft], categories: Sequence[str], embed: Embed, embed_key: str, library_sha256: str,
          settings: TrainSettings = TrainSettings(), doubt: Doubt | None = None) -> Trained:
    """Train on the library: cross-validate for calibration and thresholds, then fit on everything.

    Raises:
        ValueError: in Chinese, when the library has too few drafts to cross-validate.
    """
    if len(drafts) < settings.folds * 2:
        raise ValueError(f"审核样本库只有 {len(drafts)} 篇文稿，至少需要 {settings.folds * 2} 篇才能交叉验证；请先 comply review library import")
    p = passages(drafts, categories, doubt)
    vectors = embed(p.texts)
    oof = out_of_fold(p, vectors, settings)
    kept = np.where(p.doubted[:, None], 0.0, oof)  # what the review would show: thresholds and scores are chosen on it
    iso, thresholds, cv = {}, [], {}
    for j, c in enumerate(categories):
        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof[:, j], p.y[:, j])
        iso[f"iso_x_{j}"], iso[f"iso_y_{j}"] = model.X_thresholds_.astype(np.float64), model.y_thresholds_.astype(np.float64)
        thresholds.append(_threshold(kept[:, j], p.y[:, j], settings.target_precision, settings.min_positives))
        cv[c] = _scores_at(kept[:, j], p.y[:, j], thresholds[-1])
    vec = _vectorizer(p.texts, settings)
    x = features(vec, p.texts, vectors)
    coef = np.zeros((len(categories), x.shape[1]), dtype=np.float32)
    intercept = np.full(len(categories), -30.0, dtype=np.float32)  # a category with no model scores 0
    for j in range(len(categories)):
        model = _fit(x, p.y[:, j], p.weight[:, j], settings)
        if model is not None:
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
    positive = np.flatnonzero(p.y.any(axis=1))
    examples = [{"text": p.texts[i], "category": categories[j], "draft_id": p.draft_ids[i], "level": p.levels[i]}
                for i in positive for j in np.flatnonzero(p.y[i])]
    example_rows = [i for i in positive for _ in np.flatnonzero(p.y[i])]
    clean = _clean_flagged(p, kept, thresholds, drafts)
    meta = {
        "categories": list(categories), "embed_key": embed_key, "library_sha256": library_sha256, "settings": asdict(settings),
        "drafts": len(drafts), "passages": len(p.texts), "positives": {c: int(p.y[:, j].sum()) for j, c in enumerate(categories)},
        "cv": cv, "cv_clean_drafts_flagged": clean, "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    arrays = {"idf": vec.idf_.astype(np.float64), "coef": coef, "intercept": intercept, "thresholds": np.array(thresholds, dtype=np.float64),
              "example_vectors": vectors[example_rows].astype(np.float32), **iso}
    return Trained(arrays, {k: int(v) for k, v in vec.vocabulary_.items()}, examples, meta)


def _clean_flagged(p: Passages, oof: np.ndarray, thresholds: list[float], drafts: Sequence[LibraryDraft]) -> dict:
    """How many label-free drafts the out-of-fold model would flag (the clean-draft false-positive rate)."""
    clean = {g for g, d in enumerate(drafts) if not d.positives}
    flagged = set()
    for j, t in enumerate(thresholds):
        flagged |= {int(g) for g in p.groups[oof[:, j] >= t] if int(g) in clean}
    return {"clean": len(clean), "flagged": len(flagged)}


def version_of(trained: Trained) -> str:
    """A model's version: the training time and the first hex digits of the library's hash."""
    stamp = trained.meta["trained_at"].replace("-", "").replace(":", "").replace("+0000", "").replace("T", "-")[:15]
    return f"rm-{stamp}-{trained.meta['library_sha256'][:8]}"


def save(trained: Trained, root: Path) -> str:
    """Write the model to ``root/<version>/`` through a staging folder (a crash leaves nothing half-written); return the version."""
    version = base = version_of(trained)
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while (root / version).exists():  # retrained within the same second: never overwrite a model in use
        n += 1
        version = f"{base}-{n}"
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = root / f".staging-{version}"
    staging.mkdir()
    np.savez(staging / "weights.npz", **trained.arrays)
    (staging / "vocabulary.json").write_text(json.dumps(trained.vocabulary, ensure_ascii=False), encoding="utf-8")
    (staging / "examples.json").write_text(json.dumps(trained.examples, ensure_ascii=False), encoding="utf-8")
    (staging / "model.json").write_text(json.dumps(trained.meta | {"version": version}, ensure_ascii=False, indent=1), encoding="utf-8")
    staging.rename(root / version)
    return version


def activate(root: Path, version: str) -> None:
    """Point ``root/current.json`` at ``version`` atomically (reviewers created from then on load it)."""
    tmp = root / f".{CURRENT}.tmp"
    tmp.write_text(json.dumps({"version": version}), encoding="utf-8")
    os.replace(tmp, root / CURRENT)



@dataclass(frozen=True)
class Outcome:
    """What ``comply review train`` did: the version in use, whether it was trained now, and its metadata."""

    version: str
    trained: bool
    meta: dict


def train_from_library(con: duckdb.DuckDBPyConnection, settings: Settings, user: str, train_settings: TrainSettings = TrainSettings(),
                       if_stale: bool = False, doubt: Doubt | None = None) -> Outcome:
    """Train on the whole library, write the model, audit the run (``review.train``) and make it current.

    With ``if_stale`` nothing is trained when the current model was trained on this very library, with this
    embedding model and these settings.

    Raises:
        ValueError: in Chinese, when the library is too small or the current model cannot be read.
    """
    root = settings.review_models_dir
    library = drafts(con)
    digest = library_sha256(con)
    embedder = embedder_for(settings)
    categories = list(load_taxonomy(settings.taxonomy_file).ids)
    rules_sha = hashlib.sha256(settings.review_rules_file.read_bytes()).hexdigest()  # the merge policy's data
    if if_stale:
        try:
            current = load_model(root)
        except ValueError:
            current = None  # an unreadable model is retrained
        inputs = ("library_sha256", "embed_key", "settings", "categories", "rules_sha256")
        if current is not None and tuple(current.meta.get(k) for k in inputs) == (
                digest, embedder.cache_key, asdict(train_settings), categories, rules_sha):
            return Outcome(current.version, False, current.meta)
    trained = train(library, categories, embedder.encode, embedder.cache_key, digest, train_settings, doubt)
    trained.meta["rules_sha256"] = rules_sha
    version = save(trained, root)
    detail = {"version": version, "library_sha256": digest, "settings": asdict(train_settings), "embed_key": embedder.cache_key,
              "drafts": trained.meta["drafts"], "passages": trained.meta["passages"], "cv": trained.meta["cv"],
              "cv_clean_drafts_flagged": trained.meta["cv_clean_drafts_flagged"]}
    with transaction(con):
        audit.append(con, user, "review.train", version, detail)
    activate(root, version)
    return Outcome(version, True, trained.meta | {"version": version})
