"""The keyword-only baseline the rules must beat: plain substring matches of the lexicon terms."""

from __future__ import annotations

from review.findings import Finding
from review.rules import RuleSet


def apply_baseline(text: str, rules: RuleSet) -> list[Finding]:
    """Every occurrence of every lexicon term, with the category its lexicon group maps it to.

    No patterns, no exceptions, no merging: only identical (start, end, category) hits are collapsed.
    """
    found: dict[tuple[int, int, str], Finding] = {}
    for item in rules.lexicon_terms:
        rule = item.rule
        start = text.find(item.term)
        while start >= 0:
            end = start + len(item.term)
            found.setdefault((start, end, rule.category), Finding(
                item.term, start, end, rule.category, rule.severity, rule.explanation, [], rule.suggestion, "baseline",
                legal_basis=rule.legal_basis, rule_id=f"baseline:{item.term}"))
            start = text.find(item.term, start + 1)
    return sorted(found.values(), key=lambda f: (f.start, f.end, f.category))
