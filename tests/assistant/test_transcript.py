"""Conversation exports (Markdown, Word) and one answer with its clauses: exactly what the reader's clearance shows."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest
from docx import Document

from assistant.qa.answer import ask
from assistant.qa.history import WITHHELD, add_message, messages, new_conversation
from assistant.qa.transcript import (
    answer_markdown,
    conversation_docx,
    conversation_markdown,
    exchanges,
    file_name,
)
from ui.chat import message_payload

pytestmark = pytest.mark.integration

SECRET_MARK = "青鸾计划"  # only in the secret policy and the secret case (level 2)
SECRET_Q = "营销人员向高净值客户推介私募产品前需要经过什么复核？"
PUBLIC_Q = "广告中能否使用国家级、最高级、最佳等用语？"
WHEN = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _exchange(settings, con, cid: str, question: str, clearance: int) -> int:
    """Ask without a model (the answer is the retrieved clauses, all cited) and store it as the chat does."""
    add_message(con, cid, "alice", "user", question)
    answer = ask(settings, con, question, client=None, clearance=clearance, user="alice")
    return add_message(con, cid, "alice", "assistant", answer.answer, **message_payload(answer))


@pytest.fixture()
def chat(leveled_kb):
    """A conversation of alice's: one answer resting on the secret policy (asked at 秘密), one on public law."""
    settings, con = leveled_kb
    cid = new_conversation(con, "alice", title="营销合规咨询")
    secret = _exchange(settings, con, cid, SECRET_Q, clearance=2)
    public = _exchange(settings, con, cid, PUBLIC_Q, clearance=0)
    return con, cid, secret, public


def _docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


def test_exports_hold_only_what_the_current_clearance_shows(chat):
    con, cid, _, public = chat
    stored = messages(con, cid, "alice", clearance=0)
    public_clause = next(m for m in stored if m.id == public).clauses[0]
    md = conversation_markdown(con, cid, "alice", clearance=0, when=WHEN)
    docx = _docx_text(conversation_docx(con, cid, "alice", clearance=0, when=WHEN))
    for text in (md, docx):
        assert SECRET_MARK not in text, "no secret clause, answer or case in a 公开 reader's export"
        assert re.sub(r"\\(.)", r"\1", WITHHELD) in re.sub(r"\\(.)", r"\1", text), "the withheld answer says so"
        assert "营销合规咨询" in text and "2030-01-02 11:04:05" in text and "公开及以下" in text
        assert "第 1 问" in text and "第 2 问" in text and "问答数：2" in text
        assert public_clause["text"].splitlines()[0][:20] in re.sub(r"\\(.)", r"\1", text), "cited clause text is exported"
        assert "《中华人民共和国广告法》" in text
    assert md.index("第 1 问") < md.index("营销人员") < md.index("第 2 问") < md.index("广告中能否")

    cleared = conversation_markdown(con, cid, "alice", clearance=2, when=WHEN)
    assert SECRET_MARK in cleared and WITHHELD not in cleared, "the same export at 秘密 holds the secret answer"
    with pytest.raises(PermissionError):
        conversation_markdown(con, cid, "bob", clearance=2)
    with pytest.raises(PermissionError):
        conversation_docx(con, cid, "bob", clearance=2)


def test_one_answer_exports_with_its_question_and_clauses(chat):
    con, cid, secret, public = chat
    md = answer_markdown(con, cid, "alice", public, clearance=0, when=WHEN)
    assert "**问：** 广告中能否使用国家级、最高级、最佳等用语？" in md
    assert "**引用条款**" in md and "密级：公开" in md and md.count("\n- \\[") >= 1
    assert "模式：仅检索" in md and SECRET_MARK not in md
    withheld = answer_markdown(con, cid, "alice", secret, clearance=0, when=WHEN)
    assert SECRET_MARK not in withheld and "引用条款" not in withheld and "密级高于您当前的权限" in withheld
    assert SECRET_MARK in answer_markdown(con, cid, "alice", secret, clearance=2, when=WHEN)
    question_id = messages(con, cid, "alice", clearance=0)[0].id
    with pytest.raises(LookupError, match="没有这条回答"):
        answer_markdown(con, cid, "alice", question_id, clearance=0)


def test_untrusted_text_stays_inert_and_unanswered_questions_are_kept(small_kb):
    _, con = small_kb
    cid = new_conversation(con, "alice", title="<img src=x> 测试")
    add_message(con, cid, "alice", "user", "![追踪](http://evil.example/p.png) 能否承诺收益？")
    add_message(con, cid, "alice", "assistant", "不能。<script>x</script>[链接](http://evil.example)",
                citations=[{"n": 3, "chunk_id": None, "verified": False}], meta={"mode": "llm", "model": "m", "total_s": 1.0})
    add_message(con, cid, "alice", "user", "第二个问题\x07没有回答")
    md = conversation_markdown(con, cid, "alice", clearance=0, when=WHEN)
    active = re.findall(r"(?<!\\)(?:!\[|\]\(|<)", md)  # an image, a link or HTML not escaped
    assert active == [] and "!\\[追踪\\]" in md
    assert "\\[3\\] （无此条款） ✗ 未通过核验" in md and "模式：大模型（m）" in md
    assert md.rstrip().endswith("（此问题没有回答）")
    text = _docx_text(conversation_docx(con, cid, "alice", clearance=0, when=WHEN))
    assert "第二个问题没有回答" in text, "control characters Word refuses are dropped"
    assert [(q is not None, a is not None) for q, a in exchanges(messages(con, cid, "alice", clearance=0))] == [
        (True, True), (True, False)]


def test_file_names_are_safe_and_dated():
    assert file_name('保本/承诺:"问答"?', "md", WHEN) == "保本_承诺_问答-20300102-1104.md"
    assert file_name("   ", "docx", WHEN) == "对话-20300102-1104.docx"
    assert len(file_name("长" * 100, "md", WHEN)) == 40 + len("-20300102-1104.md")


def test_an_export_says_which_sentences_failed_the_support_check(small_kb):
    _, con = small_kb
    cid = new_conversation(con, "alice", title="核验")
    add_message(con, cid, "alice", "user", "证券公司能否承诺保本？")
    meta = {"mode": "llm", "model": "test", "notice": "有 1 句未通过核验，已标出",
            "conclusion": {"text": "可以。", "supported": False, "reason": "结论与 [1] 相抵触"},
            "claims": [{"text": "结论：可以。", "cited": [], "supported": None, "reason": ""},
                       {"text": "可以承诺保本[1]。", "cited": [1], "supported": False, "reason": "意思相反"}]}
    answer = add_message(con, cid, "alice", "assistant", "结论：可以。可以承诺保本。", meta=meta)
    md = answer_markdown(con, cid, "alice", answer, clearance=0)
    plain_md = re.sub(r"\\(.)", r"\1", md)
    assert "结论未通过核验：结论与 [1] 相抵触" in plain_md and "未通过核验：可以承诺保本[1]。（意思相反）" in plain_md
    docx = _docx_text(conversation_docx(con, cid, "alice", clearance=0))
    assert "结论未通过核验" in docx and "未通过核验：可以承诺保本[1]。（意思相反）" in docx
