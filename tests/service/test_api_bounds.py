"""The service's bounds: malformed or out-of-range bodies (422 naming the field), bodies over the size limit (413
before they are read), clients too slow to send their body (408, holding no worker) and calls over a token's rate
(429). The socket-level cases run against a real uvicorn server on a port of its own."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import httpx
import pytest
import uvicorn

from assistant.accounts import create_user
from assistant.tokens import create_token
from comply.config import Settings
from service.server import build_server

SEARCH = {"query": "证券公司的客户资产", "k": 3}
MAX_BODY_MB = 0.01  # about 10 KB: every normal call fits, a chunked upload of a few chunks does not
SLOW_CLIENT_S = 1.5
RATE_PER_MIN = 6  # a burst of 5 calls, then one more every 10 s


@dataclass
class Served:
    """A running server, its address and the tokens of two compliance users."""

    server: uvicorn.Server
    port: int
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture()
def served(leveled_kb: tuple[Settings, duckdb.DuckDBPyConnection]) -> Iterator[Served]:
    """``comply serve``'s server (no LLM) over ``leveled_kb`` with tight bounds, run in a thread on a free port."""
    settings, con = leveled_kb
    settings = settings.model_copy(update={"llm_mode": "off", "service_max_body_mb": MAX_BODY_MB,
                                           "service_slow_client_s": SLOW_CLIENT_S, "service_rate_per_min": RATE_PER_MIN})
    tokens = {}
    for name in ("alice", "bob"):
        create_user(con, name, "Unusual-pass-2031!", "compliance", 2, actor="test")
        tokens[name] = create_token(con, name, f"{name}-test", 1, actor="test")[0]
    server, _ = build_server(settings, "127.0.0.1", 0, llm=False)
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start"
        yield Served(server, server.servers[0].sockets[0].getsockname()[1], tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _open(port: int, head: str, body: bytes = b"") -> socket.socket:
    """A raw connection that has sent a request's head and the start of its body (and nothing more)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.encode("utf-8") + b"\r\n\r\n" + body)
    return sock


def _head(port: int, token: str, extra: str) -> str:
    return (f"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{extra}")


def _status(sock: socket.socket) -> int:
    """The status code of the response on a raw connection (read until the head has arrived)."""
    data = b""
    while b"\r\n" not in data:
        try:
            piece = sock.recv(4096)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    sock.close()
    assert data.startswith(b"HTTP/1.1 "), data
    return int(data.split(b" ", 2)[1])


def _answered(sock: socket.socket) -> bool:
    """Whether the server has sent anything (or closed) on this connection yet, without waiting."""
    return bool(select.select([sock], [], [], 0)[0])


def test_malformed_or_out_of_bounds_bodies_get_422_naming_the_field(api) -> None:
    auth = api.auth("comp_secret")
    broken = api.client.post("/v1/search", content='{"query": "客户资产', headers={**auth, "Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["detail"][0]["loc"][0] == "body"
    wrong_type = api.client.post("/v1/search", json={"query": "客户资产", "k": "many"}, headers=auth)
    assert wrong_type.status_code == 422 and ["body", "k"] in [e["loc"] for e in wrong_type.json()["detail"]]
    too_long = api.client.post("/v1/search", json={"query": "客" * (api.settings.max_question_chars + 1)}, headers=auth)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "query"] and "查询过长" in too_long.json()["detail"][0]["msg"]
    batch = [{"id": str(i), "query": "客户资产"} for i in range(101)]
    too_many = api.client.post("/v1/search/batch", json={"queries": batch}, headers=auth)
    assert too_many.status_code == 422 and ["body", "queries"] in [e["loc"] for e in too_many.json()["detail"]]
    assert api.client.post("/v1/search/batch", json={"queries": batch[:100], "k": 1}, headers=auth).status_code == 200


def test_a_body_over_the_limit_gets_413_before_it_is_read(served: Served) -> None:
    token = served.tokens["alice"]
    # The head announces a gigabyte; only a few bytes follow, and the client then waits: were the server reading the
    # body, the answer would be 408 after the slow-client deadline, not 413.
    announced = _open(served.port, _head(served.port, token, "Content-Length: 1000000000"), b'{"que')
    assert _status(announced) == 413
    # A chunked body has no length up front: it is refused as soon as more than the limit has arrived.
    chunk = b"a" * 4096
    grown = _open(served.port, _head(served.port, token, "Transfer-Encoding: chunked"),
                  b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)))
    assert 3 * len(chunk) > MAX_BODY_MB * 1024 * 1024
    assert _status(grown) == 413
    response = httpx.post(f"{served.url}/v1/search", json=SEARCH, headers=served.auth("alice"), timeout=60)
    assert response.status_code == 200 and response.json()["hits"]


def test_a_slow_client_gets_408_and_holds_no_worker_meanwhile(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers=served.auth("bob"), timeout=60) as client:
        assert client.post("/v1/search", json=SEARCH).status_code == 200  # the index is loaded before the clock starts
        token = served.tokens["alice"]
        # more slow clients than the thread pool has workers (40): were each holding one, the search below would wait
        withheld = [_open(served.port, _head(served.port, token, "Content-Length: 200"), b'{"query": "') for _ in range(45)]
        dribbler = _open(served.port, _head(served.port, token, "Content-Length: 200"), b"{")
        started = time.monotonic()
        answer = client.post("/v1/search", json=SEARCH)
        assert answer.status_code == 200 and answer.json()["hits"]
        assert not any(_answered(s) for s in [*withheld, dribbler]), "the search was answered only after the slow clients"
        while not _answered(dribbler) and time.monotonic() - started < SLOW_CLIENT_S + 30:
            try:
                dribbler.sendall(b" ")  # a byte now and then does not extend the deadline
            except OSError:
                break
            time.sleep(0.2)
        assert _status(dribbler) == 408
        assert time.monotonic() - started >= SLOW_CLIENT_S - 0.1
        assert [_status(s) for s in withheld] == [408] * len(withheld)


def test_a_token_over_its_rate_gets_429_while_another_token_is_served(served: Served) -> None:
    burst = int(served.server.config.app.state.service.limiter.burst)  # calls a token may make at once
    with httpx.Client(base_url=served.url, timeout=60) as client:
        assert client.post("/v1/search", json=SEARCH, headers=served.auth("bob")).status_code == 200  # loads the index
        answers = [client.post("/v1/search", json=SEARCH, headers=served.auth("alice")) for _ in range(burst + 1)]
        assert [a.status_code for a in answers] == [200] * burst + [429]
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) >= 1 and "调用过于频繁" in refused.json()["detail"]
        assert client.post("/v1/search", json=SEARCH, headers=served.auth("bob")).status_code == 200
