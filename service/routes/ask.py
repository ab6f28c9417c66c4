"""Compliance questions: one verified answer as JSON, or streamed as server-sent events."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool

from assistant.qa.answer import Answer, QuestionTooLong, check_question, consume, stream_answer
from comply.config import Settings
from comply.db import DatabaseBusyError
from comply.llm.protocol import ChatModel
from retrieval.search import NoIndexError
from service.auth import Caller, allowed
from service.resources import NO_LLM, Resources

router = APIRouter(prefix="/v1", tags=["问答"])
_LOG = logging.getLogger(__name__)


class AskRequest(BaseModel):
    """One compliance question."""

    question: str = Field(min_length=1, description="问题")
    no_llm: bool = Field(False, description="不调用大模型，只给出检索到的条款")
    clearance: int | None = Field(None, ge=0, description="以低于本人的密级提问（不能高于令牌所属用户的密级）")
    user: str | None = Field(None, max_length=64, description="记入审计日志的提问人（仅本机命令行令牌可指定）")


def event(name: str, data: dict) -> str:
    """One server-sent event: ``event: <name>`` and its data as one line of JSON (Chinese as is)."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(resources: Resources, question: str, client: ChatModel | None, reason: str, clearance: int, user: str) -> Iterator[str]:
    """``delta`` events as the answer is written, then ``answer`` (or ``error``).

    The answer is produced on a thread of its own, on a cursor of its own, and runs to its end (and into the audit
    log) even when the client goes away after the first pieces: nobody reads an answer that is not audited."""
    events: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_produce, args=(events, resources, question, client, reason, clearance, user),
                     name="ask-stream", daemon=True).start()
    while (item := events.get()) is not None:
        yield item


def _produce(events: queue.Queue, resources: Resources, question: str, client: ChatModel | None, reason: str,
             clearance: int, user: str) -> None:
    cur = resources.con.cursor()
    try:
        pieces = stream_answer(resources.settings, cur, question, client=client, no_llm_reason=reason,
                               clearance=clearance, user=user)
        while True:
            try:
                piece = next(pieces)
            except StopIteration as stop:
                events.put(event("answer", _answer_json(stop.value)))
                return
            events.put(event("delta", {"text": piece}))
    except (NoIndexError, DatabaseBusyError) as exc:  # the status line is sent already: report the failure as an event
        events.put(event("error", {"detail": str(exc)}))
    except Exception:  # noqa: BLE001  (logged; the client gets a plain error event)
        _LOG.exception("streamed answer failed")
        events.put(event("error", {"detail": "回答失败：服务内部错误，请稍后重试"}))
    finally:
        cur.close()
        events.put(None)


def _answer_json(answer: Answer) -> dict:
    """The answer as ``comply ask --json`` prints it, with the notice the text output shows (why no model answered)."""
    return {**answer.as_json(), "notice": answer.notice}


def _model(resources: Resources, no_llm: bool) -> tuple[ChatModel | None, str]:
    return (None, NO_LLM) if no_llm else resources.model()


def _check(settings: Settings, question: str) -> None:
    try:
        check_question(settings, question)
    except QuestionTooLong as exc:
        raise HTTPException(status_code=422, detail=[{"loc": ["body", "question"], "msg": str(exc), "type": "too_long"}]) from None


@router.post("/ask", summary="合规问答（可用 Accept: text/event-stream 流式返回）", response_model=None)
def ask(body: AskRequest, request: Request, caller: Caller = Depends(allowed("qa"))) -> dict | StreamingResponse:
    """An answer grounded in the clauses visible at the caller's clearance, every citation verified; the exchange is
    audited. With ``Accept: text/event-stream``: ``delta`` events ``{"text"}``, then ``answer`` (the JSON answer) or
    ``error`` ``{"detail"}``."""
    resources: Resources = request.app.state.service.resources
    _check(resources.settings, body.question)
    client, reason = _model(resources, body.no_llm)
    clearance, user = caller.clearance(body.clearance), caller.actor(body.user)
    if "text/event-stream" in request.headers.get("accept", ""):
        stream = answer_events(resources, body.question, client, reason, clearance, user)
        return StreamingResponse(iterate_in_threadpool(stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    pieces = stream_answer(resources.settings, resources.cursor(), body.question, client=client, no_llm_reason=reason,
                           clearance=clearance, user=user)
    return _answer_json(consume(pieces))
