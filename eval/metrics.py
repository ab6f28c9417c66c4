"""Ranking metrics over binary relevance: hit@k, reciprocal rank, nDCG@k."""

from __future__ import annotations

import math


def hit_at(relevant_flags: list[bool], k: int) -> float:
    """1.0 when any of the first k results is relevant."""
    return 1.0 if any(relevant_flags[:k]) else 0.0


def reciprocal_rank(relevant_flags: list[bool]) -> float:
    """1/rank of the first relevant result (0 when none is)."""
    return next((1.0 / i for i, rel in enumerate(relevant_flags, start=1) if rel), 0.0)


def ndcg_at(relevant_flags: list[bool], k: int, n_relevant: int) -> float:
    """Normalised discounted cumulative gain at k with binary gains."""
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevant_flags[:k], start=1) if rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, n_relevant) + 1))
    return dcg / ideal if ideal else 0.0
