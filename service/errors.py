"""Errors as the API answers them: in Chinese, as JSON, validation errors naming the field and never echoing its value
(a rejected password or draft is not sent back)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

_LOG = logging.getLogger(__name__)

# pydantic's error types → the message shown (filled from the error's ``ctx``); other types keep pydantic's message
MESSAGES: dict[str, str] = {
    "missing": "缺少此字段", "json_invalid": "不是合法的 JSON", "json_type": "不是合法的 JSON",
    "string_type": "应为字符串", "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数",
    "float_type": "应为数字", "float_parsing": "应为数字", "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象", "model_attributes_type": "应为对象",
    "string_too_short": "至少 {min_length} 个字符", "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项", "too_long": "最多 {max_length} 项",
    "greater_than_equal": "不能小于 {ge}", "less_than_equal": "不能大于 {le}", "greater_than": "须大于 {gt}",
    "less_than": "须小于 {lt}", "literal_error": "只能取 {expected}", "enum": "只能取 {expected}",
    "extra_forbidden": "不允许的字段", "value_error": "{error}",
}
_STATUS: dict[int, str] = {404: "没有这个接口或对象", 405: "此接口不支持该请求方法"}


def _message(error: dict) -> str:
    template = MESSAGES.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg", ""))
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        return str(error.get("msg", ""))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = [{"loc": list(e.get("loc", ())), "msg": _message(e), "type": e.get("type", "")} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if isinstance(detail, str) and exc.status_code in _STATUS and detail.isascii():  # the framework's own English text
        detail = _STATUS[exc.status_code]
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _LOG.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse({"detail": "服务内部错误，请稍后重试（详情见服务日志）"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
