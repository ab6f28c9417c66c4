"""Test double of a Hugging Face text-generation-inference (TGI) server at the HTTP boundary; used only by tests.

`TgiDouble` is a real HTTP server on 127.0.0.1 that speaks TGI's protocol (`/health`, `/info`, `/v1/models`,
`/v1/chat/completions` with JSON and server-sent-event replies). It checks every chat request against TGI's
published OpenAPI schema (`shared/tgi/openapi.json`), answers 422 to requests that do not conform and keeps
those violations in `schema_errors`, records every request in `requests`, and answers with scripted `Reply`s.
It generates nothing: the content of each answer is whatever the test scripted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "shared" / "tgi" / "openapi.json"
VERSION = "3.3.6-dev0"
DEFAULT_CONTENT = "默认回答"

_ERROR_TYPES = {422: "validation", 424: "generation", 429: "overloaded", 500: "incomplete_generation"}
_ERROR_TEXTS = {
    422: "Input validation error",
    424: "Request failed during generation",
    429: "Model is overloaded",
    500: "Incomplete generation",
}
_DROPPED_KEYWORDS = {"example", "discriminator"}


# --------------------------------------------------------------------------------------------- schema


def _convert(node: Any) -> Any:
    """One OpenAPI 3.0 schema object as JSON Schema 2020-12: `nullable` becomes an allowed null, and
    `example` / `discriminator` are dropped (keys of `properties` are property names and are kept)."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS or key == "nullable":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        else:
            out[key] = _convert(value)
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif isinstance(out.get("type"), list):
            out["type"] = [*out["type"], "null"] if "null" not in out["type"] else out["type"]
        else:  # allOf / oneOf / $ref / no type at all
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def _components() -> dict[str, Any]:
    """The converted `components` section of TGI's OpenAPI document, loaded once per process."""
    document = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return {"schemas": {name: _convert(s) for name, s in document["components"]["schemas"].items()}}


