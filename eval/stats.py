"""Summary statistics of per-call timings: percentiles (``numpy.percentile``) and the latency summary of a report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``, interpolated linearly between closest ranks (numpy's default).

    Raises:
        ValueError: ``values`` is empty.
    """
    if not len(values):
        raise ValueError("percentile of an empty list")
    return float(np.percentile(values, q))


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99, mean and max of per-call latencies given in seconds, in milliseconds (empty when none)."""
    if not latencies_s:
        return {}
    ms = [v * 1000 for v in latencies_s]
    out = {f"p{q}": round(percentile(ms, q), 3) for q in PERCENTILES}
    return {**out, "mean": round(statistics.fmean(ms), 3), "max": round(max(ms), 3)}


def latency_series(metrics: dict) -> dict[str, list[float]]:
    """Per-call latencies in seconds by series: one per retrieval mode, or one (“全部”) for suites timing every call."""
    series = {mode: r["latencies_s"] for mode, r in (metrics.get("modes") or {}).items()
              if isinstance(r, dict) and r.get("latencies_s")}
    if metrics.get("latencies_s"):
        series["全部"] = metrics["latencies_s"]
    return series
