"""An overall deadline per LLM call, on top of the between-reads timeout: a server that trickles its answer
just inside the timeout is cut off, streamed or not, retries and the structured repair included."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import BaseModel
from support import make_settings
from support.tgi_double import Reply, TgiDouble

from comply.llm.backend import open_backend
from comply.llm.client import ChatOptions, LlmClient, LlmUnavailable

MESSAGES = [{"role": "user", "content": "证券公司能否承诺保本？"}]
DEADLINE = "1.5 秒内未完成回答"


class Verdict(BaseModel):
    allowed: bool
    reason: str


def client_for(double: TgiDouble, **options: float) -> LlmClient:
    settings = {"timeout_s": 1.0, "deadline_s": 1.5, "backoff_s": 0.01, **options}
    client = LlmClient(double.url, options=ChatOptions(**settings))
    client.probe()
    return client


def elapsed(started: float) -> float:
    return time.perf_counter() - started


def test_a_trickling_stream_is_cut_at_the_deadline(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="不" * 40, chunk_chars=1, chunk_delay_s=0.3))  # 12 s in all, each piece inside the 1 s timeout
    started, pieces = time.perf_counter(), []
    with pytest.raises(LlmUnavailable, match=DEADLINE):
        pieces.extend(client_for(tgi).stream(MESSAGES))  # keeps the pieces that came before the deadline
    assert 0 < len(pieces) < 40 and elapsed(started) < 4.0


def test_a_trickling_non_streaming_answer_is_cut_at_the_deadline(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="不能。", trickle_s=0.2))  # a body of some 300 bytes, one every 0.2 s
    started = time.perf_counter()
    with pytest.raises(LlmUnavailable, match=DEADLINE):
        client_for(tgi).complete(MESSAGES)
    assert elapsed(started) < 4.0


def test_retries_and_their_back_off_count_against_the_deadline(tgi: TgiDouble) -> None:
    tgi.enqueue(*[Reply(status=503)] * 6)  # back-off 1, 2, 4, 8, 16 s without a deadline
    started = time.perf_counter()
    with pytest.raises(LlmUnavailable, match=DEADLINE):
        client_for(tgi, retries=5, backoff_s=1.0).complete(MESSAGES)
    assert elapsed(started) < 4.0


def test_a_structured_answer_and_its_repair_share_one_deadline(tgi: TgiDouble) -> None:
    slow_bad = Reply(content="这不是 JSON", chunk_chars=1, chunk_delay_s=0.05)  # about 0.4 s, within the deadline
    slow_good = Reply(content=json.dumps({"allowed": False, "reason": "不得承诺保本"}, ensure_ascii=False), chunk_chars=1,
                      chunk_delay_s=0.1)  # about 4 s more
    tgi.enqueue(slow_bad, slow_good)
    started = time.perf_counter()
    with pytest.raises(LlmUnavailable, match=DEADLINE):
        client_for(tgi).structured(MESSAGES, Verdict, "verdict")
    assert len(tgi.chat_requests) == 2 and elapsed(started) < 4.0


def test_an_answer_within_the_deadline_is_whole(tgi: TgiDouble) -> None:
    tgi.enqueue(Reply(content="不能。证券公司不得承诺收益[1]。", chunk_chars=2, chunk_delay_s=0.05), Reply(content="完整回答"))
    client = client_for(tgi)
    assert "".join(client.stream(MESSAGES)) == "不能。证券公司不得承诺收益[1]。"
    assert client.complete(MESSAGES) == "完整回答"


def test_the_deadline_setting_reaches_the_configured_client(tgi: TgiDouble, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", llm_url=tgi.url, llm_timeout_s=1.0, llm_deadline_s=1.5)
    with open_backend(settings, progress=False) as backend:
        assert backend.client is not None and backend.client.options.deadline_s == 1.5
        tgi.enqueue(Reply(content="不" * 40, chunk_chars=1, chunk_delay_s=0.3))
        started = time.perf_counter()
        with pytest.raises(LlmUnavailable, match=DEADLINE):
            "".join(backend.client.stream(MESSAGES))
    assert elapsed(started) < 4.0