@cache
def _validator(component: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<component>`, with all components embedded for `$ref`s."""
    components = _components()
    if component not in components["schemas"]:
        raise KeyError(f"no schema component {component!r} in {SCHEMA_PATH}")
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": components})


def validate(component: str, instance: object) -> list[str]:
    """Messages for each way `instance` breaks schema component `component` (e.g. "ChatRequest"); [] when valid."""
    errors = sorted(_validator(component).iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    messages = []
    for error in errors:
        where = "".join(f"[{p!r}]" for p in error.absolute_path)
        message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
        messages.append(f"{component}{where}: {message}")
    return messages


# --------------------------------------------------------------------------------------------- script


@dataclass
class Reply:
    """One scripted answer of the double to a chat request.

    `content` is the assistant text (`content_fn(request_body)` computes it instead when set). A `status` other
    than 200 answers with an ErrorResponse (`error` = content or TGI's usual text, `error_type` from the status:
    422 validation, 424 generation, 429 overloaded, 500 incomplete_generation, unless `error_type` is given).
    `delay_s` waits before the status line is sent; `chunk_delay_s` waits between stream chunks of `chunk_chars`
    characters; `trickle_s` waits between the bytes of a non-streaming body (a server that trickles its answer
    just inside the client's read timeout). Waits end early when the double is closed.
    """

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    chunk_chars: int = 4
    content_fn: Callable[[dict[str, Any]], str] | None = None
    error_type: str | None = None
    trickle_s: float = 0.0

    def text(self, body: dict[str, Any]) -> str:
        """The assistant text (or error message) for request `body`."""
        return self.content_fn(body) if self.content_fn is not None else self.content


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the double received it: path (with query), parsed JSON body (None for GET or
    unparseable bodies) and headers (names lower-cased)."""

    path: str
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- server


class _Closed(Exception):
    """The double was closed while a handler was waiting; the handler drops the connection."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    double: TgiDouble

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 - quiet on disconnects
        """Client disconnects (timeouts in tests) are expected; nothing is printed."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # one request per connection ("Connection: close"); streams are chunked
    server_version = "text-generation-router-double"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        """Silent: tests read `TgiDouble.requests` instead of a log."""

    def do_GET(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, raw: bytes | None) -> None:
        self.close_connection = True
        try:
            self.server.double._handle(self, raw)
        except (_Closed, ConnectionError, TimeoutError):
            pass  # closed double or departed client: the connection just drops

    def send_json(self, status: int, payload: object, wait: Callable[[], None] | None = None) -> None:
        """One complete JSON response; with `wait`, its body is sent one byte at a time, calling `wait` between bytes."""
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if wait is None:
            self.wfile.write(data)
            return
        for n in range(len(data)):
            if n:
                wait()
            self.wfile.write(data[n : n + 1])
            self.wfile.flush()

    def send_empty(self, status: int) -> None:
        """A response with no body."""
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        """One piece of a `Transfer-Encoding: chunked` body (b"" ends the body)."""
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def error_body(status: int, message: str = "", error_type: str | None = None) -> dict[str, str]:
    """TGI's ErrorResponse for `status`."""
    return {
        "error": message or _ERROR_TEXTS.get(status, "Request failed"),
        "error_type": error_type or _ERROR_TYPES.get(status, "generation"),
    }


class TgiDouble:
    """A fake TGI server on 127.0.0.1 (random port), started on construction; use `with TgiDouble() as tgi:`.

    `url` is the base URL to give the client; `requests` every request in arrival order; `schema_errors` every
    way a chat request broke TGI's ChatRequest schema (assert it is empty); `enqueue()` scripts the next
    answers, and `default_reply` answers once the script is used up.
    """

    def __init__(self, model_id: str = "test/tgi-double", healthy: bool = True, default: Reply | None = None) -> None:
        self.model_id = model_id
        self.healthy = healthy
        self.default_reply = default if default is not None else Reply(content=DEFAULT_CONTENT)
        self.requests: list[RecordedRequest] = []
        self.schema_errors: list[str] = []
        self.handler_errors: list[str] = []
        self.created = int(time.time())
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.double = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="tgi-double", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> TgiDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; waiting handlers give up at once and drop their connections. Idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def enqueue(self, *replies: Reply) -> None:
        """Script the answers to the next chat requests, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded requests to `/v1/chat/completions`."""
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == "/v1/chat/completions"]

    @property
    def pending(self) -> int:
        """How many scripted replies are not used yet."""
        with self._lock:
            return len(self._script)

    # -- request handling (runs on the server's handler threads) -------------------------------------

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._closing.wait(seconds):
            raise _Closed

    def _handle(self, h: _Handler, raw: bytes | None) -> None:
        body: dict[str, Any] | None = None
        parse_error = ""
        if raw is not None:
            try:
                parsed = json.loads(raw.decode("utf-8"))
                body = parsed if isinstance(parsed, dict) else None
                if body is None:
                    parse_error = "request body is not a JSON object"
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                parse_error = f"request body is not JSON: {exc}"
        with self._lock:
            self.requests.append(RecordedRequest(h.path, body, {k.lower(): v for k, v in h.headers.items()}))
        route = (h.command, urlsplit(h.path).path.rstrip("/") or "/")
        if route == ("GET", "/health"):
            if self.healthy:
                h.send_empty(200)
            else:
                h.send_json(503, error_body(503, "unhealthy", "healthcheck"))
        elif route == ("GET", "/info"):
            h.send_json(200, self.info())
        elif route == ("GET", "/v1/models"):
            model = {"id": self.model_id, "object": "model", "created": self.created, "owned_by": "tgi-double"}
            h.send_json(200, {"object": "list", "data": [model]})
        elif route == ("POST", "/v1/chat/completions"):
            self._chat(h, body, parse_error)
        else:
            h.send_empty(404)

    def info(self) -> dict[str, Any]:
        """The `/info` answer (TGI's Info component)."""
        return {
            "model_id": self.model_id,
            "model_sha": None,
            "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": 128,
            "max_best_of": 2,
            "max_stop_sequences": 4,
            "max_input_tokens": 8191,
            "max_total_tokens": 8192,
            "validation_workers": 2,
            "max_client_batch_size": 4,
            "router": "text-generation-router",
            "version": VERSION,
            "sha": None,
            "docker_label": None,
        }

    def _chat(self, h: _Handler, body: dict[str, Any] | None, parse_error: str) -> None:
        errors = [parse_error] if parse_error else validate("ChatRequest", body)
        if errors:
            with self._lock:
                self.schema_errors.extend(errors)
            h.send_json(422, error_body(422, "; ".join(errors)))
            return
        assert body is not None
        with self._lock:
            reply = self._script.popleft() if self._script else self.default_reply
        try:
            text = reply.text(body)
        except Exception as exc:  # a broken content_fn is a test bug: report it loudly but keep serving
            message = f"content_fn failed: {type(exc).__name__}: {exc}"
            with self._lock:
                self.handler_errors.append(message)
            h.send_json(500, error_body(500, message, "double"))
            return
        self._wait(reply.delay_s)
        if reply.status != 200:
            h.send_json(reply.status, error_body(reply.status, text, reply.error_type))
        elif body.get("stream") is True:
            self._stream(h, body, reply, text)
        else:
            trickle = (lambda: self._wait(reply.trickle_s)) if reply.trickle_s > 0 else None
            h.send_json(200, self.completion(body, text), trickle)

    def _envelope(self, obj: str) -> dict[str, Any]:
        return {
            "object": obj,
            "id": "",
            "created": int(time.time()),
            "model": self.model_id,
            "system_fingerprint": f"{VERSION}-native",
        }

    @staticmethod
    def usage(body: dict[str, Any], text: str) -> dict[str, int]:
        """Token counts, approximated as characters (prompt: the string contents of the messages)."""
        prompt = sum(len(m["content"]) for m in body["messages"] if isinstance(m.get("content"), str))
        return {"prompt_tokens": prompt, "completion_tokens": len(text), "total_tokens": prompt + len(text)}

    def completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        """A non-streaming answer (TGI's ChatCompletion component)."""
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": "stop",
        }
        return {**self._envelope("chat.completion"), "choices": [choice], "usage": self.usage(body, text)}

    def chunks(self, body: dict[str, Any], text: str, chunk_chars: int) -> Iterator[dict[str, Any]]:
        """The streamed answer (TGI's ChatCompletionChunk components), before `data: [DONE]`."""
        size = chunk_chars if chunk_chars > 0 else max(len(text), 1)
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        for piece, finish in [*((p, None) for p in pieces), ("", "stop")]:
            choice = {
                "index": 0,
                "delta": {"role": "assistant", "content": piece},
                "logprobs": None,
                "finish_reason": finish,
            }
            yield {**self._envelope("chat.completion.chunk"), "choices": [choice], "usage": None}
        if (body.get("stream_options") or {}).get("include_usage"):
            yield {**self._envelope("chat.completion.chunk"), "choices": [], "usage": self.usage(body, text)}

    def _stream(self, h: _Handler, body: dict[str, Any], reply: Reply, text: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        for n, chunk in enumerate(self.chunks(body, text, reply.chunk_chars)):
            if n:
                self._wait(reply.chunk_delay_s)
            h.send_chunk(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        h.send_chunk(b"data: [DONE]\n\n")
        h.send_chunk(b"")
