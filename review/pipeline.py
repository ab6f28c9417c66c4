"""Draft review end to end: rules, grounding, LLM findings, verification, the gate, similar cases, rewrite, audit."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np

from comply import audit
from comply.config import Settings
from comply.db import transaction
from comply.levels import level_name
from comply.llm.client import LlmError
from comply.llm.protocol import ChatModel
from retrieval.search import Searcher
from review.draft import review_text
from review.findings import SEVERITIES, ClauseRef, Finding
from review.gate import Calibration, Hint, gate_key, load_calibrations, promotes, why_hint
from review.genre import AUTO, Genre, GenreDetector, load_detector, load_genres
from review.grounding import ClauseResolver
from review.learned import MODEL_SOURCE, Scored
from review.learned_stage import LearnedStage
from review.llm_review import llm_findings, rewrite_messages
from review.rewrite import RewriteResult, RewriteTemplates, check_candidate, deterministic_rewrite, load_disclosure, load_templates
from review.rules import apply_rules, load_default_rules
from review.sections import sentence_spans, split_sections
from review.similar_cases import attach_cases, sentence_around
from review.stages import CASES, COVERED, MODEL, NO_MODEL, NOT_NEEDED, RAN, REWRITE, UNAVAILABLE, Stage, failed
from review.stages import RULES as RULES_STAGE
from review.taxonomy import Taxonomy, load_taxonomy
from review.verify import CheckedFinding, check_findings

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
    hints: list[Hint] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    genre: Genre | None = None
    genre_detected: bool = False
    model: str | None = None
    learned_version: str | None = None  # the learned model that reviewed the draft (None when that stage did not run)
    rewrite_note: str = ""  # how the rewrite was made (the model's, or the template one and why)

    @property
    def draft_sha256(self) -> str:
        """Hash of the reviewed text (what the audit log records instead of the draft)."""
        return hashlib.sha256(self.draft.encode("utf-8")).hexdigest()

    def as_json(self, draft_id: object = None) -> dict:
        """The batch line shape: ``{"id", "mode", "genre", "learned_model", "notice", "stages", "findings", "hints"}``; only
        ``findings`` count."""
        return {"id": draft_id, "mode": self.mode, "genre": self.genre.id if self.genre else None, "learned_model": self.learned_version,
                "notice": self.notice,
                "stages": [s.as_json() for s in self.stages], "findings": [f.as_json() for f in self.findings],
                "hints": [h.as_json() for h in self.hints]}


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
        self.genres: dict[str, Genre] = load_genres(settings.genres_file)
        self._detector: GenreDetector | None = None
        self._clause_vectors: dict[str, np.ndarray] = {}
        self.gate_problem = ""  # why the gate is shut although a calibration was expected (shown with the review)
        self.calibration: Calibration | None = self._calibration() if client is not None else None
        self.learned = LearnedStage(settings, self.rules, self.taxonomy.ids)
        self.templates: RewriteTemplates | None = None
        self.rewrite_problem = ""  # why the template rewrite cannot run (a broken data file), shown with the review
        try:
            self.templates = load_templates(settings.rewrite_templates_file, self.taxonomy.ids)
            self.disclosure = load_disclosure(settings.disclosures_file)
        except ValueError as exc:
            self.templates, self.rewrite_problem = None, f"模板改写不可用：{exc}"

    @property
    def rules_sha256(self) -> str:
        """Hash of the rules file: a calibration measured with other rules is stale."""
        return hashlib.sha256(self.settings.review_rules_file.read_bytes()).hexdigest()

    @property
    def embed_model(self) -> str:
        """The embedding model's name (its folder), in whose space the gate's similarities are measured."""
        return Path(self.searcher.embedder().model_path).name

    def _calibration(self) -> Calibration | None:
        """This model's gate calibration, if there is a valid, current one; otherwise ``None`` (the gate shut), the
        reason kept in ``gate_problem`` when a file is broken or the calibration is stale."""
        key = gate_key(self.client.kind, self.client.model)  # type: ignore[union-attr]
        try:
            found = load_calibrations(self.settings.review_gate_file, self.settings.local_gate_file).get(key)
        except ValueError as exc:
            self.gate_problem = f"{exc}；模型单独提出的问题只作提示"
            return None
        if found is not None and found.stale(self.rules_sha256, self.embed_model):
            self.gate_problem = "门槛校准所用的审核规则或向量模型已变化，请重新运行 comply gate calibrate；在此之前模型单独提出的问题只作提示"
            return None
        return found

    def rule_findings(self, text: str, resolver: ClauseResolver) -> list[Finding]:
        """Rule findings, each citing the clauses its legal basis names (those in the corpus and visible)."""
        return [self._from_rule(f, resolver) for f in apply_rules(text, self.rules)]

    def learned_findings(self, text: str, resolver: ClauseResolver, clearance: int) -> tuple[list[Finding], Stage]:
        """The learned stage's findings (citing their category's clauses visible to the reviewer) and its stage record."""
        found, stage = self.learned.run(text, clearance)
        return [self._from_learned(s, text, resolver) for s in found], stage

    def _from_learned(self, s: Scored, text: str, resolver: ClauseResolver) -> Finding:
        severity, suggestion = self.advice(s.category)
        why = f"学习模型判断此句属于“{self.taxonomy.get(s.category).name_zh}”（校准得分 {s.score:.2f}，依据审核样本库中的已判例句）"
        return Finding(text[s.start:s.end], s.start, s.end, s.category, severity, why, resolver.bases(self._bases(s.category)),
                       suggestion, MODEL_SOURCE, score=s.score, evidence=s.evidence)

    def rereview(self, text: str, resolver: ClauseResolver, clearance: int) -> list[Finding]:
        """Rules and the learned stage on ``text``, merged (what a rewrite must pass)."""
        return merge(self.rule_findings(text, resolver), self.learned_findings(text, resolver, clearance)[0])

    def _from_rule(self, f: Finding, resolver: ClauseResolver) -> Finding:
        return replace(f, citations=resolver.bases(f.legal_basis) or resolver.bases(self.taxonomy.get(f.category).legal_basis),
                       unresolved=resolver.unresolved(f.legal_basis))

    def advice(self, category: str) -> tuple[str, str]:
        """Severity and advice for a model finding of ``category`` (the model is not asked for them: each output token
        costs tens of milliseconds on a CPU): the most common severity of the category's rules, and generic advice."""
        severities = Counter(r.severity for r in self.rules.rules if r.category == category)
        severity = severities.most_common(1)[0][0] if severities else "medium"
        return severity, f"删除或改写该表述，避免{self.taxonomy.get(category).name_zh}"

    def _from_llm(self, c: CheckedFinding, text: str, resolver: ClauseResolver) -> Finding:
        f = c.finding
        citations = c.citations or resolver.bases(self.taxonomy.get(f.category).legal_basis)
        severity, suggestion = self.advice(f.category)
        return Finding(text[c.start:c.end], c.start, c.end, f.category, severity, f.explanation, citations, suggestion, "llm")

    def genre(self, text: str, chosen: str = AUTO) -> tuple[Genre, bool]:
        """The draft's genre: the one chosen, else the one detected from the labelled drafts (and ``True``).

        Raises:
            ValueError: an unknown genre id, or an unreadable examples file.
        """
        if chosen != AUTO:
            if chosen not in self.genres:
                raise ValueError(f"未知的体裁“{chosen}”，可选：{'、'.join(self.genres)}")
            return self.genres[chosen], False
        if self._detector is None:
            s = self.settings
            self._detector = load_detector(s.genre_examples, self.searcher.embedder().model_path, s.cache_dir, self.searcher.embed_many)
        found, _ = self._detector.detect(self.searcher.embed_many([text[:2000]])[0])
        if found not in self.genres:
            raise ValueError(f"体裁样例中的体裁“{found}”不在体裁目录中")
        return self.genres[found], True

    def _category_similarity(self, sentences: list[str], categories: list[str], resolver: ClauseResolver) -> list[float]:
        """For each sentence, its highest cosine similarity to a clause its category rests on (0 when none is visible)."""
        if not sentences:
            return []
        clauses = {c: resolver.bases(self._bases(c), limit=8) for c in set(categories)}
        missing = list({ref.chunk_id: ref.text for refs in clauses.values() for ref in refs if ref.chunk_id not in self._clause_vectors}.items())
        if missing:
            self._clause_vectors.update(zip([k for k, _ in missing], self.searcher.embed_many([t for _, t in missing])))
        vectors = self.searcher.embed_many(sentences)
        out = []
        for vector, category in zip(vectors, categories):
            rows = [self._clause_vectors[ref.chunk_id] for ref in clauses[category]]
            out.append(float(np.max(np.vstack(rows) @ vector)) if rows else 0.0)
        return out

    def _bases(self, category: str) -> tuple[str, ...]:
        """The legal bases of a category: the taxonomy's, then those of the rules of that category."""
        from_rules = (b for r in self.rules.rules if r.category == category for b in r.legal_basis)
        return tuple(dict.fromkeys((*self.taxonomy.get(category).legal_basis, *from_rules)))

    def _candidates(
        self, text: str, found: list[Finding], resolver: ClauseResolver, genre: Genre | None, clearance: int,
    ) -> tuple[list[CheckedFinding], list[dict]]:
        """Model findings located in the draft and not doubted (one request per section; one section for most drafts),
        each request carrying the library's labelled sentences most like the section's (within ``clearance``)."""
        kept: list[CheckedFinding] = []
        dropped: list[dict] = []
        for section in split_sections(text, self.settings.llm_review_chars):
            end = section.start + len(section.text)
            known = [f for f in found if f.start < end and f.end > section.start]
            clauses = self._prompt_clauses(text, section.text, known, resolver)
            examples = self.learned.examples(section.text, clearance, self.settings.llm_review_examples)
            raw = llm_findings(self.client, section.text, clauses, known, self.taxonomy, genre,  # type: ignore[arg-type]
                               self.settings.llm_review_max_tokens, examples)
            checked, why = check_findings(raw, section.text, section.start, clauses)
            dropped += why
            for c in checked:
                doubt = self.rules.model_finding_doubt(text, c.start, c.end, c.finding.category)
                if doubt:
                    dropped.append({"span": text[c.start:c.end], "category": c.finding.category, "reason": f"{doubt}，疑为模型误报"})
                else:
                    kept.append(c)
        return kept, dropped

    def _prompt_clauses(self, text: str, section: str, known: list[Finding], resolver: ClauseResolver) -> list[ClauseRef]:
        """The clauses the model may cite for a section: those of the rule findings in it, then retrieved ones, at most
        ``llm_review_clauses`` (0 by default: on a CPU every clause costs seconds of prompt, and the code grounds a
        model finding in its category's clauses anyway)."""
        limit = self.settings.llm_review_clauses
        if limit <= 0:
            return []
        pool: dict[str, ClauseRef] = {}
        flagged = [r for f in known for r in resolver.search(sentence_around(text, f.start, f.end), k=1)]
        for ref in [r for f in known for r in f.citations] + flagged + resolver.search(section, k=4):
            pool.setdefault(ref.chunk_id, ref)
        return list(pool.values())[:limit]

    def _llm_stage(
        self, text: str, found: list[Finding], resolver: ClauseResolver, genre: Genre | None, clearance: int,
    ) -> tuple[list[Finding], list[Hint], list[dict]]:
        """Model findings through the gate: those a rule finding of their category overlaps merge into it, those the
        calibrated clause similarity supports count, and the rest are hints (see :mod:`review.gate`)."""
        candidates, dropped = self._candidates(text, found, resolver, genre, clearance)
        distinct = {(c.start, c.end, c.finding.category): c for c in reversed(candidates)}  # a repeated finding once
        alone = [c for c in sorted(distinct.values(), key=lambda c: c.start)
                 if not any(r.category == c.finding.category and r.start < c.end and c.start < r.end for r in found)]
        similarity = self._category_similarity([sentence_around(text, c.start, c.end) for c in alone],
                                               [c.finding.category for c in alone], resolver)
        added: list[Finding] = []
        hints: list[Hint] = []
        marketing = genre is not None and genre.marketing  # an unknown genre keeps the gate shut
        for c, sim in zip(alone, similarity):
            if promotes(self.calibration, sim, marketing):
                added.append(self._from_llm(c, text, resolver))
                continue
            if any(h.category == c.finding.category and h.start < c.end and c.start < h.end for h in hints):
                continue  # one hint per passage and category
            f = c.finding
            confidence = self.calibration.confidence(f.category) if self.calibration else None
            hints.append(Hint(text[c.start:c.end], c.start, c.end, f.category, f.explanation, self.advice(f.category)[1], sim, confidence,
                              why_hint(self.calibration, sim, genre.name_zh if genre else None, marketing),
                              c.citations or resolver.bases(self.taxonomy.get(f.category).legal_basis)))
        return added, hints, dropped

    def review(
        self, text: str, *, clearance: int = 0, user: str = "anonymous", rewrite: bool = True, max_rounds: int = 2, audit: bool = True,
        genre: str = AUTO,
    ) -> ReviewReport:
        """Review one draft; rules always run, the model's findings pass the gate, and the review is audited.

        ``audit=False`` is for a preview that a full (audited) review of the same draft follows at once.
        The draft is normalised first (:func:`review.draft.normalise_text`); the report's ``draft`` is that
        text and every offset refers to it. ``genre`` is a genre id, or ``auto`` to detect it (only when the
        model runs: nothing else reads it).

        Model findings only add to the rule findings (an instruction inside the draft cannot remove
        one); a model finding whose span is not verbatim in the draft is dropped and reported, and one no
        other stage supports is a hint (:mod:`review.gate`). ``report.stages`` says which stages ran and why
        any did not. The model is skipped when the rule findings already cover every sentence.

        Raises:
            DraftError: ``too_large`` when the draft is longer than the ``max_draft_chars`` setting.
            ValueError: an unknown ``genre``.
        """
        text = review_text(text, self.settings.max_draft_chars)
        started = time.perf_counter()
        resolver = ClauseResolver(self.searcher, self.con, clearance)
        findings = self.rule_findings(text, resolver)
        learned, learned_stage = self.learned_findings(text, resolver, clearance)
        report = ReviewReport(text, RULES, merge(findings, learned), notice=f"未使用大模型（{self.no_llm_reason}）",
                              stages=[Stage(RULES_STAGE, RAN), learned_stage], learned_version=self.learned.version if learned_stage.ran else None)
        if genre != AUTO:
            report.genre, _ = self.genre(text, genre)
        model = self._run_model(report, resolver, genre, clearance)
        report.stages.append(model)
        attach_cases(self.searcher, report.findings, text, clearance)
        report.stages.append(Stage(CASES, RAN) if report.findings else Stage(CASES, NOT_NEEDED, "没有问题需要匹配案例"))
        if not rewrite:
            report.stages.append(Stage(REWRITE, NOT_NEEDED, "本次未请求改写"))
        elif not report.findings:
            report.stages.append(Stage(REWRITE, NOT_NEEDED, "没有计入结论的问题"))
        elif self.client is None or model.code not in (RAN, COVERED):
            why = "未使用大模型" if self.client is None else "大模型审核未完成"
            report.stages.append(self._template_rewrite(report, resolver, clearance, f"{why}，按模板逐处删除或替换问题表述"))
        else:
            report.stages.append(self._rewrite(report, resolver, clearance, max_rounds))
        report.total_s = time.perf_counter() - started
        report.audit_seq = self.record(report, user, clearance) if audit else None
        return report

    def _run_model(self, report: ReviewReport, resolver: ClauseResolver, genre: str, clearance: int) -> Stage:
        """The model stage of :meth:`review`, recorded as a :class:`Stage` whether or not it ran."""
        text = report.draft
        if self.client is None:
            return Stage(MODEL, NO_MODEL, self.no_llm_reason)
        sentences = sentence_spans(text)
        if sentences and all(any(f.start < b and f.end > a for f in report.findings) for a, b in sentences):
            report.notice = "规则与学习模型已覆盖每一句，未调用大模型审核"
            return Stage(MODEL, COVERED, "规则与学习模型已覆盖每一句")
        notes = [self.gate_problem] if self.gate_problem else []
        if report.genre is None:
            try:
                report.genre, report.genre_detected = self.genre(text, genre)
            except ValueError as exc:  # the examples file is missing or broken: the model still reviews, the gate stays shut
                notes.append(f"未能识别体裁（{exc}），模型单独提出的问题只作提示")
        report.notice = "；".join(notes) or report.notice
        try:
            added, report.hints, report.dropped = self._llm_stage(text, report.findings, resolver, report.genre, clearance)
        except LlmError as exc:
            report.notice = f"未使用大模型（大模型调用失败：{exc}）"
            return failed(MODEL, exc)
        report.findings = merge(report.findings, added)
        report.mode, report.model, report.notice = LLM, self.client.model, "；".join(notes)
        return Stage(MODEL, RAN)

    def template_rewrite(self, text: str, findings: list[Finding], clearance: int, resolver: ClauseResolver | None = None) -> RewriteResult:
        """``text`` with each of ``findings`` deleted or replaced by its category's template and the risk disclosure added
        where missing, re-reviewed by the rules and the learned stage until nothing is found (see :mod:`review.rewrite`).

        Raises:
            ValueError: the rewrite templates or disclosures file is broken (``rewrite_problem`` says how).
        """
        if self.templates is None:
            raise ValueError(self.rewrite_problem)
        resolver = resolver or ClauseResolver(self.searcher, self.con, clearance)
        return deterministic_rewrite(text, findings, lambda t: self.rereview(t, resolver, clearance), self.templates, self.disclosure)

    def _template_rewrite(self, report: ReviewReport, resolver: ClauseResolver, clearance: int, why: str) -> Stage:
        """The deterministic rewrite (:mod:`review.rewrite`): each flagged span deleted or replaced by its category's
        template, the risk disclosure added where missing, re-reviewed (rules and learned stage) until clean."""
        if self.templates is None:
            report.rewrite_note = f"{why}：{self.rewrite_problem}"
            return Stage(REWRITE, UNAVAILABLE, self.rewrite_problem)
        result = self.template_rewrite(report.draft, report.findings, clearance, resolver)
        if not result.text.strip():  # every sentence was a problem: nothing is left to show as a rewrite
            report.rewrite_note = f"{why}后没有剩余内容（每一句都有问题），请重新撰写"
            return Stage(REWRITE, RAN, report.rewrite_note)
        report.rewrite, report.rewrite_findings, report.rounds = result.text, result.remaining, result.rounds
        report.rewrite_note = why + ("；复审仍有问题，请人工修改" if result.remaining else "")
        return Stage(REWRITE, RAN)

    def _rewrite(self, report: ReviewReport, resolver: ClauseResolver, clearance: int, max_rounds: int) -> Stage:
        """The model rewrites the draft, at most ``max_rounds`` times; its text is kept only when re-review (rules and
        learned stage) finds nothing and it adds no figure, otherwise the template rewrite is shown and why."""
        rereview = lambda t: self.rereview(t, resolver, clearance)  # noqa: E731
        current, problems = report.draft, [(f.span, f.suggestion) for f in report.findings]
        reason = "未请求大模型改写"
        for n in range(1, max_rounds + 1):
            try:
                candidate = self.client.complete(rewrite_messages(current, problems), max_tokens=1024).strip()  # type: ignore[union-attr]
            except LlmError as exc:
                return self._template_rewrite(report, resolver, clearance, f"大模型改写失败（{exc}），按模板改写")
            verdict = check_candidate(report.draft, candidate, rereview)
            if verdict.accepted:
                report.rewrite, report.rewrite_findings, report.rounds = candidate, [], n
                report.rewrite_note = "大模型改写，复审无问题且未新增数字"
                return Stage(REWRITE, RAN)
            current, reason = candidate, verdict.reason
            problems = [(f.span, f.suggestion) for f in verdict.findings] + [(figure, "原文没有这个数字，删除它") for figure in verdict.invented]
        return self._template_rewrite(report, resolver, clearance, f"大模型改写稿未通过复审（{reason}），按模板改写")

    def record(self, report: ReviewReport, user: str, clearance: int) -> int:
        """Append the review to the audit chain (the draft's hash, never its text); return the row's seq."""
        detail = {
            "clearance": level_name(clearance),
            "draft_sha256": report.draft_sha256,
            "chars": len(report.draft),
            "mode": report.mode,
            "model": report.model,
            "learned_model": report.learned_version,
            "genre": report.genre.id if report.genre else None,
            "stages": {s.name: s.code for s in report.stages},
            "gate": self.calibration.clause_threshold if self.calibration else None,
            "findings": len(report.findings),
            "by_category": dict(Counter(f.category for f in report.findings)),
            "hints": len(report.hints),
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
