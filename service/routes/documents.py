"""The knowledge base (administrators): upload with a level, ingest paths on this machine, the document listing,
approve / reject / delete / re-level a document, rebuild the index.

A caller never sees or touches a document above their clearance: it is left out of listings and answered 404 as if
absent; nobody classifies a document above their own clearance (403).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field

from comply.config import Settings
from comply.levels import level_rank
from kb_ingest import admin, listing
from kb_ingest.ingest import default_sources, ingest
from service.auth import Caller, allowed
from service.fields import Level, not_above

router = APIRouter(prefix="/v1", tags=["知识库"])
MAX_NAME_CHARS = 200
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[\x00-\x1f\x7f:*?\"<>|]")



class PathsRequest(BaseModel):
    """Files or folders on the service's machine (the local command line only)."""

    paths: list[str] = Field(default_factory=list, max_length=10_000, description="文件或目录（省略时导入默认语料）")
    level: Level | None = Field(None, description="密级 0–2（省略时：已入库的沿用原密级，新的为公开）")
    user: str | None = Field(None, max_length=64, description="记入审计日志的操作人（仅本机命令行）")


class ActorRequest(BaseModel):
    """Who is recorded (the local command line may name one)."""

    user: str | None = Field(None, max_length=64)


class RejectRequest(ActorRequest):
    """Why a held document is rejected."""

    reason: str = Field("", max_length=1000)


class LevelRequest(ActorRequest):
    """A document's (or a live case's) new level."""

    level: Level = Field(description="新密级 0–2（降低密级记入审计日志）")


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _visible(cur: duckdb.DuckDBPyConnection, item_id: str, clearance: int, cases: bool = False) -> bool:
    """Whether a document (every version of its title at or below ``clearance``, as listings show it), or with
    ``cases`` a live case, is visible to the caller."""
    row = cur.execute("SELECT (SELECT max(v.level) FROM documents v WHERE v.doc_key = d.doc_key) FROM documents d "
                      "WHERE d.doc_id = ?", [item_id]).fetchone()
    if row is None and cases:
        row = cur.execute("SELECT level FROM cases WHERE case_id = ? AND state = 'live'", [item_id]).fetchone()
    return row is not None and row[0] <= clearance


def _require(cur: duckdb.DuckDBPyConnection, item_id: str, caller: Caller, cases: bool = False) -> None:
    if not _visible(cur, item_id, caller.clearance(), cases):
        raise HTTPException(status_code=404, detail=f"{'文档或案例' if cases else '文档'} {item_id} 不存在")


def _admin_call(action, *args) -> int | None:  # noqa: ANN001  (one of kb_ingest.admin's operations)
    """Run an admin operation; one that does not apply to the document in its state is a conflict (409)."""
    try:
        return action(*args)
    except admin.AdminError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


def safe_name(raw: str | None) -> str:
    """An uploaded file's base name, safe to write into a folder: no path parts or control characters, the extension
    kept (a document's identity is its file name).

    Raises:
        HTTPException: 422 for an empty, over-long or hidden (dot-first) name.
    """
    name = _UNSAFE.sub("_", (raw or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not name or name.startswith("."):
        raise _invalid("files", f"文件名无效：{raw!r}（不能为空，也不能以“.”开头）")
    if len(name) > MAX_NAME_CHARS:
        raise _invalid("files", f"文件名过长：最多 {MAX_NAME_CHARS} 个字符")
    return name


def _save(upload: UploadFile, path: Path, max_mb: float, name: str) -> None:
    """Copy an upload to ``path``, refusing it (413) once it exceeds ``max_mb``."""
    max_bytes, written = int(max_mb * 2**20), 0
    with path.open("wb") as out:
        while chunk := upload.file.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise HTTPException(status_code=413, detail=f"文件 {name} 过大：每个文件最多 {max_mb:g} MB")
            out.write(chunk)


def _save_all(folder: Path, uploads: list[UploadFile], settings: Settings) -> dict[str, str]:
    """Write every upload into ``folder`` under its safe name (a repeated name beside it, in a numbered folder, so the
    ingest reports it as a duplicate); the saved paths mapped to the names the caller gave."""
    names = [safe_name(u.filename) for u in uploads]  # every name is checked before anything is written
    saved: dict[str, str] = {}
    for n, (upload, name) in enumerate(zip(uploads, names, strict=True)):
        path = folder / name
        if path.exists():
            path = Path(tempfile.mkdtemp(dir=folder, prefix=f"repeat-{n}-")) / name
        _save(upload, path, settings.max_file_mb, name)
        saved[str(path)] = name
    return saved


def _report(report: dict, names: dict[str, str], folder: Path) -> dict:
    """The ingest report with the uploaded names in place of the service's temporary paths."""
    for f in report["files"]:
        f["path"] = names.get(f["path"], Path(f["path"]).name)
        f["message"] = f["message"].replace(f"{folder}/", "")
    return report


@router.get("/documents", summary="文档列表（本人密级内）")
def list_documents(request: Request, state: Annotated[list[str], Query()] = [],  # noqa: B006  (FastAPI's query list)
                   clearance: Annotated[int | None, Query(ge=0, description="以低于本人的密级列出")] = None,
                   caller: Caller = Depends(allowed("kb"))) -> dict:
    """Every version of the documents in the given states (all when none), of titles whose every version is at or
    below the caller's clearance (or the lower one asked for)."""
    unknown = [s for s in state if s not in listing.DOC_STATES]
    if unknown:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "state"], "type": "value_error",
                                                      "msg": f"未知状态 {unknown[0]!r}，可选：{' / '.join(listing.DOC_STATES)}"}])
    rows = listing.documents(request.app.state.service.resources.cursor(), state, caller.clearance(clearance))
    return {"documents": rows}


