"""The ``review-llm`` measure: how long the review's model stage takes per draft of about 400 characters.

Each draft is reviewed as users review it (genre detected, no rewrite), with the configured backend (the
embedded model by default) behind a :class:`TimedModel` that times every request. The model stage's time is
the time in those requests; the whole review's time is reported next to it. Drafts whose rules already cover
every sentence skip the model (``covered``) and are counted, not timed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import duckdb
from pydantic import BaseModel

from comply.config import Settings
from comply.llm.protocol import ChatModel
from eval.bench.timing import CLEARANCE, timed
from eval.review import Draft, load_dataset
from eval.stats import percentile
from review.stages import COVERED, MODEL, RAN

T = TypeVar("T", bound=BaseModel)

DEV_DRAFTS = Path(__file__).resolve().parents[1] / "datasets" / "review_drafts_extra.jsonl"
MIN_CHARS, MAX_CHARS = 300, 500  # drafts "about 400 characters" long
PER_CHARS = 400


class TimedModel:
    """A :class:`ChatModel` that passes every request to ``inner`` and keeps how long each took in ``seconds``."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    @property
    def model(self) -> str:
        """The inner model's name (calibrations are keyed by it and the kind)."""
        return self.inner.model

    @property
    def kind(self) -> str:
        """The inner model's serving protocol."""
        return self.inner.kind

    def stream(self, messages: list[dict], **params: object) -> Iterator[str]:
        """The inner stream, timed from the request to its last piece."""
        start = time.perf_counter()
        try:
            yield from self.inner.stream(messages, **params)
        finally:
            self.seconds.append(time.perf_counter() - start)

    def complete(self, messages: list[dict], **params: object) -> str:
        """The inner answer, timed."""
        secs, out = timed(self.inner.complete, messages, **params)
        self.seconds.append(secs)
        return out

    def structured(self, messages: list[dict], model: type[T], name: str, **params: object) -> T:
        """The inner structured answer, timed (a failed request is timed too, then re-raised)."""
        start = time.perf_counter()
        try:
            return self.inner.structured(messages, model, name, **params)
        finally:
            self.seconds.append(time.perf_counter() - start)


def sized_drafts(n: int, path: Path = DEV_DRAFTS) -> list[Draft]:
    """The first ``n`` drafts of ``path`` whose (normalised) text is 300–500 characters long."""
    return [d for d in load_dataset(path) if MIN_CHARS <= len(d.text) <= MAX_CHARS][:n]


def seconds_stats(values: list[float]) -> dict:
    """n, p50 and p95 of timings in seconds (only n when there are none)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_s": round(percentile(values, 50), 3), "p95_s": round(percentile(values, 95), 3)}


def bench_review_llm(settings: Settings, con: duckdb.DuckDBPyConnection, n: int = 10) -> dict:
    """Time the model stage of review on the first ``n`` dev drafts of 300–500 characters with the configured
    backend; ``skipped`` with the reason when there are no such drafts or no model (nothing is measured then)."""
    from comply.llm.backend import open_backend
    from review.pipeline import Reviewer

    drafts = sized_drafts(n)
    if not drafts:
        return {"skipped": True, "reason": f"{DEV_DRAFTS.name} 中没有 {MIN_CHARS}–{MAX_CHARS} 字的文案"}
    start_s, backend = timed(open_backend, settings, progress=False)
    with backend:
        if backend.client is None:
            return {"skipped": True, "reason": backend.reason, "backend": backend.label}
        model = TimedModel(backend.client)
        reviewer = Reviewer(settings, con, model, backend.reason)
        reviewer.genre(drafts[0].text)  # the genre detector and the embedding model load before the clock starts
        codes: dict[str, int] = {}
        model_s, per_chars, review_s = [], [], []
        for draft in drafts:
            model.seconds.clear()
            report = reviewer.review(draft.text, clearance=CLEARANCE, rewrite=False, audit=False)
            code = next(s.code for s in report.stages if s.name == MODEL)
            codes[code] = codes.get(code, 0) + 1
            if code != COVERED:  # a draft where the model failed took its time too
                model_s.append(sum(model.seconds))
                per_chars.append(sum(model.seconds) * PER_CHARS / len(report.draft))
                review_s.append(report.total_s)
    lengths = [len(d.text) for d in drafts]
    return {"backend": backend.label, "model": backend.model, "startup_s": round(start_s, 3), "asked": n, "drafts": len(drafts),
            "chars": {"min": min(lengths), "max": max(lengths), "mean": round(sum(lengths) / len(lengths), 1)},
            "ran": codes.get(RAN, 0), "covered": codes.get(COVERED, 0),
            "failed": {c: k for c, k in codes.items() if c not in (RAN, COVERED)},
            "share_ran": round(codes.get(RAN, 0) / len(drafts), 3), "share_covered": round(codes.get(COVERED, 0) / len(drafts), 3),
            "model_s": seconds_stats(model_s), f"model_s_per_{PER_CHARS}_chars": seconds_stats(per_chars),
            "review_s": seconds_stats(review_s)}
