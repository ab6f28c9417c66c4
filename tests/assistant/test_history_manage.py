"""Managing stored conversations: rename and delete, owner-only, and the audit log untouched by a delete."""

from __future__ import annotations

import pytest

from assistant.accounts import create_user, update_user
from assistant.qa.answer import ask
from assistant.qa.history import (
    TITLE_CHARS,
    add_feedback,
    add_message,
    conversation,
    conversations,
    delete_conversation,
    feedback,
    messages,
    new_conversation,
    rename_conversation,
)
from comply import audit
from assistant.qa.transcript import conversation_markdown
from ui.chat import export_now, message_payload


def _asked(settings, con, username: str, question: str) -> tuple[str, int]:
    """A conversation with one real exchange (retrieval only, audited as qa.ask); returns it and the answer's id."""
    cid = new_conversation(con, username)
    add_message(con, cid, username, "user", question)
    answer = ask(settings, con, question, client=None, clearance=0, user=username)
    return cid, add_message(con, cid, username, "assistant", answer.answer, **message_payload(answer))


def test_rename_cleans_the_title_keeps_the_order_and_refuses_bad_titles(small_kb):
    _, con = small_kb
    older = new_conversation(con, "alice", title="第一个")
    newer = new_conversation(con, "alice", title="第二个")
    assert rename_conversation(con, older, "alice", "  保本承诺\n专题  ") == "保本承诺 专题"
    assert [c["title"] for c in conversations(con, "alice")] == ["第二个", "保本承诺 专题"], "renaming does not reorder"
    assert conversation(con, older, "alice")["title"] == "保本承诺 专题"
    for bad, why in (("   ", "不能为空"), ("长" * (TITLE_CHARS + 1), f"最多 {TITLE_CHARS} 字")):
        with pytest.raises(ValueError, match=why):
            rename_conversation(con, older, "alice", bad)
    assert conversation(con, older, "alice")["title"] == "保本承诺 专题", "a refused title changes nothing"
    assert rename_conversation(con, newer, "alice", "长" * TITLE_CHARS) == "长" * TITLE_CHARS


def test_only_the_owner_may_rename_or_delete(small_kb):
    _, con = small_kb
    cid = new_conversation(con, "alice", title="我的会话")
    add_message(con, cid, "alice", "user", "问题")
    for act in (lambda: rename_conversation(con, cid, "bob", "抢过来"), lambda: delete_conversation(con, cid, "bob"),
                lambda: conversation(con, cid, "bob"), lambda: delete_conversation(con, "0" * 32, "alice")):
        with pytest.raises(PermissionError, match="无权访问该会话"):
            act()
    assert conversation(con, cid, "alice")["title"] == "我的会话" and len(messages(con, cid, "alice", clearance=0)) == 1


def test_delete_removes_messages_and_feedback_but_keeps_the_audit_chain(leveled_kb):
    settings, con = leveled_kb
    gone, rated = _asked(settings, con, "alice", "证券公司能否向客户承诺保本保收益？")
    kept, kept_answer = _asked(settings, con, "alice", "广告中能否使用国家级、最高级的用语？")
    add_feedback(con, rated, "alice", -1, "应引用第二十五条")
    add_feedback(con, kept_answer, "alice", 1)
    audit_rows = con.execute("SELECT count(*) FROM audit_log WHERE action = 'qa.ask'").fetchone()[0]
    assert audit_rows == 2

    assert delete_conversation(con, gone, "alice") == 2
    assert [c["id"] for c in conversations(con, "alice")] == [kept]
    with pytest.raises(PermissionError):
        messages(con, gone, "alice", clearance=0)
    assert con.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", [gone]).fetchone()[0] == 0
    assert [r["message_id"] for r in feedback(con, clearance=2)] == [kept_answer]
    assert con.execute("SELECT count(*) FROM feedback WHERE message_id = ?", [rated]).fetchone()[0] == 0
    assert len(messages(con, kept, "alice", clearance=0)) == 2, "other conversations are untouched"
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'qa.ask'").fetchone()[0] == audit_rows
    assert audit.verify(con).ok, "the audit chain is intact after the delete"


def test_an_export_uses_the_clearance_the_account_has_when_it_is_clicked(leveled_kb):
    settings, con = leveled_kb
    create_user(con, "bea", "Compliance-pw-77", "compliance", 2, "合规专员")
    cid = new_conversation(con, "bea", title="秘密咨询")
    question = "营销人员向高净值客户推介私募产品前需要经过什么复核？"
    add_message(con, cid, "bea", "user", question)
    answer = ask(settings, con, question, client=None, clearance=2, user="bea")
    add_message(con, cid, "bea", "assistant", answer.answer, **message_payload(answer))

    def build(c, level):
        return conversation_markdown(c, cid, "bea", clearance=level)

    assert "青鸾计划" in export_now(con, "bea", build)
    update_user(con, "bea", actor="admin", clearance=0)  # demoted after the export button was drawn
    assert "青鸾计划" not in export_now(con, "bea", build)
    update_user(con, "bea", actor="admin", disabled=True)
    with pytest.raises(PermissionError):
        export_now(con, "bea", build)
