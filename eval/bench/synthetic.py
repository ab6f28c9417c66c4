"""The bench's data: the live chunks of a knowledge base, and synthetic scale-ups of them.

Rows beyond the real chunks are replicas with light perturbation (sentences shuffled, one sometimes dropped, a
numeric suffix token added); their vectors are the source chunk's plus small Gaussian noise, renormalised.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from comply.config import Settings

if TYPE_CHECKING:
    from retrieval.collection import Collection

NOISE_SIGMA = 0.01
_SENTENCE = re.compile(r"(?<=[。；！？\n])")


@dataclass
class RealChunks:
    """The live chunk collection of a knowledge base: ids, levels, indexed texts, vectors and BM25 tokens."""

    ids: list[str]
    levels: list[int]
    texts: list[str]
    titles: list[str]
    articles: list[str | None]
    vectors: np.ndarray
    user_words: tuple[str, ...]
    sentence_tokens: list[list[list[str]]] = field(default_factory=list)


def load_real_chunks(settings: Settings, con: duckdb.DuckDBPyConnection) -> RealChunks:
    """Read the live version's chunk rows (in index order) with their stored vectors."""
    from retrieval.search import Searcher

    index = Searcher(settings, con).index()
    coll = index.chunks
    dense = getattr(coll.dense, "cpu", coll.dense)
    vectors = dense.index.reconstruct_n(0, dense.index.ntotal)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT c.chunk_id, d.doc_key, c.chapter, c.section, c.article, c.text, d.level "
        "FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN (SELECT unnest(?))", [coll.ids]
    ).fetchall()}
    texts, titles, articles, levels = [], [], [], []
    for cid in coll.ids:
        title, chapter, section, article, text, level = rows[cid]
        context = " ".join(x for x in (title, chapter, section, article) if x)
        texts.append(f"{context}\n{text}" if context else text)
        titles.append(title)
        articles.append(article)
        levels.append(int(level))
    return RealChunks(list(coll.ids), levels, texts, titles, articles, np.ascontiguousarray(vectors, np.float32), index.user_words)


def split_sentences(text: str) -> list[str]:
    """Split on Chinese sentence punctuation and newlines, keeping the punctuation."""
    return [s for s in _SENTENCE.split(text) if s.strip()]


def tokenize_sentences(real: RealChunks) -> None:
    """Tokenise every real chunk sentence by sentence (the tokenizer never joins across 。；！？ or newlines)."""
    from retrieval.tokenize import get_tokenizer

    tok = get_tokenizer(real.user_words)
    real.sentence_tokens = [[tok.tokens(s) for s in split_sentences(t)] or [[]] for t in real.texts]


@dataclass
class Synthetic:
    """A scaled-up copy of the real chunks: ids, levels, vectors, BM25 token lists and texts."""

    ids: list[str]
    levels: list[int]
    vectors: np.ndarray
    tokens: list[list[str]]
    texts: list[str]


def scale_up(real: RealChunks, n: int, seed: int = 0) -> Synthetic:
    """``n`` rows: the real chunks first, then perturbed replicas (sentences shuffled, maybe one dropped, a numeric
    suffix token) with the source vector plus N(0, NOISE_SIGMA²) noise, renormalised."""
    if not real.sentence_tokens:
        tokenize_sentences(real)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    base = len(real.ids)
    src = np.arange(n) % base
    vectors = real.vectors[src].copy()
    if n > base:
        vectors[base:] += nrng.normal(0.0, NOISE_SIGMA, size=(n - base, vectors.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids, levels, tokens, texts = [], [], [], []
    for i, s in enumerate(src.tolist()):
        sentences = split_sentences(real.texts[s]) or [real.texts[s]]
        parts = list(range(len(real.sentence_tokens[s])))
        if i >= base:
            rng.shuffle(parts)
            if len(parts) > 2 and rng.random() < 0.3:
                parts.pop()
        suffix = [] if i < base else [str(i)]
        ids.append(real.ids[s] if i < base else f"{real.ids[s]}~{i}")
        levels.append(real.levels[s])
        tokens.append([t for p in parts for t in real.sentence_tokens[s][p]] + suffix)
        texts.append("".join(sentences[p] for p in parts if p < len(sentences)) + (f" {i}" if suffix else ""))
    return Synthetic(ids, levels, np.ascontiguousarray(vectors), tokens, texts)


def build_scaled(syn: Synthetic, folder: Path, ann_threshold: int) -> Collection:
    """Write and load the scaled collection with the project's own index classes (flat / HNSW by ``ann_threshold``)."""
    from retrieval.collection import read_collection, write_collection

    write_collection(folder, syn.ids, syn.levels, syn.vectors, syn.tokens, ann_threshold)
    return read_collection(folder)
