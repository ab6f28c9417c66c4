"""Draft review end to end: rules, grounding, LLM findings, verification, similar cases, rewrite, audit."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import duckdb

from comply import audit
from comply.config import Settings
from comply.db import transaction
from comply.levels import level_name
from comply.llm.client import LlmError
from comply.llm.protocol import ChatModel
from retrieval.search import Searcher
from review.draft import review_text
from review.findings import SEVERITIES, ClauseRef, Finding
from review.grounding import ClauseResolver
from review.llm_review import llm_findings, rewrite_messages
from review.rules import apply_rules, load_default_rules
from review.sections import split_sections
from review.similar_cases import attach_cases, sentence_around
from review.taxonomy import Taxonomy, load_taxonomy
from review.verify import CheckedFinding, check_findings, new_figures

LLM, RULES = "llm", "rules"


@dataclass
class ReviewReport:
    """The outcome of reviewing one draft."""

    draft: str
    mode: str
    findings: list[Finding]
    notice: str = ""
    dropped: list[dict] = field(default_factory=list)
    rewrite: str | None = None
    rewrite_findings: list[Finding] = field(default_factory=list)
    rounds: int = 0
    total_s: float = 0.0
    audit_seq: int | None = None

    @property
    def draft_sha256(self) -> str:
        """Hash of the reviewed text (what the audit log records instead of the draft)."""
        return hashlib.sha256(self.draft.encode("utf-8")).hexdigest()

    def as_json(self, draft_id: object = None) -> dict:
        """Exactly the batch line shape: ``{"id", "mode", "findings"}``."""
        return {"id": draft_id, "mode": self.mode, "findings": [f.as_json() for f in self.findings]}


class Reviewer:
    """Reviews drafts with the rules file, the knowledge base and (when given) an LLM client."""

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection, client: ChatModel | None = None, no_llm_reason: str = "") -> None:
        self.settings = settings
        self.con = con
        self.client = client
        self.no_llm_reason = no_llm_reason or "未配置大模型"
        self.taxonomy: Taxonomy = load_taxonomy(settings.taxonomy_file)
        self.rules = load_default_rules(settings)
        self.searcher = Searcher(settings, con)

    def rule_findings(self, text: str, resolver: ClauseResolver) -> list[Finding]:
        """Rule findings, each citing the clauses its legal basis names (those in the corpus and visible)."""
        return [self._from_rule(f, resolver) for f in apply_rules(text, self.rules)]

    def _from_rule(self, f: Finding, resolver: ClauseResolver) -> Finding:
        return replace(f, citations=resolver.bases(f.legal_basis) or resolver.bases(self.taxonomy.get(f.category).legal_basis))

    def _from_llm(self, c: CheckedFinding, text: str, resolver: ClauseResolver) -> Finding:
        f = c.finding
        citations = c.citations or resolver.bases(self.taxonomy.get(f.category).legal_basis)
        return Finding(text[c.start:c.end], c.start, c.end, f.category, f.severity, f.explanation, citations, f.suggestion, "llm")

    def _llm_stage(self, text: str, found: list[Finding], resolver: ClauseResolver) -> tuple[list[Finding], list[dict]]:
        added: list[Finding] = []
        dropped: list[dict] = []
        for section in split_sections(text):
            end = section.start + len(section.text)
            known = [f for f in found if f.start < end and f.end > section.start]
            pool: dict[str, ClauseRef] = {}
            flagged = [r for f in known for r in resolver.search(sentence_around(text, f.start, f.end), k=1)]
            for ref in [r for f in known for r in f.citations] + flagged + resolver.search(section.text, k=4):
                pool.setdefault(ref.chunk_id, ref)
            clauses = list(pool.values())[:8]
            raw = llm_findings(self.client, section.text, clauses, known, self.taxonomy)  # type: ignore[arg-type]
            checked, why = check_findings(raw, section.text, section.start, clauses)
            dropped += why
            for c in checked:
                doubt = self.rules.model_finding_doubt(text, c.start, c.end, c.finding.category)
                if doubt:
                    dropped.append({"span": text[c.start:c.end], "category": c.finding.category, "reason": f"{doubt}，疑为模型误报"})
                else:
                    added.append(self._from_llm(c, text, resolver))
        return added, dropped

    def review(
        self, text: str, *, clearance: int = 0, user: str = "anonymous", rewrite: bool = True, max_rounds: int = 2, audit: bool = True,
    ) -> ReviewReport:
        """Review one draft; rules always run, the LLM adds findings when available, and the review is audited.

        ``audit=False`` is for a preview that a full (audited) review of the same draft follows at once.
        The draft is normalised first (:func:`review.draft.normalise_text`); the report's ``draft`` is that
        text and every offset refers to it.

        Model findings only add to the rule findings (an instruction inside the draft cannot remove
        one); a model finding whose span is not verbatim in the draft is dropped and reported.

        Raises:
            DraftError: ``too_large`` when the draft is longer than the ``max_draft_chars`` setting.
        """
        text = review_text(text, self.settings.max_draft_chars)
        started = time.perf_counter()
        resolver = ClauseResolver(self.searcher, self.con, clearance)
        findings = self.rule_findings(text, resolver)
        report = ReviewReport(text, RULES, findings, notice=f"仅规则审核（{self.no_llm_reason}）")
        if self.client is not None:
            try:
                added, report.dropped = self._llm_stage(text, findings, resolver)
                report.findings = merge(findings, added)
                report.mode, report.notice = LLM, ""
            except LlmError as exc:
                report.notice = f"仅规则审核（大模型调用失败：{exc}）"
        attach_cases(self.searcher, report.findings, text, clearance)
        if rewrite and report.mode == LLM and report.findings:
            self._rewrite(report, resolver, max_rounds)
        report.total_s = time.perf_counter() - started
        report.audit_seq = self.record(report, user, clearance) if audit else None
        return report

    def _rewrite(self, report: ReviewReport, resolver: ClauseResolver, max_rounds: int) -> None:
        """Rewrite the whole draft until its re-review (rules) finds nothing, at most ``max_rounds`` times."""
        current, problems = report.draft, [(f.span, f.suggestion) for f in report.findings]
        for round_no in range(1, max_rounds + 1):
            try:
                candidate = self.client.complete(rewrite_messages(current, problems), max_tokens=1024).strip()  # type: ignore[union-attr]
            except LlmError as exc:
                report.notice = f"改写失败：{exc}"
                return
            invented = new_figures(report.draft, candidate)
            remaining = self.rule_findings(candidate, resolver)
            report.rounds, report.rewrite, report.rewrite_findings = round_no, candidate, remaining
            if not remaining and not invented:
                return
            current = candidate
            problems = [(f.span, f.suggestion) for f in remaining] + [(n, "原文没有这个数字，删除它") for n in invented]
        report.notice = "改写稿复审仍有问题，请人工修改" if report.rewrite_findings else "改写稿出现原文没有的数字，请人工核对"

    def record(self, report: ReviewReport, user: str, clearance: int) -> int:
        """Append the review to the audit chain (the draft's hash, never its text); return the row's seq."""
        detail = {
            "clearance": level_name(clearance),
            "draft_sha256": report.draft_sha256,
            "chars": len(report.draft),
            "mode": report.mode,
            "model": self.client.model if report.mode == LLM and self.client else None,
            "findings": len(report.findings),
            "by_category": dict(Counter(f.category for f in report.findings)),
            "dropped": len(report.dropped),
            "rewrite_rounds": report.rounds,
            "total_s": round(report.total_s, 3),
        }
        with transaction(self.con):
            return audit.append(self.con, user, "review.draft", None, detail)


def merge(rule_findings: list[Finding], llm: list[Finding]) -> list[Finding]:
    """Rule findings plus model findings that overlap no rule finding of the same category, by position."""
    out = list(rule_findings)
    for f in llm:
        same = [r for r in out if r.category == f.category and r.start < f.end and f.start < r.end]
        if not same:
            out.append(f)
    return sorted(out, key=lambda f: (f.start, (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else 3)))
