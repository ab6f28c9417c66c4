"""Timing helpers of the bench: one call timed, a stage's wall time and peak RSS, latency percentiles, the machine."""

from __future__ import annotations

import platform
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from eval.stats import PERCENTILES, percentile

CLEARANCE = 2  # clearance of every timed search and review
TOP_K = 5  # results per timed search

P = ParamSpec("P")
T = TypeVar("T")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def latency_stats(seconds: Sequence[float]) -> dict:
    """n and p50/p95/p99/mean in milliseconds over a list of timings in seconds."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), **{f"p{q}_ms": round(percentile(ms, q), 3) for q in PERCENTILES}, "mean_ms": round(statistics.fmean(ms), 3)}


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    """Call ``fn(*args, **kwargs)`` once; return (seconds, result)."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


@contextmanager
def stage(report: dict, name: str) -> Iterator[None]:
    """Record a stage's wall time and the process's peak RSS after it (RSS peaks are monotonic) under ``stages``."""
    start = time.perf_counter()
    yield
    report.setdefault("stages", {})[name] = {"wall_s": round(time.perf_counter() - start, 3), "peak_rss_mb_after": peak_rss_mb()}


def machine() -> dict:
    """CPU model and cores, RAM, Python, torch and faiss versions, and the GPU (or that none was measured)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    import faiss
    import torch

    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": models[0].strip() if models else platform.processor() or "unknown",
        "cores": len(models) or None,
        "ram_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "faiss_gpus": gpus,
        "gpu": gpu or ("faiss GPU" if gpus else "GPU 未测量 (no GPU on this machine)"),
    }
