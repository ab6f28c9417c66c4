"""Batch review jobs: submit drafts (JSON or uploaded files), follow a job, page through its results, export them.

A job is seen only by its submitter or an administrator, and only by a caller whose clearance is at least the
job's (its results cite clauses and cases at that clearance); anyone else gets 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from comply.files.limits import format_size
from comply.levels import level_rank
from review.genre import AUTO
from service.auth import Caller, allowed
from service.fields import check_genre
from service.job_inputs import MAX_DRAFTS, DraftInput, TooManyDrafts, json_drafts, upload_drafts
from service.job_export import export_xlsx
from service.jobs import Job, JobRunner, get_job, job_items, list_jobs, submit_job

router = APIRouter(prefix="/v1", tags=["批量任务"])


class JobOptions(BaseModel):
    """How the job's drafts are reviewed (also the form fields of an upload)."""

    genre: str = Field(AUTO, max_length=64, description="文案体裁，auto 为自动识别")
    no_llm: bool = Field(False, description="只用规则审核")
    clearance: int | None = Field(None, ge=0, description="以低于本人的密级审核（不能高于令牌所属用户的密级）；可写密级名称")
    user: str | None = Field(None, max_length=64, description="记入审计日志的审核人（仅本机命令行令牌可指定）")

    @field_validator("clearance", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        return level_rank(value) if isinstance(value, str) and value.strip() else (None if value == "" else value)


class DraftIn(BaseModel):
    """One draft of a JSON submission (an empty or over-long text becomes a failed item, not a refusal)."""

    id: str | int | None = Field(None, description="文案编号（原样返回）")
    text: str = Field(description="文案文字")


class ReviewJobRequest(JobOptions):
    """A batch of drafts to review."""

    drafts: list[DraftIn] = Field(min_length=1, max_length=MAX_DRAFTS)


def start_runner(app: FastAPI) -> None:
    """Start the job workers; unfinished jobs (the service stopped under them) resume with their pending items."""
    runner = JobRunner(app.state.service.resources)
    app.state.jobs = app.state.service.resources.jobs = runner
    runner.start()


def stop_runner(app: FastAPI) -> None:
    """Stop taking items and wait (bounded) for those in flight."""
    runner: JobRunner | None = getattr(app.state, "jobs", None)
    if runner is not None:
        runner.stop()


def _validated(model: type[BaseModel], data: bytes | dict) -> BaseModel:
    try:
        return model.model_validate_json(data) if isinstance(data, bytes) else model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None


async def _uploaded(request: Request) -> tuple[JobOptions, list[tuple[str, bytes]]]:
    """The form's options and its files (name, bytes); 413 when the files are larger than ``max_file_mb`` together."""
    max_bytes = int(request.app.state.service.resources.settings.max_file_mb * 2**20)
    form = await request.form(max_files=MAX_DRAFTS, max_fields=20)
    try:
        options = _validated(JobOptions, {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "files"})
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise HTTPException(status_code=422, detail="请在 files 字段上传至少一个文件（JSONL、XLSX、ZIP 或 TXT/DOCX/PDF）")
        size = sum(u.size or 0 for u in uploads)
        if size > max_bytes:
            raise HTTPException(status_code=413, detail=f"上传文件共 {format_size(size)}，超过上限 {format_size(max_bytes)}，请拆分后分批提交")
        return options, [(u.filename or "上传文件", await u.read()) for u in uploads]
    finally:
        await form.close()


def _submit(request: Request, caller: Caller, options: JobOptions, drafts: list[DraftInput]) -> str:
    con = request.app.state.service.resources.cursor()
    job_id = submit_job(con, drafts, username=caller.actor(options.user), clearance=caller.clearance(options.clearance),
                        options={"genre": options.genre, "no_llm": options.no_llm})
    request.app.state.jobs.enqueue(job_id)
    return job_id


@router.post("/jobs/review", status_code=202, summary="提交批量审核任务")
async def submit_review(request: Request, caller: Caller = Depends(allowed("review"))) -> dict:
    """Submit drafts for review as one job: a JSON body ``{drafts: [{id, text}], genre, no_llm, clearance, user}``, or
    ``multipart/form-data`` with one or more ``files`` (JSONL lines ``{id, text}``, XLSX with id/text columns, ZIP
    of TXT/DOCX/PDF, or TXT/DOCX/PDF files) and the same options as form fields. The job is stored before the answer
    (202): ``{job_id, total, errors: [{file, line, id, error}]}``; the drafts in ``errors`` are failed items of the
    job, the rest are reviewed in the background (``GET /v1/jobs/{job_id}``)."""
    settings = request.app.state.service.resources.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "multipart/form-data":
            options, files = await _uploaded(request)
            drafts = await run_in_threadpool(upload_drafts, files, settings)
        elif content_type in ("application/json", ""):
            body = await run_in_threadpool(_validated, ReviewJobRequest, await request.body())  # off the event loop
            drafts = await run_in_threadpool(json_drafts, [(d.id, d.text) for d in body.drafts], settings.max_draft_chars)
            options = body
        else:
            raise HTTPException(status_code=415, detail="请求体应为 JSON（application/json）或上传文件（multipart/form-data）")
    except TooManyDrafts as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from None
    if not drafts:
        raise HTTPException(status_code=422, detail="上传的文件中没有文案")
    await run_in_threadpool(check_genre, settings, options.genre)
    job_id = await run_in_threadpool(_submit, request, caller, options, drafts)
    return {"job_id": job_id, "total": len(drafts), "errors": [d.problem() for d in drafts if d.error]}


def _is_admin(caller: Caller) -> bool:
    return caller.user.role == "admin"


def _visible(request: Request, caller: Caller, job_id: str) -> Job:
    """The job, when the caller submitted it (or is an administrator) and holds its clearance; 404 otherwise."""
    job = get_job(request.app.state.service.resources.cursor(), job_id)
    if (job is None or not (_is_admin(caller) or job.username == caller.user.username)
            or job.clearance > caller.user.clearance):
        raise HTTPException(status_code=404, detail=f"没有任务 {job_id}")
    return job


@router.get("/jobs", summary="批量任务列表")
def jobs(request: Request, limit: int = Query(50, ge=1, le=500), caller: Caller = Depends(allowed("review"))) -> dict:
    """The caller's latest jobs, newest first (an administrator's: everyone's), those above the caller's clearance left out."""
    found = list_jobs(request.app.state.service.resources.cursor(), username=None if _is_admin(caller) else caller.user.username,
                      max_clearance=caller.user.clearance, limit=limit)
    return {"jobs": [j.as_json() for j in found]}


@router.get("/jobs/{job_id}", summary="批量任务进度")
def job(job_id: str, request: Request, caller: Caller = Depends(allowed("review"))) -> dict:
    """The job's state and counts: ``total``, ``done`` (reviewed), ``failed``; ``state`` is ``done`` when none is left."""
    return _visible(request, caller, job_id).as_json()


@router.get("/jobs/{job_id}/results", summary="批量任务结果")
def results(job_id: str, request: Request, offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=500),
            caller: Caller = Depends(allowed("review"))) -> dict:
    """A page of the items in order, ``{seq, id, state}`` with ``result`` (as a ``comply review --drafts`` line) or
    ``error``; ``next_offset`` is None on the last page."""
    found = _visible(request, caller, job_id)
    items = job_items(request.app.state.service.resources.cursor(), job_id, offset, limit)
    return {"items": items, "next_offset": offset + limit if offset + limit < found.total else None}


@router.get("/jobs/{job_id}/export", summary="导出批量任务结果（Excel）")
def export(job_id: str, request: Request, caller: Caller = Depends(allowed("review"))) -> Response:
    """Every item as one row of an XLSX sheet: 编号 / 状态 / 问题数 / 问题（类别：片段） / 错误."""
    found = _visible(request, caller, job_id)
    resources = request.app.state.service.resources
    data = export_xlsx(resources.cursor(), resources.settings, found)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{job_id}.xlsx"'})
