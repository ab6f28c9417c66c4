"""Draft genres: the catalogue (``config/genres.toml``) and a detector learned from labelled drafts.

The detector is a nearest-centroid classifier over the embedding model's vectors of the labelled drafts
(``genre_examples``): cheap to train, nothing to tune. Centroids are cached per machine under the cache
folder, keyed by the examples' content and the embedding model.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from comply.files.jsonl import read_jsonl

AUTO = "auto"
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Genre:
    """One kind of draft, and whether what it says is a marketing claim."""

    id: str
    name_zh: str
    marketing: bool
    note: str


def load_genres(path: Path) -> dict[str, Genre]:
    """The genres of the catalogue, in file order.

    Raises:
        ValueError: naming the file, when it is unreadable or an entry lacks a field.
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        genres = [Genre(str(g["id"]), str(g["name_zh"]), bool(g["marketing"]), str(g.get("note", ""))) for g in raw["genre"]]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"体裁文件 {path} 无效：{exc}") from exc
    return {g.id: g for g in genres}


def _example(obj: dict, n: int) -> tuple[str, str]:
    return str(obj["genre"]), str(obj["text"])


@dataclass(frozen=True)
class GenreDetector:
    """Nearest centroid (cosine) over normalised draft vectors."""

    genres: tuple[str, ...]
    centroids: np.ndarray  # one unit row per genre

    def detect(self, vector: np.ndarray) -> tuple[str, float]:
        """The closest genre to a draft's vector, and its cosine similarity."""
        scores = self.centroids @ vector
        best = int(np.argmax(scores))
        return self.genres[best], float(scores[best])


def train_detector(labels: list[str], vectors: np.ndarray) -> GenreDetector:
    """Centroids of the unit vectors of each genre's drafts."""
    genres = tuple(sorted(set(labels)))
    rows = []
    for genre in genres:
        mean = vectors[[i for i, label in enumerate(labels) if label == genre]].mean(axis=0)
        rows.append(mean / (np.linalg.norm(mean) or 1.0))
    return GenreDetector(genres, np.vstack(rows).astype(np.float32))


def load_detector(examples: Path, model_key: str, cache_dir: Path, embed: Embed) -> GenreDetector:
    """The detector for these examples and this embedding model, trained once and cached.

    Raises:
        ValueError: the examples file is missing or has a malformed line (named).
    """
    if not examples.is_file():
        raise ValueError(f"找不到体裁样例文件 {examples}")
    digest = hashlib.sha256(examples.read_bytes() + model_key.encode("utf-8")).hexdigest()[:16]
    cached = cache_dir / "genres" / f"{digest}.npz"
    if cached.is_file():
        with np.load(cached) as data:
            return GenreDetector(tuple(str(g) for g in data["genres"]), data["centroids"])
    pairs = read_jsonl(examples, _example)
    detector = train_detector([g for g, _ in pairs], embed([t for _, t in pairs]))
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.stem + ".tmp.npz")
    np.savez(tmp, genres=np.array(detector.genres), centroids=detector.centroids)
    tmp.replace(cached)
    return detector
