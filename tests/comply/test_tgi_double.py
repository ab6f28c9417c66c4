"""The TGI test double itself: protocol, schema checks, scripting, timing and shutdown.

Driven with huggingface_hub.InferenceClient (the client the product uses) and with plain httpx for raw checks.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError
from support.tgi_double import DEFAULT_CONTENT, RecordedRequest, Reply, TgiDouble, validate

MESSAGES = [
    {"role": "system", "content": "你是证券公司合规助手。"},
    {"role": "user", "content": "客户适当性管理有哪些要求？"},
]
ANSWER = "根据《证券期货投资者适当性管理办法》第三条，证券公司应当了解客户。"


@pytest.fixture()
def tgi() -> Any:
    with TgiDouble() as double:
        yield double
    assert double.handler_errors == []


def chat(url: str, body: dict[str, Any], timeout: float = 5.0) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=timeout)


def sse_events(raw: str) -> list[str]:
    """The `data:` payloads of an SSE body, checking that every event is exactly one `data:` line."""
    assert raw.endswith("\n\n")
    events = raw[:-2].split("\n\n")
    assert all(e.startswith("data: ") and "\n" not in e for e in events), events
    return [e.removeprefix("data: ") for e in events]


# --------------------------------------------------------------------------------------------- schema


def test_validate_accepts_tgi_requests_and_nulls_for_nullable_fields() -> None:
    body = {
        "model": "tgi",
        "messages": MESSAGES,
        "max_tokens": None,
        "temperature": None,
        "stop": None,
        "response_format": None,  # nullable allOf/$ref
        "tool_choice": None,
        "stream_options": None,
    }
    assert validate("ChatRequest", body) == []
    assert validate("ChatRequest", {**body, "response_format": {"type": "json", "value": {"type": "object"}}}) == []
    assert validate("ChatRequest", {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}) == []


def test_validate_reports_violations_with_their_location() -> None:
    errors = validate("ChatRequest", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": -1})
    assert len(errors) == 1 and errors[0].startswith("ChatRequest['max_tokens']:")
    assert validate("ChatRequest", {"model": "x"}) == ["ChatRequest: 'messages' is a required property"]
    assert validate("ErrorResponse", {"error": "x"}) != []
    with pytest.raises(KeyError):
        validate("NoSuchComponent", {})


# --------------------------------------------------------------------------------------------- chat


def test_inference_client_non_streaming_is_accepted_and_recorded(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(ANSWER))
    client = InferenceClient(base_url=tgi.url, token="secret-token")
    out = client.chat_completion(MESSAGES, max_tokens=64, temperature=0.1, seed=7)
    assert out.choices[0].message.content == ANSWER
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "test/tgi-double"
    assert out.usage.completion_tokens == len(ANSWER)
    assert tgi.schema_errors == []
    [request] = tgi.requests
    assert request.path == "/v1/chat/completions"
    assert request.body is not None and request.body["messages"] == MESSAGES
    assert request.body["max_tokens"] == 64 and request.body["stream"] is False
    assert request.headers["authorization"] == "Bearer secret-token"
    assert tgi.chat_requests == [request]


def test_inference_client_streaming_gets_the_content_in_several_chunks(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(ANSWER, chunk_chars=5))
    client = InferenceClient(base_url=tgi.url)
    chunks = list(client.chat_completion(MESSAGES, stream=True, max_tokens=64))
    pieces = [c.choices[0].delta.content for c in chunks]
    assert "".join(pieces) == ANSWER
    assert len(pieces) == -(-len(ANSWER) // 5) + 1  # content chunks, then the final empty one
    assert [c.choices[0].finish_reason for c in chunks][-2:] == [None, "stop"]
    assert tgi.schema_errors == []
    assert tgi.requests[0].body is not None and tgi.requests[0].body["stream"] is True


def test_raw_stream_is_well_formed_sse_ending_in_done(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply("一二三四五六七", chunk_chars=3))
    body = {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{tgi.url}/v1/chat/completions", json=body, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        raw = response.read().decode("utf-8")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        assert validate("ChatCompletionChunk", chunk) == []
        assert chunk["object"] == "chat.completion.chunk"
    assert [c["choices"][0]["delta"]["content"] for c in chunks[:-1]] == ["一二三", "四五六", "七", ""]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    assert tgi.schema_errors == []


def test_tgi_response_formats_are_accepted(tgi: TgiDouble) -> None:
    schema = {"type": "object", "properties": {"compliant": {"type": "boolean"}}, "required": ["compliant"]}
    formats = [
        {"type": "json", "value": schema},
        {"type": "json_schema", "value": {"name": "verdict", "schema": schema}},
        {"type": "regex", "value": "(是|否)"},
    ]
    for response_format in formats:
        assert chat(tgi.url, {"messages": MESSAGES, "response_format": response_format}).status_code == 200
    assert tgi.schema_errors == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"model": "tgi"}, "'messages' is a required property"),
        ({"messages": "hi"}, "ChatRequest['messages']"),
        ({"messages": [{"content": "hi"}]}, "'role' is a required property"),
        ({"messages": MESSAGES, "stream": None}, "ChatRequest['stream']"),
        (
            {"messages": MESSAGES, "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
            "ChatRequest['response_format']",
        ),
        ({"messages": MESSAGES, "response_format": {"type": "json_object"}}, "ChatRequest['response_format']"),
    ],
    ids=["no-messages", "messages-not-list", "no-role", "stream-null", "openai-json-schema", "openai-json-object"],
)
def test_schema_violations_get_422_and_are_recorded(tgi: TgiDouble, body: dict[str, Any], where: str) -> None:
    tgi.enqueue(Reply("unused"))
    response = chat(tgi.url, body)
    assert response.status_code == 422
    payload = response.json()
    assert validate("ErrorResponse", payload) == []
    assert payload["error_type"] == "validation" and where in payload["error"]
    assert any(where in e for e in tgi.schema_errors)
    assert tgi.requests == [RecordedRequest("/v1/chat/completions", body, tgi.requests[0].headers)]
    assert tgi.pending == 1  # a rejected request uses no scripted reply


def test_body_that_is_not_json_gets_422(tgi: TgiDouble) -> None:
    response = httpx.post(
        f"{tgi.url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["error_type"] == "validation"
    assert tgi.requests[0].body is None and len(tgi.schema_errors) == 1


def test_inference_client_rewrites_openai_json_schema_into_json_object_which_the_schema_rejects(
    tgi: TgiDouble,
) -> None:
    """huggingface_hub turns OpenAI's json_schema into {"type": "json_object", "value": ...} for TGI; the
    published GrammarType has no "json_object" (TGI's router accepts it only as an undocumented serde alias)."""
    client = InferenceClient(base_url=tgi.url)
    openai_style = {"type": "json_schema", "json_schema": {"name": "v", "schema": {"type": "object"}}}
    with pytest.raises(HfHubHTTPError) as caught:
        client.chat_completion(MESSAGES, response_format=openai_style)  # type: ignore[arg-type]
    assert caught.value.response.status_code == 422
    assert tgi.requests[0].body is not None
    assert tgi.requests[0].body["response_format"] == {"type": "json_object", "value": {"type": "object"}}
    assert len(tgi.schema_errors) == 1


# --------------------------------------------------------------------------------------------- script


def test_replies_are_used_in_enqueue_order_then_the_default(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply("第一"), Reply("第二"))
    tgi.enqueue(Reply("第三"))
    contents = [chat(tgi.url, {"messages": MESSAGES}).json()["choices"][0]["message"]["content"] for _ in range(5)]
    assert contents == ["第一", "第二", "第三", DEFAULT_CONTENT, DEFAULT_CONTENT]
    assert tgi.pending == 0


def test_custom_default_reply() -> None:
    with TgiDouble(model_id="org/other", default=Reply("总是这个")) as tgi:
        payload = chat(tgi.url, {"messages": MESSAGES}).json()
    assert payload["choices"][0]["message"]["content"] == "总是这个" and payload["model"] == "org/other"


def test_content_fn_computes_the_content_from_the_request(tgi: TgiDouble) -> None:
    def verdict(body: dict[str, Any]) -> str:
        schema = body["response_format"]["value"]
        return json.dumps({name: True for name in schema["required"]}) + "|" + body["messages"][-1]["content"]

    tgi.enqueue(Reply("ignored", content_fn=verdict))
    schema = {"type": "object", "required": ["compliant"]}
    out = InferenceClient(base_url=tgi.url).chat_completion(
        MESSAGES, response_format={"type": "json", "value": schema}
    )
    assert out.choices[0].message.content == '{"compliant": true}|' + MESSAGES[-1]["content"]
    assert tgi.schema_errors == []


def test_failing_content_fn_is_a_500_and_is_reported() -> None:
    with TgiDouble(default=Reply(content_fn=lambda body: body["missing"])) as tgi:
        response = chat(tgi.url, {"messages": MESSAGES})
    assert response.status_code == 500 and "KeyError" in response.json()["error"]
    assert len(tgi.handler_errors) == 1


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (Reply(status=424), "generation"),
        (Reply(status=429), "overloaded"),
        (Reply(status=500), "incomplete_generation"),
        (Reply("CUDA out of memory", status=503, error_type="unavailable"), "unavailable"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_statuses_answer_an_error_response(
    tgi: TgiDouble, reply: Reply, error_type: str, stream: bool
) -> None:
    tgi.enqueue(reply)
    response = chat(tgi.url, {"messages": MESSAGES, "stream": stream})
    assert response.status_code == reply.status
    payload = response.json()
    assert validate("ErrorResponse", payload) == []
    assert payload["error_type"] == error_type and payload["error"]


def test_inference_client_raises_on_a_5xx_reply(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(status=500))
    with pytest.raises(HfHubHTTPError) as caught:
        InferenceClient(base_url=tgi.url).chat_completion(MESSAGES)
    assert caught.value.response.status_code == 500
    assert len(tgi.requests) == 1


def test_delay_makes_a_short_timeout_client_time_out(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply("太慢了", delay_s=3.0), Reply("及时"))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        chat(tgi.url, {"messages": MESSAGES}, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert chat(tgi.url, {"messages": MESSAGES}).json()["choices"][0]["message"]["content"] == "及时"


def test_delay_makes_the_inference_client_time_out(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(delay_s=3.0))
    client = InferenceClient(base_url=tgi.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(InferenceTimeoutError):
        client.chat_completion(MESSAGES)
    assert time.monotonic() - started < 2.0


def test_chunk_delay_slows_the_stream(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply("abcdefgh", chunk_chars=2, chunk_delay_s=0.05))
    client = InferenceClient(base_url=tgi.url)  # keep a reference: the stream closes when the client is collected
    started = time.monotonic()
    pieces = [c.choices[0].delta.content for c in client.chat_completion(MESSAGES, stream=True)]
    assert "".join(pieces) == "abcdefgh"
    assert time.monotonic() - started >= 4 * 0.05


# --------------------------------------------------------------------------------------------- other endpoints


def test_every_produced_body_validates_against_its_schema_component(tgi: TgiDouble) -> None:
    info = httpx.get(f"{tgi.url}/info")
    assert info.status_code == 200 and validate("Info", info.json()) == []
    assert info.json()["router"] == "text-generation-router" and info.json()["version"] == "3.3.6-dev0"
    models = httpx.get(f"{tgi.url}/v1/models").json()
    assert models["object"] == "list"
    assert [validate("ModelInfo", m) for m in models["data"]] == [[]]
    assert models["data"][0]["id"] == "test/tgi-double" and models["data"][0]["owned_by"] == "tgi-double"
    completion = chat(tgi.url, {"messages": MESSAGES, "stream": False}).json()
    assert validate("ChatCompletion", completion) == []
    assert completion["object"] == "chat.completion"
    tgi.enqueue(Reply(status=429))
    assert validate("ErrorResponse", chat(tgi.url, {"messages": MESSAGES}).json()) == []
    assert validate("ErrorResponse", chat(tgi.url, {"messages": 1}).json()) == []
    tgi.healthy = False
    assert validate("ErrorResponse", httpx.get(f"{tgi.url}/health").json()) == []


def test_health_follows_the_healthy_flag() -> None:
    with TgiDouble(healthy=False) as tgi:
        response = httpx.get(f"{tgi.url}/health")
        assert response.status_code == 503
        assert response.json() == {"error": "unhealthy", "error_type": "healthcheck"}
        client = InferenceClient(base_url=tgi.url, provider="hf-inference")  # health_check needs this provider
        assert client.health_check() is False
        tgi.healthy = True
        ok = httpx.get(f"{tgi.url}/health")
        assert ok.status_code == 200 and ok.content == b""
        assert client.health_check() is True
        assert client.get_endpoint_info()["model_id"] == "test/tgi-double"
        assert [r.path for r in tgi.requests] == ["/health", "/health", "/health", "/health", "/info"]
        assert all(r.body is None for r in tgi.requests)


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/generate"), ("GET", "/v1/chat/completions")])
def test_unknown_routes_are_404(tgi: TgiDouble, method: str, path: str) -> None:
    assert httpx.request(method, f"{tgi.url}{path}", json={} if method == "POST" else None).status_code == 404


# --------------------------------------------------------------------------------------------- shutdown


def test_close_returns_quickly_during_a_slow_stream() -> None:
    tgi = TgiDouble()
    tgi.enqueue(Reply("x" * 100, chunk_chars=1, chunk_delay_s=5.0))
    outcome: dict[str, object] = {}
    first_chunk = threading.Event()

    def consume() -> None:
        body = {"messages": MESSAGES, "stream": True}
        try:
            with httpx.stream("POST", f"{tgi.url}/v1/chat/completions", json=body, timeout=10) as response:
                for _ in response.iter_raw():
                    first_chunk.set()
            outcome["result"] = "complete"
        except httpx.HTTPError as exc:
            outcome["result"] = exc

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    assert first_chunk.wait(5)
    started = time.monotonic()
    tgi.close()
    assert time.monotonic() - started < 1.0
    reader.join(2)
    assert not reader.is_alive()
    assert isinstance(outcome["result"], httpx.RemoteProtocolError)  # the chunked body was cut short
    tgi.close()  # idempotent


def test_close_returns_quickly_while_a_reply_is_delayed() -> None:
    tgi = TgiDouble()
    tgi.enqueue(Reply(delay_s=30.0))
    outcome: list[object] = []

    def ask() -> None:
        try:
            outcome.append(chat(tgi.url, {"messages": MESSAGES}, timeout=10))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    client = threading.Thread(target=ask, daemon=True)
    client.start()
    deadline = time.monotonic() + 5
    while not tgi.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    tgi.close()
    assert time.monotonic() - started < 1.0
    client.join(2)
    assert not client.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)  # dropped without an answer
