"""Clause search (one query, or a batch) and similar penalty cases."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from service.auth import Caller, allowed

router = APIRouter(prefix="/v1", tags=["检索"])
MAX_BATCH = 100
_HIT_KEYS = ("chunk_id", "doc_title", "article", "path", "text", "score", "level", "notice", "match")


class SearchRequest(BaseModel):
    """One clause search."""

    query: str = Field(min_length=1, description="检索语句")
    k: int = Field(10, ge=1, le=50, description="返回条数")
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    clearance: int | None = Field(None, ge=0, description="以低于本人的密级检索（不能高于令牌所属用户的密级）")


class BatchQuery(BaseModel):
    """One query of a batch."""

    id: str = Field(max_length=200)
    query: str = Field(min_length=1)


class BatchSearchRequest(BaseModel):
    """Several searches in one call."""

    queries: list[BatchQuery] = Field(min_length=1, max_length=MAX_BATCH)
    k: int = Field(10, ge=1, le=50)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    clearance: int | None = Field(None, ge=0)


class CaseSearchRequest(BaseModel):
    """A similar-case search."""

    query: str = Field(min_length=1)
    k: int = Field(5, ge=1, le=50)
    clearance: int | None = Field(None, ge=0)


def _too_long(request: Request, query: str) -> str:
    cap = request.app.state.service.resources.settings.max_question_chars
    return f"查询过长：共 {len(query)} 字，最多 {cap} 字" if len(query) > cap else ""


def _hits(request: Request, query: str, k: int, clearance: int, mode: str) -> list[dict]:
    hits = request.app.state.service.resources.searcher().search(query, k=k, clearance=clearance, mode=mode)
    return [{key: h.as_json()[key] for key in _HIT_KEYS} for h in hits]


@router.post("/search", summary="检索条款")
def search(body: SearchRequest, request: Request, caller: Caller = Depends(allowed("qa", "review"))) -> dict:
    """The top-k live clauses for a query, at the caller's clearance; an empty list means nothing matched (未找到依据)."""
    if problem := _too_long(request, body.query):
        raise HTTPException(status_code=422, detail=[{"loc": ["body", "query"], "msg": problem, "type": "too_long"}])
    return {"query": body.query, "hits": _hits(request, body.query, body.k, caller.clearance(body.clearance), body.mode)}


@router.post("/search/batch", summary="批量检索条款")
def search_batch(body: BatchSearchRequest, request: Request, caller: Caller = Depends(allowed("qa", "review"))) -> dict:
    """Each query's hits; an over-long query gets an ``error`` and the batch goes on."""
    clearance = caller.clearance(body.clearance)
    results = []
    for q in body.queries:
        problem = _too_long(request, q.query)
        results.append({"id": q.id, "error": problem} if problem
                       else {"id": q.id, "hits": _hits(request, q.query, body.k, clearance, body.mode)})
    return {"results": results}


@router.post("/cases/search", summary="检索相似处罚案例")
def search_cases(body: CaseSearchRequest, request: Request, caller: Caller = Depends(allowed("cases"))) -> dict:
    """Penalty and supervisory cases closest to the query, at the caller's clearance."""
    if problem := _too_long(request, body.query):
        raise HTTPException(status_code=422, detail=[{"loc": ["body", "query"], "msg": problem, "type": "too_long"}])
    hits = request.app.state.service.resources.searcher().search_cases(body.query, k=body.k, clearance=caller.clearance(body.clearance))
    return {"query": body.query, "cases": [h.as_json() for h in hits]}
