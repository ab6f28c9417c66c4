"""One chat client for text-generation-inference and any OpenAI-compatible server (vLLM, SGLang, llama.cpp).

It wraps ``huggingface_hub.InferenceClient`` (TGI's recommended client) pointed at a base URL and
speaks the Messages API (``/v1/chat/completions``). The only per-backend difference is how a JSON
schema is requested (``response_format``); the backend kind is detected from ``/info`` (TGI) or
``/v1/models`` (OpenAI-compatible) by :meth:`LlmClient.probe`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import httpx2
from huggingface_hub import InferenceClient, constants, get_session
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from comply.llm.deadline import DeadlineExceeded, within

T = TypeVar("T", bound=BaseModel)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
TGI, OPENAI, LLAMA_CPP = "tgi", "openai", "llama.cpp"
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


class LlmError(RuntimeError):
    """Base class of LLM failures; the message is shown to users."""


class LlmUnavailable(LlmError):
    """The server could not be reached, timed out, or kept failing."""


class LlmTimeout(LlmUnavailable):
    """The server did not answer within the timeout, or the answer overran the call's deadline."""


class LlmOutputError(LlmError):
    """The model's structured output stayed invalid after one repair attempt."""


@dataclass(frozen=True)
class BackendInfo:
    """What :meth:`LlmClient.probe` found at the base URL."""

    kind: str
    url: str
    model: str
    healthy: bool
    version: str = ""

    def label(self) -> str:
        """A one-line description for the UI and CLI."""
        name = {TGI: "TGI", OPENAI: "OpenAI 兼容服务", LLAMA_CPP: "llama.cpp"}.get(self.kind, self.kind)
        state = "" if self.healthy else "（不可用）"
        return f"{name} {self.url} · {self.model or '未知模型'}{state}"


@dataclass(frozen=True)
class ChatOptions:
    """Generation settings taken from configuration.

    ``timeout_s`` bounds each wait for the server (connecting, or the next piece of an answer);
    ``deadline_s`` bounds a whole call: its request, retries and back-off, and every piece of its answer.
    """

    max_tokens: int = 768
    temperature: float = 0.1
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 0.5
    deadline_s: float = 300.0


def _status(exc: HfHubHTTPError) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _retryable(exc: BaseException) -> bool:
    """A connection failure or a retryable status (a timeout is reported at once, never retried)."""
    if isinstance(exc, HfHubHTTPError):
        return _status(exc) in RETRY_STATUS
    return isinstance(exc, httpx2.TransportError)


