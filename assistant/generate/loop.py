"""The generate → review → fix loop shared by every kind of material.

Nothing leaves the loop without its review report. Figures are checked, not trusted: a number the inputs
never contained is sent back as a problem. Sentences of the copy that still hold such a number or a finding
after the last round are cut out, and the result is reviewed again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.generate.channels import Copy, Section
from comply.llm.client import LlmError, LlmOutputError
from comply.llm.protocol import ChatModel
from review.findings import Finding
from review.pipeline import Reviewer, ReviewReport
from review.verify import figures, new_figures

LLM, TEMPLATE = "llm", "template"
_SENTENCE = re.compile(r"[^。！？；\n]*[。！？；\n]?")


@dataclass
class Plan:
    """What the loop needs to produce one piece of material."""

    ask: list[dict]                                        # messages asking for the first copy
    fix: Callable[[Copy, list[tuple[str, str]]], list[dict]]  # messages asking for a copy with problems fixed
    template: Callable[[], Copy]                           # the copy without a model
    render: Callable[[Copy], str]                          # copy → the full text (facts and disclosures added)
    allowed: str                                           # the inputs the copy may take figures from (inserted text is allowed too)
    max_tokens: int = 768
    checks: Callable[[str], list[Finding]] = lambda text: []  # findings beyond the review (e.g. suitability)
    names: tuple[str, ...] = ()                            # proper names from the inputs (product, manager, holdings)


@dataclass
class Generated:
    """One piece of generated material with its final review."""

    text: str
    report: ReviewReport
    rounds: int
    mode: str
    first_pass_clean: bool
    notes: list[str] = field(default_factory=list)
    figures_removed: list[str] = field(default_factory=list)
    total_s: float = 0.0

    @property
    def clean(self) -> bool:
        """No finding left in the final review."""
        return not self.report.findings

    def as_json(self) -> dict:
        """Exactly ``{"text", "review": {"findings": [...]}, "rounds"}`` (findings in ``comply review --json`` shape)."""
        return {"text": self.text, "review": {"findings": [f.as_json() for f in self.report.findings]}, "rounds": self.rounds}


def scrub(copy: Copy, drop: Callable[[str], bool]) -> tuple[Copy, list[str]]:
    """The copy without every sentence for which ``drop`` is true, and the sentences removed."""
    removed: list[str] = []

    def keep(text: str) -> str:
        kept = []
        for sentence in _SENTENCE.findall(text):
            (removed if sentence.strip() and drop(sentence) else kept).append(sentence)
        return "".join(kept)

    out = Copy(
        title=keep(copy.title), lead=keep(copy.lead), points=[p for p in map(keep, copy.points) if p.strip()],
        sections=[Section(heading=keep(s.heading), body=body) for s in copy.sections if (body := keep(s.body)).strip()],
    )
    return out, [r.strip() for r in removed]


def _offending(invented: list[str], spans: list[str]) -> Callable[[str], bool]:
    """Whether a sentence states one of the ``invented`` figures or overlaps one of the flagged ``spans``."""
    banned = set(invented)

    def drop(sentence: str) -> bool:
        core = sentence.strip().rstrip("。！？；")
        return bool(banned & figures(sentence)) or any(span in sentence or (core and core in span) for span in spans)

    return drop


class Loop:
    """Runs plans against one reviewer and (optionally) one model."""

    def __init__(self, reviewer: Reviewer, client: ChatModel | None, no_llm_reason: str = "") -> None:
        self.reviewer = reviewer
        self.client = client
        self.no_llm_reason = no_llm_reason or "未配置大模型"

    def _ask(self, messages: list[dict], max_tokens: int) -> Copy:
        copy = self.client.structured(messages, Copy, "copy", max_tokens=max_tokens)  # type: ignore[union-attr]
        if not any(t.strip() for t in copy.texts()):
            raise LlmOutputError("大模型返回了空的文案")
        return copy

    def _review(self, plan: Plan, copy: Copy, inserted: str, clearance: int, user: str) -> ReviewReport:
        """The full review of the rendered copy plus the plan's own checks.

        A model finding whose span is only in text the code inserted (the product's facts, the client's data,
        the disclosures), not in the written copy, or lies within a proper name of the inputs, is moved to
        ``dropped``: the copy cannot change that text, and the rules still review it.
        """
        text = plan.render(copy)
        report = self.reviewer.review(text, clearance=clearance, user=user, rewrite=False, audit=False)
        written = "\n".join(copy.texts())
        kept = []
        for f in report.findings:
            span = f.span.strip()
            if f.source == "llm" and span and ((span in inserted and span not in written) or any(span in n for n in plan.names)):
                report.dropped.append({"span": f.span, "category": f.category, "reason": "片段是系统插入的资料、风险揭示或名称，不是撰写的表述（这部分由规则审核）"})
            else:
                kept.append(f)
        report.findings = kept + plan.checks(report.draft)
        return report

    def run(self, plan: Plan, *, clearance: int, user: str, max_rounds: int) -> Generated:
        """Generate, review and fix until the review is clean or ``max_rounds`` drafts were made; record the final review."""
        started = time.perf_counter()
        notes: list[str] = []
        copy, mode = None, TEMPLATE
        if self.client is not None:
            try:
                copy, mode = self._ask(plan.ask, plan.max_tokens), LLM
            except LlmError as exc:
                notes.append(f"大模型生成失败，改用模板：{exc}")
        else:
            notes.append(f"模板生成（未使用大模型：{self.no_llm_reason}）")
        copy = copy or plan.template()
        inserted = plan.render(Copy())  # the text the code adds whatever the copy says
        allowed = plan.allowed + "\n" + inserted
        rounds, first_clean = 0, False
        while True:
            rounds += 1
            invented = new_figures(allowed, plan.render(copy))
            report = self._review(plan, copy, inserted, clearance, user)
            if rounds == 1:
                first_clean = not report.findings and not invented
            if (not report.findings and not invented) or rounds >= max_rounds or mode != LLM:
                break
            problems = [(f.span, f.suggestion) for f in report.findings] + [(n, "资料中没有这个数字，删除它") for n in invented]
            try:
                copy = self._ask(plan.fix(copy, problems), plan.max_tokens)
            except LlmError as exc:
                notes.append(f"修改稿生成失败：{exc}")
                break
        invented = new_figures(allowed, plan.render(copy))
        if invented or report.findings:
            copy, cut = scrub(copy, _offending(invented, [f.span for f in report.findings]))
            if cut:
                notes.append(f"{rounds} 轮后仍不合规，已删除这些句子：{'；'.join(cut)}")
            if new_figures(allowed, plan.render(copy)):
                copy = plan.template()
                notes.append("仍有资料中没有的数字，改用模板文案")
            if cut or invented:
                report = self._review(plan, copy, inserted, clearance, user)
        text = plan.render(copy)
        if report.findings and self.reviewer.templates is not None:  # the last resort, as for a reviewed draft
            fixed = self.reviewer.template_rewrite(text, report.findings, clearance)
            kept = all(line in fixed.text for line in inserted.splitlines() if line.strip())  # facts and disclosures intact
            if fixed.text != text and kept and not new_figures(allowed, fixed.text):
                text = fixed.text
                report = self.reviewer.review(text, clearance=clearance, user=user, rewrite=False, audit=False)
                report.findings += plan.checks(report.draft)
                notes.append(f"按模板删除或替换了仍有问题的表述（{len(fixed.edits)} 处）")
        if report.findings:
            notes.append("终稿仍有审核问题，请人工修改后再使用")
        report.audit_seq = self.reviewer.record(report, user, clearance)
        return Generated(text, report, rounds, mode, first_clean, notes, invented, time.perf_counter() - started)
