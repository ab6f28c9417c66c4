"""The learned stage inside a review: load the current model once, score a draft, apply the merge policy's context checks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from comply.config import Settings
from retrieval.embedding import embedder_for
from review.examples import Example
from review.learned import LearnedModel, Scored, load_model, units
from review.rules import RuleSet
from review.stages import LEARNED, NO_MODEL, RAN, SKIPPED, UNAVAILABLE, Stage

MISSING_DISCLOSURE = "missing_risk_disclosure"


class LearnedStage:
    """The current learned model for one reviewer, or why there is none (kept in ``problem``)."""

    def __init__(self, settings: Settings, rules: RuleSet, categories: Collection[str]) -> None:
        self.settings = settings
        self.rules = rules
        self.model: LearnedModel | None = None
        self.code, self.problem = RAN, ""
        if not settings.review_learned:
            self.code, self.problem = SKIPPED, "学习模型已在配置中关闭（review_learned = false）"
            return
        try:
            self.model = load_model(settings.review_models_dir)
        except ValueError as exc:
            self.code, self.problem = UNAVAILABLE, str(exc)
            return
        if self.model is None:
            self.code, self.problem = NO_MODEL, "尚未训练学习模型（运行 comply review train）"
        elif unknown := set(self.model.categories) - set(categories):
            self.code, self.problem = UNAVAILABLE, (f"学习模型 {self.model.version} 的类别（{'、'.join(sorted(unknown))}）不在当前审查类别中，"
                                                    "请重新运行 comply review train")
            self.model = None
        elif self.model.embed_key != embedder_for(settings).cache_key:
            self.code, self.problem = UNAVAILABLE, (f"学习模型 {self.model.version} 训练时的向量模型（{self.model.embed_key}）与当前不同，"
                                                    "请重新运行 comply review train")
            self.model = None

    @property
    def version(self) -> str | None:
        """The version of the model in use, if any."""
        return self.model.version if self.model else None

    def examples(self, text: str, clearance: int, k: int) -> tuple[Example, ...]:
        """The labelled sentences most like those of ``text`` (for the model stage's prompt); none without a model."""
        if self.model is None or k <= 0:
            return ()
        sentences = [text[a:b] for a, b in units(text)]
        return self.model.neighbours(embedder_for(self.settings).encode(sentences), clearance, k) if sentences else ()

    def run(self, text: str, clearance: int) -> tuple[list[Scored], Stage]:
        """The passages the model flags that the merge policy keeps, and the stage record.

        The policy: a passage is narrowed to the clauses that make a claim (:meth:`RuleSet.claim_span`: quotations in
        anti-fraud or training material and risk warnings or disclaimers are cut out) and dropped when none is left;
        a missing risk disclosure is not flagged in a draft that carries a risk warning anywhere. Evidence comes only from
        library drafts at or below ``clearance``.
        """
        if self.model is None:
            return [], Stage(LEARNED, self.code, self.problem)
        warned = self.rules.llm_disclaimer is not None and bool(self.rules.llm_disclaimer.search(text))
        found = []
        for s in self.model.classify(text, embedder_for(self.settings).encode, clearance):
            claim = self.rules.claim_span(text, s.start, s.end)
            if claim is not None and not (warned and s.category == MISSING_DISCLOSURE):
                found.append(replace(s, start=claim[0], end=claim[1]))
        return found, Stage(LEARNED, RAN)
