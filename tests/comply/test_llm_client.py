"""The LLM client against the TGI-protocol test double: every request it sends must conform to TGI's OpenAPI schema."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel
from support.tgi_double import Reply, TgiDouble

from comply.llm.client import OPENAI, TGI, ChatOptions, LlmClient, LlmOutputError, LlmUnavailable

MESSAGES = [{"role": "user", "content": "证券公司能否承诺保本？"}]


class Verdict(BaseModel):
    allowed: bool
    reason: str


@pytest.fixture()
def tgi():
    with TgiDouble(model_id="Qwen/Qwen2.5-7B-Instruct") as double:
        yield double
    assert double.schema_errors == [], "the client sent a request that does not conform to TGI's schema"
    assert double.handler_errors == []


def client_for(double: TgiDouble, **options: float) -> LlmClient:
    client = LlmClient(double.url, options=ChatOptions(timeout_s=options.pop("timeout_s", 5.0), backoff_s=0.01, **options))
    client.probe()
    return client


def test_probe_reads_health_and_info(tgi: TgiDouble) -> None:
    info = LlmClient(tgi.url).probe()
    assert (info.kind, info.model, info.healthy, info.version) == (TGI, "Qwen/Qwen2.5-7B-Instruct", True, "3.3.6-dev0")
    assert "TGI" in info.label() and tgi.url in info.label()
    assert [r.path for r in tgi.requests] == ["/health", "/info"]


def test_probe_reports_an_unhealthy_server() -> None:
    with TgiDouble(healthy=False) as double:
        info = LlmClient(double.url).probe()
    assert not info.healthy and "不可用" in info.label()


def test_probe_of_nothing_listening_is_unavailable() -> None:
    with TgiDouble() as double:
        url = double.url
    with pytest.raises(LlmUnavailable, match="无法连接"):
        LlmClient(url).probe()


def test_streaming_yields_pieces_in_order(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="不能。证券公司不得承诺收益[1]。", chunk_chars=3))
    pieces = list(client_for(tgi).stream(MESSAGES))
    assert len(pieces) > 3 and "".join(pieces) == "不能。证券公司不得承诺收益[1]。"
    body = tgi.chat_requests[-1].body
    assert body["stream"] is True and body["messages"] == MESSAGES and body["model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert body["max_tokens"] == ChatOptions().max_tokens and body["temperature"] == ChatOptions().temperature


def test_non_streaming_returns_the_whole_text(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="完整回答"))
    assert client_for(tgi).complete(MESSAGES, max_tokens=12) == "完整回答"
    assert tgi.chat_requests[-1].body["stream"] is False and tgi.chat_requests[-1].body["max_tokens"] == 12


def test_constrained_json_uses_tgi_grammar_and_validates(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content=json.dumps({"allowed": False, "reason": "证券法第一百三十五条禁止"}, ensure_ascii=False)))
    verdict = client_for(tgi).structured(MESSAGES, Verdict, "verdict")
    assert verdict == Verdict(allowed=False, reason="证券法第一百三十五条禁止")
    fmt = tgi.chat_requests[-1].body["response_format"]
    assert fmt == {"type": "json", "value": Verdict.model_json_schema()}


def test_a_long_structured_answer_is_bounded_by_stalls_not_by_its_length(tgi: TgiDouble) -> None:
    answer = json.dumps({"allowed": True, "reason": "逐字输出的一段较长理由"}, ensure_ascii=False)
    tgi.enqueue(Reply(content=answer, chunk_chars=4, chunk_delay_s=0.1))  # about 1.5 s in all, each chunk within 0.5 s
    assert client_for(tgi, timeout_s=0.5).structured(MESSAGES, Verdict, "verdict").allowed is True
    assert tgi.chat_requests[-1].body["stream"] is True


def test_malformed_json_gets_one_repair_then_succeeds(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content='{"allowed": false, "reason": '), Reply(content='```json\n{"allowed": true, "reason": "ok"}\n```'))
    assert client_for(tgi).structured(MESSAGES, Verdict, "verdict") == Verdict(allowed=True, reason="ok")
    repair = tgi.chat_requests[-1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"allowed": false, "reason": '}
    assert "JSON" in repair[-1]["content"]


def test_malformed_twice_is_a_clear_failure_not_a_crash(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="这不是 JSON"), Reply(content='{"allowed": "也许"}'))
    with pytest.raises(LlmOutputError, match="有效的结构化结果"):
        client_for(tgi).structured(MESSAGES, Verdict, "verdict")
    assert len(tgi.chat_requests) == 2


def test_retryable_status_is_retried_with_backoff(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(status=429), Reply(status=500), Reply(content="终于成功"))
    assert client_for(tgi, retries=2).complete(MESSAGES) == "终于成功"
    assert len(tgi.chat_requests) == 3


def test_persistent_5xx_becomes_unavailable(tgi: TgiDouble) -> None:
    tgi.enqueue(*[Reply(status=500)] * 3)
    with pytest.raises(LlmUnavailable, match="HTTP 500"):
        client_for(tgi, retries=2).complete(MESSAGES)
    assert len(tgi.chat_requests) == 3


def test_client_errors_are_not_retried(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(status=424))
    with pytest.raises(LlmUnavailable, match="HTTP 424"):
        client_for(tgi, retries=2).stream(MESSAGES).__next__()
    assert len(tgi.chat_requests) == 1


def test_timeout_becomes_unavailable_quickly(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="太晚了", delay_s=5.0))
    started = time.perf_counter()
    with pytest.raises(LlmUnavailable, match="无响应"):
        client_for(tgi, timeout_s=0.5).complete(MESSAGES)
    assert time.perf_counter() - started < 4.0


def test_slow_but_steady_stream_completes(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="慢慢地输出完整回答", chunk_chars=2, chunk_delay_s=0.1))
    assert "".join(client_for(tgi, timeout_s=2.0).stream(MESSAGES)) == "慢慢地输出完整回答"


def test_stalled_stream_raises_mid_answer(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="开头之后卡住", chunk_chars=2, chunk_delay_s=3.0))
    stream = client_for(tgi, timeout_s=0.5).stream(MESSAGES)
    with pytest.raises(LlmUnavailable, match="中断"):
        list(stream)


def test_openai_compatible_server_gets_openai_response_format() -> None:
    client = LlmClient("http://127.0.0.1:1", model="m", kind=OPENAI)
    fmt = client.response_format(Verdict.model_json_schema(), "verdict")
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == Verdict.model_json_schema()


def test_hub_offline_mode_is_reported_not_silently_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(LlmUnavailable, match="HF_HUB_OFFLINE"):
        LlmClient("http://127.0.0.1:1")
