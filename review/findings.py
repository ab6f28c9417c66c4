"""The one finding type every review stage produces (rules, keyword baseline, model, suitability), and what it cites."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from review.examples import Example

SEVERITIES = ("high", "medium", "low")


class Located(Protocol):
    """What scoring and highlighting need of a finding or a label: offsets and category."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def category(self) -> str: ...


@dataclass(frozen=True)
class ClauseRef:
    """A clause of the live corpus, visible to the reviewer, that a finding may cite."""

    chunk_id: str
    doc_title: str
    article: str | None
    path: str
    text: str
    notice: str = ""  # the document is repealed, amended or has a newer version

    def as_json(self) -> dict:
        """The public citation shape of ``comply review --json`` (``notice`` only when the text is not plainly in force)."""
        out = {"chunk_id": self.chunk_id, "doc_title": self.doc_title, "article": self.article}
        return out | ({"notice": self.notice} if self.notice else {})

    def label(self) -> str:
        """``《doc》第X条``, with the document's status warning when it has one."""
        return f"《{self.doc_title}》{self.article or ''}" + (f"（⚠ {self.notice}）" if self.notice else "")


@dataclass(frozen=True)
class CaseRef:
    """A penalty or supervisory case similar to a finding, or linked to the clause it cites."""

    case_id: str
    title: str
    authority: str | None = None
    date: str | None = None
    measure_type: str | None = None
    snippet: str = ""


@dataclass
class Finding:
    """One audit point: a verbatim span ``draft[start:end]``, its category, why, the clauses it breaks, advice and cases.

    ``source`` names the stage that found it (``rule``, ``model`` — the learned stage —, ``baseline``, ``llm``, ``suitability``); a rule's
    finding also carries the rule's id and the legal bases it declares, from which ``citations`` (the
    clauses visible to the reviewer) are resolved.
    """

    span: str
    start: int
    end: int
    category: str
    severity: str
    explanation: str
    citations: list[ClauseRef]
    suggestion: str
    source: str
    cases: list[CaseRef] = field(default_factory=list)
    legal_basis: tuple[str, ...] = ()
    rule_id: str = ""
    # legal bases the rule names that resolve to no clause in the corpus, each described (never shown as verified)
    unresolved: tuple[str, ...] = ()
    # the learned stage's calibrated score and the nearest labelled sentences of the category (source "model")
    score: float | None = None
    evidence: tuple[Example, ...] = ()

    def as_json(self) -> dict:
        """The public finding shape of ``comply review --json``."""
        return {
            "span": self.span, "start": self.start, "end": self.end, "category": self.category, "severity": self.severity,
            "explanation": self.explanation, "citations": [c.as_json() for c in self.citations], "suggestion": self.suggestion,
            "cases": [{"case_id": c.case_id, "title": c.title} for c in self.cases], "unverified_basis": list(self.unresolved),
            "source": self.source,
        } | ({"score": round(self.score, 3), "evidence": [e.as_json() for e in self.evidence]} if self.score is not None else {})

    def basis_text(self, none: str) -> str:
        """The clauses it cites and the bases it names that the corpus lacks, on one line (``none`` when there are neither)."""
        return "；".join([c.label() for c in self.citations] + list(self.unresolved)) or none
