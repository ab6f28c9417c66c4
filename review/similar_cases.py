"""Similar penalty cases for a review's findings, at a cost that grows with the draft's length, not with its findings.

Each finding gets the cases that cite its clauses, then the cases closest to its sentence. The sentence
is clipped around the span, each distinct sentence is searched once, and all of them are embedded in one
batch (one query at a time, the embedding model dominated the review of a long draft).
"""

from __future__ import annotations

from retrieval.search import CaseHit, Searcher
from review.findings import CaseRef, Finding

SENTENCE_ENDS = "。！？；\n"
QUERY_REACH = 100  # characters of a span's sentence taken either side of it for a search


def sentence_around(text: str, start: int, end: int, reach: int = QUERY_REACH) -> str:
    """The sentence around ``text[start:end]``, at most ``reach`` characters either side of the span's first ``reach``."""
    low, high = max(0, start - reach), min(len(text), min(end, start + reach) + reach)
    left = max(low, max(text.rfind(d, low, start) for d in SENTENCE_ENDS) + 1)
    rights = [i for i in (text.find(d, min(end, high), high) for d in SENTENCE_ENDS) if i >= 0]
    return text[left:min(rights) if rights else high].strip()


def attach_cases(searcher: Searcher, findings: list[Finding], text: str, clearance: int, k: int = 3) -> None:
    """Set each finding's ``cases``: up to ``k``, those citing its clauses first, then those closest to its sentence."""
    queries = [sentence_around(text, f.start, f.end) for f in findings]
    distinct = [q for q in dict.fromkeys(queries) if q]
    vectors = searcher.embed_many(distinct) if distinct else []
    searched: dict[str, list[CaseHit]] = {
        q: searcher.search_cases(q, k=k, clearance=clearance, vector=v) for q, v in zip(distinct, vectors)
    }
    linked: dict[tuple[str, ...], list[dict]] = {}
    for finding, query in zip(findings, queries):
        chunks = tuple(c.chunk_id for c in finding.citations)
        if chunks not in linked:
            linked[chunks] = [case for cases in searcher.cases_for_chunks(list(chunks), clearance).values() for case in cases]
        out: dict[str, CaseRef] = {}
        for case in linked[chunks]:
            out.setdefault(case["case_id"], CaseRef(case["case_id"], case["title"], None, case.get("date"), case.get("measure_type")))
        for hit in searched.get(query, []):
            out.setdefault(hit.case_id, CaseRef(hit.case_id, hit.title, hit.authority, hit.date, hit.measure_type, hit.snippet[:120]))
        finding.cases = list(out.values())[:k]
