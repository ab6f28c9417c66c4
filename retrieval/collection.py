"""One searchable collection (regulation chunks, or cases): ids in level order, a dense index and BM25.

A collection lives in its own folder inside an index version and is written once, never modified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from comply.levels import LEVELS
from retrieval.dense import DenseIndex, build_dense, load_dense


@dataclass
class Collection:
    """Rows sorted by level; ``bounds[L]`` is the number of rows a caller with clearance L may see."""

    ids: list[str]
    bounds: list[int]
    dense: DenseIndex
    bm25: bm25s.BM25 | None

    def visible(self, clearance: int) -> int:
        """How many leading rows a caller with this clearance may search."""
        return self.bounds[min(clearance, len(self.bounds) - 1)] if clearance >= 0 else 0

    def dense_search(self, query_vec: np.ndarray, k: int, clearance: int) -> list[tuple[int, float]]:
        """Top-k rows by cosine similarity among the rows visible at this clearance."""
        limit = self.visible(clearance)
        scores, rows = self.dense.search(query_vec.reshape(1, -1), k, limit)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if 0 <= r < limit]

    def bm25_search(self, tokens: list[str], k: int, clearance: int) -> list[tuple[int, float]]:
        """Top-k rows by BM25 among the rows visible at this clearance (others are never ranked)."""
        limit = self.visible(clearance)
        if self.bm25 is None or limit == 0 or not tokens:
            return []
        ids = self.bm25.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = self.bm25.get_scores(ids)[:limit]
        k = min(k, limit)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]


def order_by_level(levels: list[int]) -> tuple[list[int], list[int]]:
    """Return a stable row order sorted by level, and the cumulative bounds per level (0..max)."""
    order = sorted(range(len(levels)), key=lambda i: levels[i])
    bounds = [sum(1 for lv in levels if lv <= level) for level in range(len(LEVELS))]
    return order, bounds


def write_collection(
    folder: Path, ids: list[str], levels: list[int], vectors: np.ndarray, token_lists: list[list[str]], ann_threshold: int
) -> dict:
    """Write a collection sorted by level; returns its description for the version manifest."""
    folder.mkdir(parents=True)
    order, bounds = order_by_level(levels)
    ids = [ids[i] for i in order]
    vectors = np.ascontiguousarray(vectors[order], dtype=np.float32) if len(order) else vectors
    dense = build_dense(vectors, ann_threshold)
    dense.save(folder / "dense.faiss")
    if ids:
        bm25 = bm25s.BM25()
        bm25.index([token_lists[i] or ["∅"] for i in order], show_progress=False)
        bm25.save(str(folder / "bm25"), show_progress=False)
    meta = {"ids": ids, "bounds": bounds, "dense_kind": dense.kind, "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0}
    (folder / "collection.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return {"rows": len(ids), "bounds": bounds, "dense_kind": dense.kind}


def read_collection(folder: Path) -> Collection:
    """Load a collection written by :func:`write_collection`."""
    meta = json.loads((folder / "collection.json").read_text(encoding="utf-8"))
    bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if meta["ids"] else None
    return Collection(meta["ids"], meta["bounds"], load_dense(folder / "dense.faiss", meta["bounds"]), bm25)
