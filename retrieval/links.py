"""Links between cited provisions and chunks: live documents by name, and the chunk holding a cited 款."""

from __future__ import annotations

from dataclasses import dataclass

from comply.lawtext.citations import normalize_law_name


@dataclass(frozen=True)
class LiveDoc:
    """What linking needs to know of a live document."""

    doc_id: str
    doc_key: str
    version_date: str | None


@dataclass(frozen=True)
class ArticleChunk:
    """A chunk of an article; ``paragraphs`` is the 款 range when the article was split ('2-3')."""

    chunk_id: str
    paragraphs: str | None


class LawResolver:
    """Maps cited law names (full, short, or embedded in a sentence) to live documents."""

    def __init__(self, docs: list[LiveDoc]) -> None:
        self.by_name = {normalize_law_name(d.doc_key): d for d in docs}

    def resolve(self, name: str) -> LiveDoc | None:
        """Exact normalised match, else the longest suffix of the name that is a known title."""
        norm = normalize_law_name(name)
        for start in range(len(norm) - 1):
            doc = self.by_name.get(norm[start:])
            if doc is not None:
                return doc
        return None


def _covers(paragraphs: str | None, paragraph_no: int | None) -> bool:
    if paragraphs is None or paragraph_no is None:
        return True
    first, _, last = paragraphs.partition("-")
    return int(first) <= paragraph_no <= int(last or first)


def pick_chunk(chunks: list[ArticleChunk], paragraph_no: int | None) -> str:
    """The chunk holding the cited 款 (the article's first chunk when no 款 is cited)."""
    return next((c.chunk_id for c in chunks if _covers(c.paragraphs, paragraph_no)), chunks[0].chunk_id)
