"""Marketing-draft review (pasted text or an uploaded file) and the detail of one penalty case."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field

from comply.files.limits import ReadLimits, oversize_message
from retrieval.cases import case_clauses, case_detail
from review.draft import Draft, DraftError, draft_from_text
from review.genre import AUTO
from review.inputs import read_draft
from service.auth import Caller, allowed
from service.fields import check_genre
from service.resources import Resources

router = APIRouter(prefix="/v1", tags=["文案审核"])


class ReviewRequest(BaseModel):
    """One pasted draft to review."""

    text: str = Field(min_length=1, description="文案文字")
    genre: str = Field(AUTO, max_length=64, description="文案体裁（auto 自动识别）")
    no_llm: bool = Field(False, description="只用规则审核")
    rewrite: bool = Field(True, description="给出改写稿")
    source: str = Field("api", min_length=1, max_length=200, description="报告中文案的来源名称")
    clearance: int | None = Field(None, ge=0, description="以低于本人的密级审核（不能高于令牌所属用户的密级）")
    user: str | None = Field(None, max_length=64, description="记入审计日志的审核人（仅本机命令行令牌可指定）")


def _resources(request: Request) -> Resources:
    return request.app.state.service.resources


def _review(resources: Resources, caller: Caller, draft: Draft, source: str, *, genre: str, no_llm: bool, rewrite: bool,
            clearance: int | None, user: str | None) -> dict:
    """What ``comply review --json`` prints for one draft, reviewed at the caller's clearance (and audited)."""
    with resources.reviewer(with_llm=not no_llm) as reviewer:
        try:
            report = reviewer.review(draft.text, clearance=caller.clearance(clearance), user=caller.actor(user), genre=genre,
                                     rewrite=rewrite)
        except DraftError as exc:
            raise HTTPException(status_code=422, detail=exc.message) from None
    return {**report.as_json(source), "notice": report.notice, "rewrite": report.rewrite, "rewrite_note": report.rewrite_note,
            "dropped": report.dropped, "rounds": report.rounds, "total_s": round(report.total_s, 3),
            "genre_detected": report.genre_detected}


@router.post("/review", summary="审核营销文案（粘贴文字）")
def review(body: ReviewRequest, request: Request, caller: Caller = Depends(allowed("review"))) -> dict:
    """Findings with their clauses (within the caller's clearance), similar cases and a re-reviewed rewrite."""
    resources = _resources(request)
    check_genre(resources.settings, body.genre)
    try:
        draft = draft_from_text(body.text, resources.settings.max_draft_chars)
    except DraftError as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None
    return _review(resources, caller, draft, body.source, genre=body.genre, no_llm=body.no_llm, rewrite=body.rewrite,
                   clearance=body.clearance, user=body.user)


@router.post("/review/file", summary="审核营销文案（上传 TXT / DOCX / PDF / 图片）")
def review_file(
    request: Request,
    file: UploadFile = File(description="文案文件：TXT、DOCX、PDF 或图片（PNG/JPG）"),
    genre: str = Form(AUTO, max_length=64),
    no_llm: bool = Form(False),
    rewrite: bool = Form(True),
    clearance: int | None = Form(None, ge=0),
    user: str | None = Form(None, max_length=64),
    caller: Caller = Depends(allowed("review")),
) -> dict:
    """The same report for an uploaded file (413 over ``max_file_mb``; 422 when it cannot be read, with the reason)."""
    resources = _resources(request)
    settings = resources.settings
    check_genre(resources.settings, genre)
    name = file.filename or "上传文件"
    max_bytes = int(settings.max_file_mb * 2**20)
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(status_code=413, detail=oversize_message(name, file.size or len(data), max_bytes))
    try:
        draft = read_draft(name, data, settings.max_file_mb, ReadLimits.of(settings))
    except DraftError as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None
    return _review(resources, caller, draft, draft.source, genre=genre, no_llm=no_llm, rewrite=rewrite, clearance=clearance,
                   user=user)


@router.get("/cases/{case_id}", summary="处罚案例详情及所引条款")
def case(case_id: str, request: Request, caller: Caller = Depends(allowed("cases"))) -> dict:
    """One case with its fields and the clauses it cites, at the caller's clearance (404 when unknown or above it)."""
    cur = _resources(request).cursor()
    clearance = caller.clearance()
    found = case_detail(cur, case_id, clearance)
    if found is None:
        raise HTTPException(status_code=404, detail=f"找不到案例 {case_id}")
    return {**found, "clauses": case_clauses(cur, case_id, clearance)}
