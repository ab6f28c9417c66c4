"""Dense vector search behind one small interface, with FAISS CPU (exact or HNSW) and FAISS GPU backends.

Rows are stored sorted by security level, so a caller's clearance is a row-id prefix: every backend
searches only rows ``< limit`` and never scores anything beyond it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

HNSW_M = 32
HNSW_EF_SEARCH = 128


class DenseIndex(Protocol):
    """Inner-product search over unit vectors, restricted to the first ``limit`` rows."""

    kind: str

    def search(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, row ids) of shape (n_queries, k); missing results have id -1."""
        ...

    def score_rows(self, query: np.ndarray, rows: list[int]) -> np.ndarray:
        """Inner products of one query with the given rows."""
        ...

    def save(self, path: Path) -> None:
        """Write the index to a file."""
        ...


def gpu_available() -> bool:
    """True when this faiss build sees at least one GPU."""
    return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0


class CpuIndex:
    """FAISS on the CPU: IndexFlatIP (exact) or IndexHNSWFlat (approximate), filtered by IDSelectorRange."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self.kind = "cpu-hnsw" if isinstance(index, faiss.IndexHNSW) else "cpu-flat"

    @classmethod
    def build(cls, vectors: np.ndarray, approximate: bool) -> "CpuIndex":
        """Build an exact index, or HNSW when ``approximate``."""
        dim = vectors.shape[1]
        if approximate:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        else:
            index = faiss.IndexFlatIP(dim)
        if len(vectors):
            index.add(vectors)
        return cls(index)

    def search(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Search rows [0, limit) only."""
        n = len(queries)
        if limit <= 0 or k <= 0:
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        k = min(k, limit)
        selector = faiss.IDSelectorRange(0, limit)
        if isinstance(self.index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
        else:
            params = faiss.SearchParameters(sel=selector)
        return self.index.search(queries, k, params=params)

    def score_rows(self, query: np.ndarray, rows: list[int]) -> np.ndarray:
        """Inner products of one query with the stored vectors of the given rows."""
        if not rows:
            return np.zeros(0, np.float32)
        vectors = self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        return vectors @ query.reshape(-1)

    def save(self, path: Path) -> None:
        """Write with faiss.write_index."""
        faiss.write_index(self.index, str(path))


class GpuIndex:
    """FAISS on the GPU: one exact GPU index per clearance prefix (GPU indexes take no ID selector)."""

    def __init__(self, cpu: CpuIndex, vectors: np.ndarray, bounds: list[int]) -> None:
        self.cpu = cpu
        self.kind = "gpu-flat"
        self._res = faiss.StandardGpuResources()
        self._by_limit: dict[int, faiss.Index] = {}
        for limit in sorted(set(b for b in bounds if b > 0)):
            flat = faiss.IndexFlatIP(vectors.shape[1])
            flat.add(vectors[:limit])
            self._by_limit[limit] = faiss.index_cpu_to_gpu(self._res, 0, flat)

    def search(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Search the prefix index for ``limit`` (exact on the GPU); other limits fall back to the CPU."""
        index = self._by_limit.get(limit)
        if index is None:
            return self.cpu.search(queries, k, limit)
        return index.search(queries, min(k, limit))

    def score_rows(self, query: np.ndarray, rows: list[int]) -> np.ndarray:
        """Scored from the CPU copy (a handful of rows)."""
        return self.cpu.score_rows(query, rows)

    def save(self, path: Path) -> None:
        """The CPU copy is what is persisted."""
        self.cpu.save(path)


def build_dense(vectors: np.ndarray, ann_threshold: int) -> CpuIndex:
    """Build the persisted (CPU) index: exact below ``ann_threshold`` rows, HNSW above."""
    return CpuIndex.build(vectors, approximate=len(vectors) > ann_threshold)


def load_dense(path: Path, bounds: list[int], use_gpu: bool | None = None) -> DenseIndex:
    """Load a persisted index; move it to the GPU when one is present (or when ``use_gpu``)."""
    cpu = CpuIndex(faiss.read_index(str(path)))
    if use_gpu is None:
        use_gpu = gpu_available()
    if use_gpu and cpu.index.ntotal and cpu.kind == "cpu-flat":
        vectors = cpu.index.reconstruct_n(0, cpu.index.ntotal)
        return GpuIndex(cpu, vectors, bounds)
    return cpu
