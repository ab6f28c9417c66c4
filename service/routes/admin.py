"""Administration: the audit chain (verify, export at the caller's clearance), user accounts and API tokens.

Nobody grants a clearance above their own: not to a new or changed account, nor through a token for a user who
holds a higher one (403). Every change is audited by the account and token functions, as the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from assistant import accounts, tokens
from assistant.accounts import User
from comply import audit, audit_view
from service.auth import Caller, allowed
from service.fields import Level, not_above

router = APIRouter(prefix="/v1", tags=["管理"])

ROLE_HELP = "角色：" + " / ".join(accounts.ROLES)


class NewUser(BaseModel):
    """An account to create."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024, repr=False)
    role: str = Field(max_length=32, description=ROLE_HELP)
    clearance: Level
    display_name: str = Field("", max_length=100)
    actor: str | None = Field(None, max_length=64, description="记入审计日志的操作人（仅本机命令行）")


class UserChange(BaseModel):
    """What to change of an account (omitted fields stay)."""

    role: str | None = Field(None, max_length=32, description=ROLE_HELP)
    clearance: Level | None = None
    disabled: bool | None = None
    display_name: str | None = Field(None, max_length=100)
    actor: str | None = Field(None, max_length=64, description="记入审计日志的操作人（仅本机命令行）")


class NewToken(BaseModel):
    """An API token to create for a user."""

    user: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=64, description="令牌名称（记入每次调用的审计日志），默认 <用户名>-token")
    days: int = Field(90, ge=0, le=tokens.MAX_DAYS, description="有效天数，0 表示不过期")
    actor: str | None = Field(None, max_length=64, description="记入审计日志的操作人（仅本机命令行）")


def _user_json(user: User) -> dict:
    """An account for listings (never its password hash)."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role, "role_name": user.role_name,
            "clearance": user.clearance, "clearance_name": user.clearance_name, "disabled": user.disabled}


def _existing(cur, caller: Caller, username: str) -> User:  # noqa: ANN001  (a DuckDB cursor)
    """The account, when it is at or below the caller's clearance; 404 otherwise, as if absent (nobody changes, disables
    or issues tokens for an account above their own clearance)."""
    user = accounts.get_user(cur, username)
    if user is None or user.clearance > caller.clearance():
        raise HTTPException(status_code=404, detail=f"用户 {username} 不存在")
    return user


@router.get("/audit/verify", summary="校验审计日志哈希链")
def verify_audit(request: Request, seal: Annotated[bool, Query(description="校验完整时写入新锚点")] = False,
                 caller: Caller = Depends(allowed("audit"))) -> dict:
    """Every row's link, hash and signature, then the checkpoints; the first broken row and why. Reading only, unless
    ``seal``: then an intact chain's head is checkpointed too (as ``comply audit verify`` does)."""
    resources = request.app.state.service.resources
    report = (audit.seal if seal else audit.verify)(resources.cursor(), resources.settings)
    return {**report.__dict__, "summary": report.summary()}


@router.get("/audit/export", summary="导出审计日志（ZIP）", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
def export_audit(request: Request, clearance: Annotated[int | None, Query(ge=0, description="以低于本人的密级导出")] = None,
                 caller: Caller = Depends(allowed("audit"))) -> Response:
    """Seal the head (when the chain verifies) and export the rows seen at the caller's clearance (or the lower one
    asked for), the checkpoints and the public key; ``X-Audit-Chain-Ok`` says whether the chain verified."""
    resources = request.app.state.service.resources
    report, data = audit_view.export_zip(resources.cursor(), resources.settings, caller.clearance(clearance))
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="audit_export.zip"',
                             "X-Audit-Chain-Ok": "true" if report.ok else "false"})


@router.get("/users", summary="用户列表")
def list_users(request: Request, caller: Caller = Depends(allowed("users"))) -> dict:
    """Every account at or below the caller's clearance, by username (never a password hash)."""
    return {"users": [_user_json(u) for u in accounts.list_users(request.app.state.service.resources.cursor())
                      if u.clearance <= caller.clearance()]}


@router.post("/users", summary="新建用户", status_code=201)
def create_user(body: NewUser, request: Request, caller: Caller = Depends(allowed("users"))) -> dict:
    """Create an account (audited as the caller); a password the policy refuses gets 422 with the reason."""
    not_above(caller, body.clearance, "授予")
    try:
        user = accounts.create_user(request.app.state.service.resources.cursor(), body.username, body.password, body.role,
                                    body.clearance, body.display_name, actor=caller.actor(body.actor))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return _user_json(user)


@router.patch("/users/{username}", summary="修改用户的角色、密级、显示名或停用")
def update_user(username: str, body: UserChange, request: Request, caller: Caller = Depends(allowed("users"))) -> dict:
    """Change an account (audited as the caller); leaving no enabled administrator is refused (422)."""
    cur = request.app.state.service.resources.cursor()
    _existing(cur, caller, username)
    not_above(caller, body.clearance, "授予")
    try:
        user = accounts.update_user(cur, username, role=body.role, clearance=body.clearance, disabled=body.disabled,
                                    display_name=body.display_name, actor=caller.actor(body.actor))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return _user_json(user)


@router.get("/tokens", summary="接口令牌列表（不含令牌本身）")
def list_tokens(request: Request, user: Annotated[str | None, Query(max_length=64)] = None,
                caller: Caller = Depends(allowed("users"))) -> dict:
    """Tokens (of one user, or all) of accounts at or below the caller's clearance, newest first."""
    cur = request.app.state.service.resources.cursor()
    visible = {u.username for u in accounts.list_users(cur) if u.clearance <= caller.clearance()}
    return {"tokens": [t.as_json() for t in tokens.list_tokens(cur, user) if t.username in visible]}


@router.post("/tokens", summary="新建接口令牌（令牌只在此次返回）", status_code=201)
def create_token(body: NewToken, request: Request, caller: Caller = Depends(allowed("users"))) -> dict:
    """A token acting as the user (shown only in this answer) and its record."""
    cur = request.app.state.service.resources.cursor()
    _existing(cur, caller, body.user)
    if caller.expires_at is not None:  # a token made with a token never outlives it (a stolen one cannot renew itself)
        left = (caller.expires_at - datetime.now(UTC).replace(tzinfo=None)).days
        if body.days == 0 or body.days > left:
            raise HTTPException(status_code=403, detail=f"用令牌新建的令牌不能比本令牌更晚到期：有效期最多 {max(left, 0)} 天"
                                                        "（更长的令牌请在本机用 comply tokens create 新建）")
    try:
        token, info = tokens.create_token(cur, body.user, body.name, body.days, actor=caller.actor(body.actor))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return {"token": token, **info.as_json()}


@router.delete("/tokens/{token_id}", summary="吊销接口令牌")
def revoke_token(token_id: str, request: Request, actor: Annotated[str | None, Query(max_length=64)] = None,
                 caller: Caller = Depends(allowed("users"))) -> dict:
    """Revoke a token at once (revoking a revoked one changes nothing); a token of an account above the caller's
    clearance is answered 404, as if absent."""
    cur = request.app.state.service.resources.cursor()
    owner = next((t.username for t in tokens.list_tokens(cur) if t.token_id == token_id), None)
    if owner is None:
        raise HTTPException(status_code=404, detail=f"没有编号为 {token_id} 的令牌")
    _existing(cur, caller, owner)
    info = tokens.revoke_token(cur, token_id, actor=caller.actor(actor))
    return info.as_json()
