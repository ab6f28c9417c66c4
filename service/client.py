"""A client of the service's API (used by the command line when a service runs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2

from service.locate import Endpoint


class ServiceError(RuntimeError):
    """The service refused or failed a call; ``str(e)`` is its Chinese message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _message(response: httpx2.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return f"服务返回 {response.status_code}"
    if isinstance(detail, list):  # a validation error: name the fields
        return "；".join(f"{'.'.join(str(p) for p in d.get('loc', []))}：{d.get('msg', '')}" for d in detail)
    return str(detail)


class ServiceClient:
    """Calls one service with one token; every call raises :class:`ServiceError` on a status ≥ 400."""

    def __init__(self, endpoint: Endpoint, timeout_s: float = 600.0) -> None:
        self.endpoint = endpoint
        self._http = httpx2.Client(base_url=endpoint.url, timeout=httpx2.Timeout(timeout_s, connect=5.0),
                                   headers={"Authorization": f"Bearer {endpoint.token}"})

    def _check(self, response: httpx2.Response) -> httpx2.Response:
        if response.status_code >= 400:
            raise ServiceError(response.status_code, _message(response))
        return response

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON resource."""
        return self._check(self._http.get(path, params={k: v for k, v in params.items() if v is not None})).json()

    def post(self, path: str, body: dict | None = None, *, files: dict | list[tuple] | None = None,
             data: dict | None = None) -> Any:
        """POST JSON (or a multipart form with ``files``) and return the JSON answer."""
        if files is not None:
            return self._check(self._http.post(path, files=files, data=data or {})).json()
        return self._check(self._http.post(path, json=body or {})).json()

    def delete(self, path: str) -> Any:
        """DELETE a resource."""
        return self._check(self._http.delete(path)).json()

    def events(self, path: str, body: dict) -> Iterator[tuple[str, Any]]:
        """POST and read a Server-Sent Events answer as (event, JSON data) pairs."""
        with self._http.stream("POST", path, json=body, headers={"Accept": "text/event-stream"}) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            event, data = "message", []
            for line in response.iter_lines():
                if not line:
                    if data:
                        yield event, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
