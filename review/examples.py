"""A labelled sentence shown as evidence beside a learned finding (相似已判例句)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """A labelled sentence of the library, shown as evidence (相似已判例句) beside a finding of its category."""

    text: str
    category: str
    draft_id: str
    similarity: float

    def as_json(self) -> dict:
        """The shape under a finding's ``evidence``."""
        return {"text": self.text, "category": self.category, "draft_id": self.draft_id, "similarity": round(self.similarity, 3)}
