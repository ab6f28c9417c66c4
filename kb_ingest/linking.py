"""Resolve the provisions a case cites to chunks of the live corpus (clause ↔ case links)."""

from __future__ import annotations

from comply.lawtext.citations import Citation
from kb_ingest.cases import CaseRecord
from retrieval.links import ArticleChunk, LawResolver, pick_chunk


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
