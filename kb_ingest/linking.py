"""Resolve the provisions a case cites to chunks of the live corpus (clause ↔ case links)."""

from __future__ import annotations

from dataclasses import dataclass

from kb_ingest.cases import CaseRecord
from kb_ingest.citations import Citation, normalize_law_name


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


def link_case(
    case: CaseRecord, resolver: LawResolver, articles: dict[tuple[str, int], list[ArticleChunk]]
) -> list[dict]:
    """One row per cited provision: resolved to a chunk id, or with a note saying why not.

    A citation is not resolved when the case cites an older version than the corpus holds (a year
    before the version's date, or a decision dated before it): article numbers change between versions.
    """
    rows = []
    for role, cit in case.citations:
        row = {"case_id": case.case_id, "role": role, "raw": cit.raw, "law": cit.law, "article": cit.article,
               "article_no": cit.article_no, "doc_key": None, "chunk_id": None, "note": None}
        doc = resolver.resolve(cit.law)
        if doc is None:
            row["note"] = "所引法规不在知识库中"
        else:
            row["doc_key"] = doc.doc_key
            row["note"] = _version_mismatch(cit, case.fields.get("date"), doc.version_date)
            chunks = articles.get((doc.doc_id, cit.article_no))
            if row["note"] is None and not chunks:
                row["note"] = "知识库版本中没有该条"
            if row["note"] is None and chunks:
                row["chunk_id"] = pick_chunk(chunks, cit.paragraph_no)
        rows.append(row)
    return rows


def _version_mismatch(cit: Citation, case_date: str | None, version_date: str | None) -> str | None:
    if not version_date:
        return None
    if cit.year is not None and cit.year < int(version_date[:4]):
        return f"引用的是 {cit.year} 年版本，知识库为 {version_date} 版本，条号可能不同"
    if cit.year is None and case_date and case_date < version_date[: len(case_date)]:
        return f"案例（{case_date}）早于知识库版本（{version_date}），所引条号可能属于旧版本"
    return None
