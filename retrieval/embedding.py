"""Sentence embeddings (m3e-small via sentence-transformers), on CUDA when available, cached by text hash."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

_lock = threading.Lock()
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


class Embedder:
    """Encodes texts into L2-normalised float32 vectors."""

    def __init__(self, model_path: str, device: str = "auto", batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_path = model_path
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.model = SentenceTransformer(model_path, device=self.device, local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())
        self.name = model_path.rstrip("/").rsplit("/", 1)[-1]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed texts (thread-safe); returns an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _lock:
            vectors = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def get_embedder(model_path: str, device: str = "auto", batch_size: int = 32) -> Embedder:
    """One embedder per model and device per process (loading takes seconds)."""
    return Embedder(model_path, device, batch_size)