@router.post("/documents", summary="上传文件导入知识库")
def upload_documents(request: Request, files: Annotated[list[UploadFile], File(description="法规、制度文件（PDF / DOCX / MD / TXT）或案例 JSONL")],
                     level: Annotated[str | None, Form(description="密级 0–2 或 公开 / 内部 / 秘密（省略时：已入库的沿用原密级，新的为公开）")] = None,
                     user: Annotated[str | None, Form(max_length=64)] = None,
                     caller: Caller = Depends(allowed("kb"))) -> dict:
    """Ingest the uploaded files at one level; bad files are reported and skipped, the rest go live together."""
    try:
        rank = None if level in (None, "") else level_rank(level)
    except ValueError as exc:
        raise _invalid("level", str(exc)) from None
    not_above(caller, rank, "设定")
    resources = request.app.state.service.resources
    with tempfile.TemporaryDirectory(prefix="comply-upload-") as tmp:
        folder = Path(tmp)
        names = _save_all(folder, files, resources.settings)
        report = ingest(resources.settings, resources.cursor(), [Path(p) for p in names], level=rank,
                        actor=caller.actor(user), clearance=caller.clearance())
        return _report(report.as_dict(), names, folder)


@router.post("/documents/paths", summary="导入本机文件（仅本机命令行）")
def ingest_paths(body: PathsRequest, request: Request, caller: Caller = Depends(allowed("kb"))) -> dict:
    """Ingest files or folders on the service's machine (the default corpus when none); only the command line on this
    machine may name paths here, since they are read with the service's rights."""
    if not caller.local:
        raise HTTPException(status_code=403, detail="按路径导入仅限本机命令行；接口令牌请上传文件（POST /v1/documents）")
    not_above(caller, body.level, "设定")
    settings = request.app.state.service.resources.settings
    paths = [Path(p).expanduser() for p in body.paths]
    missing = next((p for p in paths if not p.exists()), None)
    if missing is not None:
        raise _invalid("paths", f"路径不存在：{missing}")
    report = ingest(settings, request.app.state.service.resources.cursor(), paths or default_sources(settings),
                    level=body.level, actor=caller.actor(body.user), clearance=caller.clearance())
    return report.as_dict()


@router.post("/documents/{doc_id}/approve", summary="批准待审文档上线")
def approve(doc_id: str, request: Request, body: ActorRequest | None = None, caller: Caller = Depends(allowed("kb"))) -> dict:
    """Put a held document live (replacing the live version of the same title); the new index version."""
    resources = request.app.state.service.resources
    _require(resources.cursor(), doc_id, caller)
    actor = caller.actor(body.user if body else None)
    return {"doc_id": doc_id, "index_version": _admin_call(admin.approve, resources.settings, resources.cursor(), doc_id, actor)}


@router.post("/documents/{doc_id}/reject", summary="驳回待审文档")
def reject(doc_id: str, body: RejectRequest, request: Request, caller: Caller = Depends(allowed("kb"))) -> dict:
    """Reject a held document; it never goes live."""
    cur = request.app.state.service.resources.cursor()
    _require(cur, doc_id, caller)
    _admin_call(admin.reject, cur, doc_id, caller.actor(body.user), body.reason)
    return {"doc_id": doc_id, "state": "rejected"}


@router.delete("/documents/{doc_id}", summary="删除在用文档")
def delete(doc_id: str, request: Request, user: Annotated[str | None, Query(max_length=64)] = None,
           caller: Caller = Depends(allowed("kb"))) -> dict:
    """Take a live document out of the knowledge base; the new index version."""
    resources = request.app.state.service.resources
    _require(resources.cursor(), doc_id, caller)
    version = _admin_call(admin.delete, resources.settings, resources.cursor(), doc_id, caller.actor(user))
    return {"doc_id": doc_id, "index_version": version}


@router.post("/documents/{doc_id}/level", summary="修改文档或案例的密级")
def set_level(doc_id: str, body: LevelRequest, request: Request, caller: Caller = Depends(allowed("kb"))) -> dict:
    """Change the level of a document or a live case (lowering it too: an audited decision); the new index version
    (null when the level was already that)."""
    resources = request.app.state.service.resources
    _require(resources.cursor(), doc_id, caller, cases=True)
    not_above(caller, body.level, "设定")
    version = _admin_call(admin.set_level, resources.settings, resources.cursor(), doc_id, body.level, caller.actor(body.user))
    return {"doc_id": doc_id, "level": body.level, "index_version": version}


@router.post("/index/rebuild", summary="按数据库现状重建索引")
def rebuild_index(request: Request, body: ActorRequest | None = None, caller: Caller = Depends(allowed("kb"))) -> dict:
    """Rebuild the index from the database as it is (after a settings change, or to repair)."""
    resources = request.app.state.service.resources
    version = admin.reindex(resources.settings, resources.cursor(), caller.actor(body.user if body else None))
    return {"index_version": version}
