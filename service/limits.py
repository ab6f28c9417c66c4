"""Bounds on every call: request body size (413 before the body is read), time to send it (408, so a slow client
holds no worker) and calls per token (429)."""

from __future__ import annotations

import json
import threading
import time

import anyio
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(HTTPException):
    """Raised from ``receive`` (an HTTPException, so that the framework's body parsing passes it through as a 413)."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=413, detail=message, headers={"Connection": "close"})


class _TooSlow(HTTPException):
    """Raised from ``receive`` when the body does not arrive in time (408)."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=408, detail=message, headers={"Connection": "close"})


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimits:
    """ASGI middleware: a body over ``max_bytes`` gets 413 (at once when its Content-Length says so, else as soon as
    that much has arrived); a body not complete within ``deadline_s`` gets 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, deadline_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        mb = self.max_bytes / 1024 / 1024
        too_large = f"请求体过大：最多 {mb:g} MB"
        too_slow = f"请求体未能在 {self.deadline_s:g} 秒内传完"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and not length.isdigit():
            await _refuse(send, 400, "Content-Length 不是数字")
            return
        if length is not None and int(length) > self.max_bytes:
            await _refuse(send, 413, too_large)
            return
        received = 0
        deadline = time.monotonic() + self.deadline_s
        started = False

        async def limited_receive() -> Message:
            nonlocal received, deadline
            remaining = deadline - time.monotonic()
            try:
                with anyio.fail_after(max(remaining, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow(too_slow) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(too_large)
                if not message.get("more_body"):
                    deadline = float("inf")  # the body is complete: the call itself may take its time
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_TooLarge, _TooSlow) as exc:  # raised where no exception handler runs (say, in a streaming body)
            if not started:
                await _refuse(send, exc.status_code, exc.detail)


class RateLimiter:
    """A token bucket per API token: ``per_min`` calls a minute, up to a tenth of them (at least 5) at once."""

    def __init__(self, per_min: int) -> None:
        self.rate = per_min / 60.0
        self.burst = max(5.0, per_min / 10.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one call from the key's bucket.

        Raises:
            HTTPException: 429 with ``Retry-After`` when the bucket is empty.
        """
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise HTTPException(status_code=429, detail=f"调用过于频繁，请 {wait:.0f} 秒后重试",
                                    headers={"Retry-After": str(max(1, round(wait)))})
            self._buckets[key] = (tokens - 1.0, now)
