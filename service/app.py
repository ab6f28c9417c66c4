"""The ASGI application: the service's state, its middleware (body limits, the call log) and its routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from comply.config import Settings
from comply.db import DatabaseBusyError
from retrieval.search import NoIndexError
from service import errors
from service.calls import CallLog
from service.limits import BodyLimits, RateLimiter
from service.resources import Busy, Resources

API_VERSION = "1"


@dataclass
class Service:
    """What every request can reach: the owned resources, the local token, the rate limiter, the call log."""

    resources: Resources
    local_token: str
    limiter: RateLimiter
    calls: CallLog


class _CallLogging:
    """ASGI middleware: each authenticated call is recorded (``api.call``) once it has been answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracking_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            caller = scope.get("state", {}).get("caller")
            if caller is not None:
                route = scope.get("route")
                path = getattr(route, "path", None) or scope["path"]
                scope["app"].state.service.calls.record(caller.user.username, caller.token_id, caller.token_name,
                                                        scope["method"], path, status)


def create_app(settings: Settings, local_token: str = "", *, llm: bool = True) -> FastAPI:
    """The service's ASGI app; its resources are opened at start-up and closed at shutdown (``llm=False``: no model)."""
    from service.routes import admin, ask, documents, generate, health, jobs, review, search

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings, llm=llm)
        service = Service(resources, local_token, RateLimiter(settings.service_rate_per_min), CallLog(resources.con))
        app.state.service = service
        jobs.start_runner(app)
        try:
            yield
        finally:
            jobs.stop_runner(app)
            service.calls.close()
            resources.close()

    app = FastAPI(title="合规智能助手 API", version=API_VERSION, lifespan=lifespan,
                  description="证券公司合规知识库检索、问答、营销文案审核与知识库管理接口。每个调用都带 Bearer 令牌，按令牌所属用户的角色和密级执行，并记入审计日志。")
    for module in (health, search, ask, review, generate, jobs, documents, admin):
        app.include_router(module.router)

    @app.exception_handler(DatabaseBusyError)
    async def _busy_db(request: Request, exc: DatabaseBusyError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(NoIndexError)
    async def _no_index(request: Request, exc: NoIndexError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    errors.install(app)
    app.add_middleware(_CallLogging)
    app.add_middleware(BodyLimits, max_bytes=int(settings.service_max_body_mb * 1024 * 1024),
                       deadline_s=settings.service_slow_client_s)
    return app
