"""Who is calling: a bearer token acting as its user (401 without a valid one), and what their role may use (403).

Two kinds of token: API tokens (``comply tokens create``), each acting as its user with that user's role and
clearance as the database has them at this call; and the service's own token for command-line clients on this
machine (``service.token`` in the data folder, readable only by the owner of the database file, who could open
that file directly anyway), which acts as the local operator: an administrator at the highest clearance who may
name the user or actor to record, as the command line always could.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.accounts import User, can
from assistant.tokens import resolve_token
from comply.levels import LEVELS

LOCAL_NAME = "本机命令行"
_BEARER = HTTPBearer(auto_error=False, scheme_name="bearerToken", description="comply tokens create 生成的接口令牌")
LOCAL_USER = User(username="cli", display_name=LOCAL_NAME, role="admin", clearance=len(LEVELS) - 1)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    user: User
    token_id: str
    token_name: str
    local: bool = False
    expires_at: datetime | None = None  # the presented token's expiry (naive UTC; None: never, or the local token)

    def clearance(self, asked: int | None = None) -> int:
        """The clearance a call runs at: the user's, or lower when the call asks for less (never higher)."""
        own = self.user.clearance
        return own if asked is None else max(0, min(own, asked))

    def actor(self, asked: str | None = None) -> str:
        """Who is recorded in the audit log: the token's user; the local operator may name one (``--user``)."""
        return (asked or self.user.username) if self.local else self.user.username


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="comply"'})


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> Caller:
    """The caller of this request, from ``Authorization: Bearer <token>``.

    Raises:
        HTTPException: 401 when the header is missing or the token is unknown, revoked, expired or its user disabled.
    """
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise _unauthorised("缺少访问令牌（Authorization: Bearer <令牌>）")
    service = request.app.state.service
    if service.local_token and secrets.compare_digest(token.encode(), service.local_token.encode()):
        caller = Caller(LOCAL_USER, "local", LOCAL_NAME, local=True)
    else:
        found = resolve_token(service.resources.cursor(), token)
        if found is None:
            raise _unauthorised("访问令牌无效、已过期或已吊销")
        user, info = found
        caller = Caller(user, info.token_id, info.name, expires_at=info.expires_at)
    request.state.caller = caller
    service.limiter.check(caller.token_id)
    return caller


def allowed(*pages: str):  # noqa: ANN201  (a FastAPI dependency)
    """A dependency admitting callers whose role may open one of these pages of the app (else 403)."""

    def check(caller: Caller = Depends(authenticate)) -> Caller:
        if not any(can(caller.user, page) for page in pages):
            raise HTTPException(status_code=403, detail=f"角色“{caller.user.role_name}”无权调用此接口")
        return caller

    return check
