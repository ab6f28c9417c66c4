"""Liveness, readiness and the knowledge base's state."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from kb_ingest.listing import status as kb_status
from retrieval.store import live_version
from service.auth import Caller, allowed

router = APIRouter(tags=["服务状态"])


@router.get("/healthz", summary="存活检查")
async def healthz() -> dict:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="就绪检查：索引版本、大模型后端、数据库")
def readyz(request: Request) -> dict:
    """Ready when the database answers and an index is live; the LLM backend may still be starting (answers then say
    they were given without the model)."""
    resources = request.app.state.service.resources
    cur = resources.cursor()
    live = live_version(cur, resources.settings.index_root)
    migrations = cur.execute("SELECT count(*) FROM _migrations").fetchone()[0]
    return {"ready": live is not None, "index_version": live[0] if live else None, "llm": resources.backend_state(),
            "database": {"state": "open", "migrations": migrations}}


@router.get("/v1/status", summary="知识库与索引状态（管理员）")
def status(request: Request, caller: Caller = Depends(allowed("kb"))) -> dict:
    """What ``comply status`` prints (the folders on the server and counts over every level: for administrators)."""
    resources = request.app.state.service.resources
    return kb_status(resources.settings, resources.cursor())
