"""Which penalty cases are legally related to a finding: they cite one of its clauses, or a legal basis of its category.

A case's provisions are those it found violated: its ``violated`` citations and the citations in its text, less its
penalty basis (the sanction clauses) and less citations of an older version of a law whose article numbers may differ
from the corpus. A case belongs to a category when one of its provisions is a legal basis of that category (the
taxonomy's and the review rules'). Provisions match on law and article, and on 款 and 项 where both name one, so
《证券投资基金法》第二十条第（六）项 (未公开信息交易) is not 第二十条第（四）项 (承诺收益).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from comply.db import rows_as_dicts
from comply.lawtext.citations import normalize_law_name, parse_citations
from comply.lawtext.numerals import NUMERAL, cn_to_int
from retrieval.links import LawResolver
from retrieval.lookup import visible_docs
from review.findings import Finding

_ARTICLE = re.compile(rf"第({NUMERAL})条")
CLAUSE, CATEGORY = "clause", "category"


@dataclass(frozen=True)
class Provision:
    """One cited provision: the law (normalised title), article, and the 款 / 项 when named."""

    law: str
    article_no: int
    paragraph_no: int | None = None
    item_no: int | None = None

    def matches(self, other: Provision) -> bool:
        """Same law and article, and the same 款 and 项 wherever both name one."""
        return (
            self.law == other.law and self.article_no == other.article_no
            and (self.paragraph_no is None or other.paragraph_no is None or self.paragraph_no == other.paragraph_no)
            and (self.item_no is None or other.item_no is None or self.item_no == other.item_no)
        )


def _law_key(name: str, resolver: LawResolver) -> str:
    doc = resolver.resolve(name)
    return normalize_law_name(doc.doc_key if doc else name)


def cited_provisions(citation: str, resolver: LawResolver) -> list[Provision]:
    """The provisions a citation string names (《广告法》第二十五条第（一）项 → one), laws named as the corpus names them."""
    return [Provision(_law_key(c.law, resolver), c.article_no, c.paragraph_no, c.item_no) for c in parse_citations(citation)]


def finding_provisions(finding: Finding, resolver: LawResolver) -> list[Provision]:
    """The provisions a finding cites: its clauses (by article) and the legal bases it names."""
    out = []
    for clause in finding.citations:
        m = _ARTICLE.search(clause.article or "")
        if m:
            out.append(Provision(normalize_law_name(clause.doc_title), cn_to_int(m.group(1))))
    return out + [p for basis in finding.legal_basis for p in cited_provisions(basis, resolver)]


@dataclass(frozen=True)
class CaseLaw:
    """The visible cases with the provisions each found violated and the categories those provisions ground."""

    provisions: Mapping[str, tuple[Provision, ...]]
    categories: Mapping[str, frozenset[str]]
    rows: Mapping[str, dict]  # case_id → title, authority, date, measure_type, snippet
    resolver: LawResolver  # law names as the visible corpus names them

    def relation(self, case_id: str, category: str, cited: Sequence[Provision]) -> str | None:
        """``clause`` when the case cites one of ``cited``, ``category`` when it belongs to ``category``, else None."""
        if any(p.matches(q) for p in self.provisions.get(case_id, ()) for q in cited):
            return CLAUSE
        return CATEGORY if category in self.categories.get(case_id, ()) else None


def load_case_law(con: duckdb.DuckDBPyConnection, clearance: int, bases: Mapping[str, Iterable[str]]) -> CaseLaw:
    """The live cases visible at ``clearance``, their violated provisions, and their categories from ``bases``
    (category id → legal-basis citation strings)."""
    resolver = LawResolver(visible_docs(con, clearance))
    links = con.execute(
        "SELECT l.case_id, l.role, l.raw, l.law, l.article_no, l.doc_key, l.note FROM case_citations l "
        "JOIN cases c ON c.case_id = l.case_id AND c.state = 'live' AND c.level <= ? ORDER BY l.case_id", [clearance]
    ).fetchall()
    penalty = {(case_id, normalize_law_name(doc_key or law), no) for case_id, role, _, law, no, doc_key, _ in links if role == "penalty"}
    provisions: dict[str, list[Provision]] = {}
    for case_id, role, raw, law, article_no, doc_key, note in links:
        key = normalize_law_name(doc_key or law)
        if role == "penalty" or (doc_key and note) or (case_id, key, article_no) in penalty:
            continue  # a sanction clause, or an older version's article number
        parsed = [p for p in cited_provisions(raw, resolver) if p.article_no == article_no]
        found = [Provision(key, article_no, p.paragraph_no, p.item_no) for p in parsed] or [Provision(key, article_no)]
        bucket = provisions.setdefault(case_id, [])
        bucket += [p for p in dict.fromkeys(found) if p not in bucket]
    grounds = {category: [p for b in citations for p in cited_provisions(b, resolver)] for category, citations in bases.items()}
    categories = {
        case_id: frozenset(c for c, ground in grounds.items() if any(p.matches(g) for p in provs for g in ground))
        for case_id, provs in provisions.items()
    }
    rows = rows_as_dicts(con.execute(
        "SELECT case_id, title, authority, date, measure_type, coalesce(violation_summary, left(full_text, 160)) AS snippet "
        "FROM cases WHERE state = 'live' AND level <= ?", [clearance]
    ))
    return CaseLaw({k: tuple(v) for k, v in provisions.items()}, categories, {r["case_id"]: r for r in rows}, resolver)
