"""Sentence embeddings (m3e-small): ONNX Runtime on the CPU (exported and quantised once per machine) or torch via
sentence-transformers (on CUDA when available), batched by length."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from comply.config import Settings

BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
# Padded tokens per ONNX batch: the exported attention holds batch × heads × length² scores, so 32 texts of 512
# tokens would take over a GiB; 8 of them, or 32 of 128, a quarter of that.
MAX_BATCH_TOKENS = 4096
_lock = threading.Lock()
_warned: set[str] = set()
# Models load from local folders only (``local_files_only``), and progress bars stay off the console.
# HF_HUB_OFFLINE is deliberately not set: huggingface_hub would then block the LLM client's loopback calls.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def pick_device(preference: str = "auto") -> str:
    """Return 'cuda' when asked for or available (with 'auto'), else 'cpu'."""
    if preference != "auto":
        return preference
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _default_cache_dir() -> Path:
    from comply.config import load_settings

    return load_settings().cache_dir


def by_length(lengths: list[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (little padding; a memory error shows early).
    With ``max_tokens``, a batch of long texts holds fewer than ``batch_size`` so that its padded size stays within it."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and (
                max_tokens is None or (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


class Embedder:
    """Encodes texts into L2-normalised float32 vectors.

    ``backend`` is the one asked for: 'onnx' (fp32), 'onnx-int8' (about twice as fast on a CPU, vectors at cosine
    ≥ 0.99 of torch's but rankings slightly moved), 'torch', or 'auto' ('onnx' on a CPU-only machine, torch on
    CUDA). After construction ``self.backend`` is the one serving ('onnx' or 'torch'), and ``self.notice`` says, in
    Chinese, why ONNX was asked for and torch serves (empty otherwise). ``name`` is the model folder's name;
    ``variant`` names the backend more precisely (e.g. 'onnx-fp32-v2') and ``cache_key`` includes it, so that cached
    vectors of different backends never mix. ``cache_dir`` holds the ONNX export (default: the settings' cache).
    """

    def __init__(self, model_path: str, device: str = "auto", batch_size: int = 32, backend: str = "torch",
                 cache_dir: Path | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"未知嵌入后端 {backend}，可选：{', '.join(BACKENDS)}")
        self.model_path = model_path
        self.name = model_path.rstrip("/").rsplit("/", 1)[-1]
        self.batch_size = batch_size
        self.device = pick_device(device)
        self.notice = ""
        self.backend = "torch"
        self._encode: Callable[[list[str], bool], np.ndarray]
        if backend.startswith("onnx") or (backend == "auto" and self.device == "cpu"):
            try:
                self._use_onnx(cache_dir or _default_cache_dir(), "int8" if backend == "onnx-int8" else "fp32")
                return
            except Exception as exc:  # any export or session failure: torch serves instead
                if backend != "auto":
                    raise RuntimeError(f"ONNX 推理不可用：{type(exc).__name__}: {exc}") from exc
                self.notice = f"ONNX 推理不可用，已改用 torch（{type(exc).__name__}: {str(exc)[:200]}）"
                if self.notice not in _warned:
                    _warned.add(self.notice)
                    print(f"提示：{self.notice}", file=sys.stderr, flush=True)
        self._use_torch()

    @property
    def cache_key(self) -> str:
        """The embedding cache's ``model`` column: the model name, plus the ONNX variant (torch keeps the bare name)."""
        return self.name if self.backend == "torch" else f"{self.name}@{self.variant}"

    def _use_onnx(self, cache_dir: Path, precision: str) -> None:
        from retrieval.onnx_encoder import OnnxEncoder
        from retrieval.onnx_export import ensure_export, variant

        folder = Path(self.model_path)
        encoder = OnnxEncoder(ensure_export(cache_dir, folder, precision), folder)

        def encode(texts: list[str], progress: bool) -> np.ndarray:
            rows = encoder.tokenize(texts)
            out = np.empty((len(rows), encoder.dim), dtype=np.float32)
            batches = by_length([len(r) for r in rows], self.batch_size, MAX_BATCH_TOKENS)
            if progress and len(batches) > 1:
                from tqdm import tqdm

                batches = tqdm(batches, desc="嵌入", unit="批", file=sys.stderr)
            for batch in batches:
                out[batch] = encoder.encode_ids([rows[i] for i in batch])
            return out

        self.backend, self.variant, self.device, self.dim, self._encode = "onnx", variant(precision), "cpu", encoder.dim, encode

    def _use_torch(self) -> None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.model_path, device=self.device, local_files_only=True)

        def encode(texts: list[str], progress: bool) -> np.ndarray:
            order = [i for batch in by_length([len(t) for t in texts], self.batch_size) for i in batch]
            vectors = model.encode([texts[i] for i in order], batch_size=self.batch_size, normalize_embeddings=True,
                                   show_progress_bar=progress, convert_to_numpy=True)
            out = np.empty_like(vectors, dtype=np.float32)
            out[order] = vectors
            return out

        self.backend, self.variant, self.dim, self._encode = "torch", "torch", int(model.get_embedding_dimension()), encode

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts (thread-safe); returns an (n, dim) float32 array of unit vectors in the order given."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _lock:
            vectors = self._encode(texts, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def get_embedder(model_path: str, device: str = "auto", batch_size: int = 32, backend: str = "torch",
                 cache_dir: Path | None = None) -> Embedder:
    """One embedder per model, device and backend per process (loading takes seconds)."""
    return Embedder(model_path, device, batch_size, backend, cache_dir)


def embedder_for(settings: Settings, model_path: str | None = None) -> Embedder:
    """The embedder the settings ask for; ``model_path`` overrides the configured model (e.g. an index's own)."""
    return get_embedder(model_path or settings.embed_model_path(), settings.embed_device, settings.embed_batch_size,
                        settings.embed_backend, settings.cache_dir)
