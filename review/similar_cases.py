"""Penalty cases for a review's findings: only cases legally related to a finding, at a cost that grows with the
draft's length, not with its findings.

A case is attached to a finding only when it cites one of the finding's clauses or a legal basis of the finding's
category (:mod:`review.case_relevance`); a finding with no related case gets none rather than a merely similar one.
Among related cases, those sharing a clause come first, then the others, each group closest to the finding's
sentence first. The sentence is clipped around the span, each distinct sentence is searched once, and all of them
are embedded in one batch (one query at a time, the embedding model dominated the review of a long draft).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from comply.config import Settings
from retrieval.search import Searcher
from review.case_relevance import CLAUSE, CaseLaw, finding_provisions, load_case_law
from review.findings import CaseRef, Finding
from review.rules import LEXICON_PATH, load_default_rules
from review.taxonomy import load_taxonomy

SENTENCE_ENDS = "。！？；\n"
QUERY_REACH = 100  # characters of a span's sentence taken either side of it for a search


def sentence_around(text: str, start: int, end: int, reach: int = QUERY_REACH) -> str:
    """The sentence around ``text[start:end]``, at most ``reach`` characters either side of the span's first ``reach``."""
    low, high = max(0, start - reach), min(len(text), min(end, start + reach) + reach)
    left = max(low, max(text.rfind(d, low, start) for d in SENTENCE_ENDS) + 1)
    rights = [i for i in (text.find(d, min(end, high), high) for d in SENTENCE_ENDS) if i >= 0]
    return text[left:min(rights) if rights else high].strip()


_BASES: dict[tuple[tuple[str, int], ...], dict[str, tuple[str, ...]]] = {}  # per version of the files they come from


def category_bases(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each category's legal bases: the taxonomy's, then those of the review rules of that category."""
    files = (Path(settings.taxonomy_file), Path(settings.review_rules_file), Path(settings.corpus_dir) / LEXICON_PATH)
    stamp = tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in files)
    if stamp not in _BASES:
        taxonomy, rules = load_taxonomy(files[0]), load_default_rules(settings)
        _BASES[stamp] = {
            c.id: tuple(dict.fromkeys((*c.legal_basis, *(b for r in rules.rules if r.category == c.id for b in r.legal_basis))))
            for c in taxonomy.categories
        }
    return _BASES[stamp]



def _ref(row: dict) -> CaseRef:
    return CaseRef(row["case_id"], row["title"], row["authority"], row["date"], row["measure_type"], (row["snippet"] or "")[:120])


def related_cases(law: CaseLaw, finding: Finding, similar: list[str], k: int) -> list[CaseRef]:
    """Up to ``k`` cases related to ``finding``: sharing a clause first, then of its category; within each, in the
    order of ``similar`` (case ids, most similar first), then newest first."""
    cited = finding_provisions(finding, law.resolver)
    rank = {case_id: n for n, case_id in enumerate(similar)}
    related = {c: rel for c in law.provisions if c in law.rows and (rel := law.relation(c, finding.category, cited))}
    newest = sorted(related, key=lambda c: law.rows[c]["date"] or "", reverse=True)
    ordered = sorted(newest, key=lambda c: (related[c] != CLAUSE, rank.get(c, len(rank))))
    return [_ref(law.rows[c]) for c in ordered[:k]]


def attach_cases(
    searcher: Searcher, findings: list[Finding], text: str, clearance: int, k: int = 3,
    bases: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Set each finding's ``cases``: up to ``k`` legally related cases (see the module), none when no case is related.

    ``bases`` maps category ids to legal-basis citations; by default the taxonomy's and the review rules'.
    """
    if not findings:
        return
    law = load_case_law(searcher.con, clearance, category_bases(searcher.settings) if bases is None else bases)
    queries = [sentence_around(text, f.start, f.end) for f in findings]
    distinct = [q for q in dict.fromkeys(queries) if q]
    vectors = searcher.embed_many(distinct) if distinct and law.provisions else []
    similar = {
        q: [h.case_id for h in searcher.search_cases(q, k=len(law.rows), clearance=clearance, vector=v)]
        for q, v in zip(distinct, vectors)
    }
    for finding, query in zip(findings, queries):
        finding.cases = related_cases(law, finding, similar.get(query, []), k)
