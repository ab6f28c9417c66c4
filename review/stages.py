"""Which stages of a review ran, and why any did not: recorded for every draft, in batch output and on screen."""

from __future__ import annotations

from dataclasses import dataclass

from comply.llm.client import LlmError, LlmOutputError, LlmTimeout

RULES, LEARNED, MODEL, CASES, REWRITE = "rules", "learned", "model", "cases", "rewrite"
NAMES_ZH = {RULES: "规则", LEARNED: "学习模型", MODEL: "大模型", CASES: "相似案例", REWRITE: "改写"}

# why a stage did not run (or stopped): codes other systems can read, with the reason shown to people
RAN, NO_MODEL, TIMEOUT, MALFORMED, UNAVAILABLE, COVERED, NOT_NEEDED, SKIPPED = (
    "ran", "no_model", "timeout", "malformed", "unavailable", "covered", "not_needed", "skipped")
FAILED = (TIMEOUT, MALFORMED, UNAVAILABLE)  # the model broke off (as opposed to not being needed or not configured)


@dataclass(frozen=True)
class Stage:
    """One stage of one review: ``code`` is ``ran`` or why it did not run; ``reason`` says it in Chinese."""

    name: str
    code: str
    reason: str = ""

    @property
    def ran(self) -> bool:
        """Whether the stage ran to the end."""
        return self.code == RAN

    def as_json(self) -> dict:
        """The batch-output shape."""
        return {"stage": self.name, "ran": self.ran, "code": self.code, "reason": self.reason}

    def label(self) -> str:
        """One line for people: 大模型：未运行（超时：…）."""
        name = NAMES_ZH.get(self.name, self.name)
        return f"{name}：已运行" if self.ran else f"{name}：未运行（{self.reason}）"


def failed(name: str, exc: LlmError) -> Stage:
    """The stage ``name`` stopped by a model failure, classified as timeout, malformed reply or unavailable."""
    code = TIMEOUT if isinstance(exc, LlmTimeout) else MALFORMED if isinstance(exc, LlmOutputError) else UNAVAILABLE
    prefix = {TIMEOUT: "超时", MALFORMED: "模型回复格式无效", UNAVAILABLE: "模型不可用"}[code]
    return Stage(name, code, f"{prefix}：{exc}")
