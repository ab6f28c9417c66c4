"""Legal-basis coverage: every basis the review rules, the lexicon and the taxonomy name, and whether the corpus holds it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from comply.lawtext.status import status_notice
from corpus.catalog import Catalog
from retrieval.lookup import lookup_provisions, visible_docs
from review.rules import RuleSet
from review.taxonomy import Taxonomy


@dataclass(frozen=True)
class BasisCoverage:
    """One legal basis: who names it, and the clause it resolves to (or what the catalogue knows when none does)."""

    citation: str
    named_by: tuple[str, ...]
    clauses: tuple[str, ...]
    notice: str
    catalog_status: str | None

    @property
    def in_corpus(self) -> bool:
        """Whether it names a clause the knowledge base holds (and the reader may see)."""
        return bool(self.clauses)

    def as_json(self) -> dict:
        """The JSON shape of ``comply kb coverage --json``."""
        return {"citation": self.citation, "named_by": list(self.named_by), "in_corpus": self.in_corpus,
                "clauses": list(self.clauses), "notice": self.notice, "catalog_status": self.catalog_status}


def named_bases(rules: RuleSet, taxonomy: Taxonomy, lexicon_file: Path | None) -> dict[str, list[str]]:
    """Each legal-basis citation with where it is named: ``rule:<id>``, ``taxonomy:<category>``, ``lexicon:<term>``."""
    named: dict[str, list[str]] = {}
    for category in taxonomy.categories:
        for citation in category.legal_basis:
            named.setdefault(citation, []).append(f"taxonomy:{category.id}")
    lexicon_rules = {t.rule.id for t in rules.lexicon_terms}
    for rule in rules.rules:
        if rule.id in lexicon_rules:
            continue  # a lexicon group's basis is listed under its terms below
        for citation in rule.legal_basis:
            named.setdefault(citation, []).append(f"rule:{rule.id}")
    for term in rules.lexicon_terms:
        for citation in term.rule.legal_basis:
            named.setdefault(citation, []).append(f"lexicon:{term.term}")
    if lexicon_file is not None and lexicon_file.is_file():
        for entry in json.loads(lexicon_file.read_text(encoding="utf-8")).get("entries", []):
            if entry.get("rule") and entry.get("article"):
                named.setdefault(f"《{entry['rule']}》{entry['article']}", []).append(f"lexicon:{entry.get('term', '')}")
    return named


def coverage(con: duckdb.DuckDBPyConnection, named: dict[str, list[str]], catalog: Catalog, clearance: int) -> list[BasisCoverage]:
    """Resolve every named basis against the live corpus visible at ``clearance``; unresolved ones first, then by citation."""
    docs = visible_docs(con, clearance)
    out = []
    for citation, sources in named.items():
        hits = lookup_provisions(con, citation, docs)
        paths, notice = [], ""
        if hits:
            rows = con.execute(
                "SELECT c.path, d.status, d.status_note FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN (SELECT unnest(?)) "
                "ORDER BY c.ord", [[h.chunk_id for h in hits]]
            ).fetchall()
            paths = list(dict.fromkeys(r[0] for r in rows))
            notice = next((status_notice(r[1], r[2]) for r in rows if status_notice(r[1], r[2])), "")
        entry = None if hits else catalog.find_cited(citation)
        status = entry.latest.status if entry else None
        out.append(BasisCoverage(citation, tuple(dict.fromkeys(sources)), tuple(paths), notice, status))
    return sorted(out, key=lambda b: (b.in_corpus, b.citation))
