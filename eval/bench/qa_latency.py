"""The ``qa`` measure: how long a chat answer takes to its first token and in full, as users ask.

Each dev retrieval question is asked through :func:`assistant.qa.answer.stream_answer` with the configured backend
(the embedded model, or ``COMPLY_LLM_URL``), timed from the call to the first piece of text and to the verified
answer. A first question warms up the embedding model, the indexes and the model's prompt cache and is not
counted. Only answers the model wrote are timed; questions with no basis (no model call) or whose model call
failed are counted apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from comply.config import Settings
from eval.bench.review_llm import TimedModel, seconds_stats
from eval.bench.timing import CLEARANCE, timed
from eval.stats import percentile

TTFT_TARGET_S, TOTAL_TARGET_S = 3.0, 12.0  # issue 18: first token ≤ 3 s, full answer ≤ 12 s, idle 2-core machine


class PromptMeter(TimedModel):
    """A :class:`TimedModel` that also keeps, for each streamed request, its prompt's characters (all messages)
    and those of its system message."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - any ChatModel
        super().__init__(inner)
        self.prompts: list[tuple[int, int]] = []

    def stream(self, messages: list[dict], **params: object) -> Iterator[str]:
        """The inner stream, its prompt measured."""
        system = sum(len(m.get("content") or "") for m in messages if m.get("role") == "system")
        self.prompts.append((sum(len(m.get("content") or "") for m in messages), system))
        yield from super().stream(messages, **params)


def _ask(settings: Settings, con, model: PromptMeter, reason: str, question: str) -> dict:  # noqa: ANN001 - DuckDB
    """One question timed: seconds to the first piece of text and to the verified answer, and what it was."""
    from assistant.qa.answer import LLM, consume, stream_answer

    first: list[float] = []
    model.prompts.clear()
    start = time.perf_counter()
    gen = stream_answer(settings, con, question, client=model, no_llm_reason=reason, clearance=CLEARANCE, user="bench")
    answer = consume(gen, lambda _piece: first or first.append(time.perf_counter() - start))
    total = time.perf_counter() - start
    row = {"mode": answer.mode, "ttft_s": round(first[0], 3) if first else None, "total_s": round(total, 3),
           "answer_chars": len(answer.answer), "notice": answer.notice}
    if model.prompts:
        row["prompt_chars"], row["system_chars"] = model.prompts[-1]
    row["timed"] = answer.mode == LLM
    return row


def _chars(values: list[int]) -> dict:
    return {"n": len(values), "p50": round(percentile(values, 50)), "max": max(values)} if values else {"n": 0}


def bench_qa_latency(settings: Settings, n: int = 10) -> dict:
    """Ask a warm-up dev question, then the next ``n``, with the configured backend; time to first token and to
    the full answer (p50 / p95), prompt size and the targets. ``skipped`` with the reason when there is no model.
    Opens the knowledge base itself and closes it on return."""
    from comply.db import connect
    from comply.llm.backend import open_backend
    from eval.bench.measures import dev_questions

    items = dev_questions(settings, n + 1)
    start_s, backend = timed(open_backend, settings, progress=False)
    with backend:
        if backend.client is None:
            return {"skipped": True, "reason": backend.reason, "backend": backend.label}
        con = connect(settings.db_path)
        try:
            model = PromptMeter(backend.client)
            load_before = os.getloadavg()
            warmup = {"id": items[0].id, **_ask(settings, con, model, backend.reason, items[0].query)}
            rows = [{"id": i.id, **_ask(settings, con, model, backend.reason, i.query)} for i in items[1:]]
            load_after = os.getloadavg()
        finally:
            con.close()
    timed_rows = [r for r in rows if r["timed"]]
    ttft, total = seconds_stats([r["ttft_s"] for r in timed_rows]), seconds_stats([r["total_s"] for r in timed_rows])

    def met(stats: dict, q: str, target: float) -> bool | None:
        return stats[f"{q}_s"] <= target if stats["n"] else None

    return {"backend": backend.label, "model": backend.model, "startup_s": round(start_s, 3), "asked": n,
            "questions": len(rows), "timed": len(timed_rows),
            "no_model": sum(1 for r in rows if r["mode"] != "llm" and "prompt_chars" not in r),
            "model_failed": sum(1 for r in rows if r["mode"] != "llm" and "prompt_chars" in r),
            "ttft_s": ttft, "total_s": total,
            "prompt_chars": _chars([r["prompt_chars"] for r in timed_rows]),
            "system_chars": _chars([r["system_chars"] for r in timed_rows]),
            "answer_chars": _chars([r["answer_chars"] for r in timed_rows]),
            "targets": {"ttft_s": TTFT_TARGET_S, "total_s": TOTAL_TARGET_S,
                        "ttft_p50_met": met(ttft, "p50", TTFT_TARGET_S), "ttft_p95_met": met(ttft, "p95", TTFT_TARGET_S),
                        "total_p50_met": met(total, "p50", TOTAL_TARGET_S), "total_p95_met": met(total, "p95", TOTAL_TARGET_S)},
            "loadavg": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
            "warmup": warmup, "rows": rows}
