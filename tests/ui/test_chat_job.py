"""Answers on their own threads (ui.chat_job): stored and audited in order whatever the page does, a third question
refused rather than lost, and follow-ups rewritten from history filtered by the asker's clearance at that moment.

The LLM is the TGI-protocol double at its HTTP boundary; the knowledge base, retrieval and DuckDB are real."""

from __future__ import annotations

import json
import time

import pytest
from support import tgi_client
from support.tgi_double import Reply

from assistant.accounts import create_user, update_user
from assistant.qa.answer import GENERATE
from assistant.qa.history import WITHHELD, messages, new_conversation
from ui import chat_job

pytestmark = pytest.mark.integration

SECRET_MARK = "青鸾计划"
PASSWORD = "Chat-job-pass-1"


def _settled(cid: str, username: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while chat_job.pending(cid, username) is not None:
        assert time.monotonic() < deadline, "the answers did not finish"
        time.sleep(0.1)


def _slow_model(body: dict) -> str:
    return "重写后的独立问题" if not body.get("stream") else "不能。证券公司不得承诺保本保收益。"


def test_questions_wait_their_turn_and_every_answer_is_stored_and_audited(leveled_kb, tgi):
    settings, con = leveled_kb
    create_user(con, "alice", PASSWORD, "compliance", 0, actor="test")
    tgi.default_reply = Reply(content_fn=_slow_model, chunk_delay_s=0.15, chunk_chars=2)
    cid = new_conversation(con, "alice")
    ask = dict(client=tgi_client(tgi), no_llm_reason="")
    first = chat_job.submit(con, settings, cid, "alice", "证券公司能否向客户承诺保本保收益？", **ask)
    second = chat_job.submit(con, settings, cid, "alice", "那广告呢？", **ask)
    assert first is not None and second is not None, "one question may wait behind the running answer"
    assert chat_job.submit(con, settings, cid, "alice", "第三个问题", **ask) is None, "a third is refused, not dropped"
    job = chat_job.pending(cid, "alice")
    assert job is not None and job.waiting() == 1

    seen, streaming = -1, None
    while streaming is None:  # the page's view while the first answer streams: its stage and the text so far
        seen = job.wait(seen, 5)
        now = job.turn(first.id)
        assert now.state != chat_job.DONE, "the stream was watched before it ended"
        if now.state == chat_job.RUNNING and now.text:
            streaming = now
    assert streaming.stage == GENERATE and streaming.question_id is not None and streaming.answer_id is None
    assert job.turn(second.id).state == chat_job.QUEUED and job.turn(second.id).question_id is None

    _settled(cid, "alice")
    turns = {t.id: t for t in job.snapshot()}
    assert [turns[first.id].state, turns[second.id].state] == [chat_job.DONE, chat_job.DONE]
    stored = messages(con, cid, "alice", clearance=0)
    assert [(m.role, m.id) for m in stored] == [
        ("user", turns[first.id].question_id), ("assistant", turns[first.id].answer_id),
        ("user", turns[second.id].question_id), ("assistant", turns[second.id].answer_id)]
    assert [m.content for m in stored if m.role == "user"] == ["证券公司能否向客户承诺保本保收益？", "那广告呢？"]
    assert all(m.meta.get("audit_seq") for m in stored if m.role == "assistant")
    actors = con.execute("SELECT actor FROM audit_log WHERE action = 'qa.ask' ORDER BY seq").fetchall()
    assert actors == [("alice",), ("alice",)], "each answer is audited once"
    assert chat_job.take_failures(cid, "alice") == []


def test_a_follow_up_is_rewritten_from_history_the_current_clearance_may_see(leveled_kb, tgi):
    settings, con = leveled_kb
    create_user(con, "alice", PASSWORD, "compliance", 2, actor="test")
    tgi.default_reply = Reply(content_fn=_slow_model)
    cid = new_conversation(con, "alice")
    chat_job.submit(con, settings, cid, "alice", "营销人员向高净值客户推介私募产品前需要经过什么复核？",
                    client=None, no_llm_reason="测试")  # the answer is the retrieved clauses, the secret one among them
    _settled(cid, "alice")
    assert SECRET_MARK in messages(con, cid, "alice", clearance=2)[1].content

    def rewrite_prompts() -> list[str]:
        return [json.dumps(r.body, ensure_ascii=False) for r in tgi.chat_requests if not r.body.get("stream")]

    chat_job.submit(con, settings, cid, "alice", "那复核由谁来做？", client=tgi_client(tgi), no_llm_reason="")
    _settled(cid, "alice")
    assert len(rewrite_prompts()) == 1 and SECRET_MARK in rewrite_prompts()[0], "cleared for 秘密: the history holds it"

    update_user(con, "alice", clearance=0, actor="admin")
    before = len(tgi.chat_requests)
    chat_job.submit(con, settings, cid, "alice", "那它的时限呢？", client=tgi_client(tgi), no_llm_reason="")
    _settled(cid, "alice")
    latest = rewrite_prompts()[-1]
    assert len(rewrite_prompts()) == 2 and "营销人员向高净值客户推介私募产品前需要经过什么复核" in latest
    assert SECRET_MARK not in latest and WITHHELD in latest, "a withheld answer's text never reaches the rewrite prompt"
    assert SECRET_MARK not in json.dumps([r.body for r in tgi.chat_requests[before:]], ensure_ascii=False)


def test_a_question_that_cannot_be_answered_fails_with_a_message_and_the_job_goes_on(leveled_kb):
    settings, con = leveled_kb
    create_user(con, "alice", PASSWORD, "compliance", 0, actor="test")
    bobs = new_conversation(con, "bob")
    turn = chat_job.submit(con, settings, bobs, "alice", "偷看别人的会话", client=None, no_llm_reason="测试")
    _settled(bobs, "alice")
    failed = chat_job.take_failures(bobs, "alice")
    assert [(t.id, t.state, t.error) for t in failed] == [(turn.id, chat_job.FAILED, "无权访问该会话")]
    assert chat_job.take_failures(bobs, "alice") == [], "a failure is reported once"
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert chat_job.pending(bobs, "bob") is None