class LlmClient:
    """Chat completions (streamed, plain or schema-constrained) against one base URL."""

    def __init__(self, url: str, model: str = "", kind: str = "", options: ChatOptions | None = None) -> None:
        self.url = url.rstrip("/")
        self.options = options or ChatOptions()
        self.model = model
        self.kind = kind
        if constants.is_offline_mode():
            raise LlmUnavailable("环境变量 HF_HUB_OFFLINE 已开启，huggingface_hub 会拦截对大模型服务的所有请求；请取消该变量")
        self._client = InferenceClient(base_url=self.url, timeout=self.options.timeout_s, provider="hf-inference")

    def probe(self) -> BackendInfo:
        """Check ``/health`` and read ``/info`` (TGI) or ``/v1/models``; fills in the model and backend kind.

        Raises:
            LlmUnavailable: nothing answers at the URL.
        """
        try:
            healthy = self._client.health_check()
            info = self._get_json("/info") if self.kind in ("", TGI) else None
            if info and "model_id" in info and "router" in info:
                self.kind = self.kind or TGI
                self.model = self.model or info["model_id"]
                return BackendInfo(TGI, self.url, self.model, healthy, str(info.get("version", "")))
            models = self._get_json("/v1/models") or {}
        except (httpx2.TransportError, InferenceTimeoutError) as exc:
            raise LlmUnavailable(f"无法连接大模型服务 {self.url}：{exc}") from exc
        data = models.get("data") or [{}]
        self.kind = self.kind or OPENAI
        self.model = self.model or str(data[0].get("id", ""))
        return BackendInfo(self.kind, self.url, self.model, healthy or bool(models))

    def _get_json(self, path: str) -> dict | None:
        response = get_session().get(self.url + path, timeout=min(self.options.timeout_s, 10.0))
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _call(self, messages: list[dict], stream: bool, **params: object):
        """Start a chat completion, retrying connection failures and retryable statuses with back-off."""
        opts = self.options
        params = {"max_tokens": opts.max_tokens, "temperature": opts.temperature, **params}
        retrying = Retrying(stop=stop_after_attempt(opts.retries + 1), wait=wait_exponential(multiplier=opts.backoff_s),
                            retry=retry_if_exception(_retryable), reraise=True)
        try:
            return retrying(self._client.chat_completion, messages, model=self.model or "tgi", stream=stream, **params)
        except InferenceTimeoutError as exc:
            raise LlmTimeout(f"大模型服务 {opts.timeout_s:g} 秒内无响应") from exc
        except HfHubHTTPError as exc:
            raise LlmUnavailable(f"大模型服务返回错误（HTTP {_status(exc)}）") from exc
        except httpx2.TransportError as exc:
            raise LlmUnavailable(f"无法连接大模型服务 {self.url}：{exc}") from exc

    def stream(self, messages: list[dict], **params: object) -> Iterator[str]:
        """Yield the answer's text pieces as the server streams them.

        Raises:
            LlmUnavailable: on connection failure, error status, a stalled stream or the call's deadline.
        """
        return self._bounded(lambda: self._pieces(messages, **params))

    def _pieces(self, messages: list[dict], **params: object) -> Iterator[str]:
        chunks = self._call(messages, True, **params)
        try:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except (httpx2.TransportError, InferenceTimeoutError) as exc:
            raise LlmUnavailable(f"大模型输出中断：{type(exc).__name__}") from exc
        except ValueError as exc:
            raise LlmUnavailable(f"大模型流式输出格式错误：{exc}") from exc

    def complete(self, messages: list[dict], **params: object) -> str:
        """The whole answer in one piece (non-streaming), within the call's deadline."""
        return "".join(self._bounded(lambda: iter((self._whole(messages, **params),))))

    def _whole(self, messages: list[dict], **params: object) -> str:
        try:
            output = self._call(messages, False, **params)
        except ValueError as exc:
            raise LlmUnavailable(f"大模型返回格式错误：{exc}") from exc
        return (output.choices[0].message.content or "") if output.choices else ""

    def _bounded(self, produce: Callable[[], Iterator[str]], deadline: float | None = None) -> Iterator[str]:
        """``produce()``'s pieces, the call abandoned with :class:`LlmUnavailable` at ``deadline`` (a ``time.monotonic()``
        instant; by default ``deadline_s`` after the first piece is asked for)."""
        seconds = self.options.deadline_s if deadline is None else deadline - time.monotonic()
        try:
            yield from within(seconds, produce)
        except DeadlineExceeded:
            raise LlmTimeout(f"大模型服务 {self.options.deadline_s:g} 秒内未完成回答（单次调用总时限），已中止") from None

    def response_format(self, schema: dict, name: str) -> dict:
        """The ``response_format`` this backend understands for a JSON schema."""
        if self.kind == TGI:
            return {"type": "json", "value": schema}
        if self.kind == LLAMA_CPP:
            return {"type": "json_object", "schema": schema}
        # OpenAI's form; huggingface_hub sends it as {"type": "json_object", "value": schema}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}

    def structured(self, messages: list[dict], model: type[T], name: str, **params: object) -> T:
        """A schema-constrained answer parsed into ``model``.

        Invalid JSON or a schema violation gets one repair request quoting the error; a second
        failure raises :class:`LlmOutputError` (never a partial or invented object). The answer is
        streamed, so the timeout bounds a stall; ``deadline_s`` bounds the answer and its repair together.
        """
        fmt = self.response_format(model.model_json_schema(), name)
        history = list(messages)
        deadline = time.monotonic() + self.options.deadline_s  # one deadline for the answer and its repair
        for attempt in range(2):
            text = "".join(self._bounded(partial(self._pieces, history, response_format=fmt, **params), deadline))
            try:
                return model.model_validate_json(_FENCE.sub("", text))
            except ValidationError as exc:
                error = exc.errors(include_url=False)[0]
                reason = f"{'.'.join(map(str, error['loc'])) or '整体'}：{error['msg']}"
            if attempt == 0:
                history += [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": f"上面的输出不是符合要求的 JSON（{reason}）。请只输出一个符合 schema 的 JSON 对象，不要任何其他文字。"},
                ]
        raise LlmOutputError(f"大模型两次输出均不是有效的结构化结果（{reason}）")

