"""Build an index version (chunks + cases) from the rows that will be live, reusing cached embeddings."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from comply.config import Settings
from retrieval.collection import write_collection
from retrieval.embedding import Embedder
from retrieval.store import new_staging_dir, publish
from retrieval.tokenize import get_tokenizer, legal_terms


@dataclass(frozen=True)
class IndexRow:
    """One row to index: its id, level, the text to embed and tokenise, and that text's hash."""

    row_id: str
    level: int
    text: str
    text_hash: str


def cached_vectors(con: duckdb.DuckDBPyConnection, embedder: Embedder, rows: list[IndexRow], progress: bool) -> np.ndarray:
    """Vectors for rows, embedding only texts not yet in the cache (and caching them). The cache is keyed by
    ``embedder.cache_key`` (model and backend), so vectors of different backends never mix."""
    hashes = list(dict.fromkeys(r.text_hash for r in rows))
    have: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), 5000):
        batch = hashes[start : start + 5000]
        for text_hash, vec in con.execute(
            "SELECT text_hash, vec FROM embeddings WHERE model = ? AND text_hash IN (SELECT unnest(?))", [embedder.cache_key, batch]
        ).fetchall():
            have[text_hash] = np.asarray(vec, dtype=np.float32)
    todo = {r.text_hash: r.text for r in rows if r.text_hash not in have}
    if todo:
        if progress:
            print(f"嵌入 {len(todo)} 段新文本（已缓存 {len(have)} 段）…", file=sys.stderr, flush=True)
        vectors = embedder.encode(list(todo.values()), progress=progress)
        con.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
            [[h, embedder.cache_key, v.tolist()] for h, v in zip(todo, vectors)],
        )
        have.update(zip(todo, vectors))
    if not rows:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([have[r.text_hash] for r in rows]).astype(np.float32)


def build_version(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    embedder: Embedder,
    version: int,
    chunk_rows: list[IndexRow],
    case_rows: list[IndexRow],
    titles: list[str],
    progress: bool = False,
) -> Path:
    """Write a complete index version to a staging folder and publish it; nothing is live until the DB says so."""
    staging = new_staging_dir(settings.index_root, version)
    try:
        user_words = legal_terms(titles)
        tokenizer = get_tokenizer(user_words)
        parts = {}
        for name, rows in (("chunks", chunk_rows), ("cases", case_rows)):
            if progress:
                print(f"索引构建：{name}（{len(rows)} 条）…", file=sys.stderr, flush=True)
            vectors = cached_vectors(con, embedder, rows, progress)
            tokens = [tokenizer.tokens(r.text) for r in rows]
            parts[name] = write_collection(
                staging / name, [r.row_id for r in rows], [r.level for r in rows], vectors, tokens, settings.ann_threshold
            )
        meta = {"version": version, "embed_model": embedder.name, "embed_model_path": embedder.model_path, "dim": embedder.dim, "user_words": list(user_words), **parts}
        return publish(staging, settings.index_root, version, meta)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
