"""Stored chats follow the reader's clearance now, not the one they had when the answer was written."""

from __future__ import annotations

import pytest

from assistant.qa.answer import ask
from assistant.qa.history import WITHHELD, add_feedback, add_message, feedback, messages, new_conversation
from kb_ingest import admin
from ui.chat import history, message_payload

pytestmark = pytest.mark.integration

SECRET_MARK = "青鸾计划"


def _store(settings, con, username: str, question: str, clearance: int) -> int:
    """Ask without a model (answer from retrieved clauses) and keep the exchange as the app does."""
    cid = new_conversation(con, username)
    add_message(con, cid, username, "user", question)
    answer = ask(settings, con, question, client=None, clearance=clearance, user=username)
    add_message(con, cid, username, "assistant", answer.answer, **message_payload(answer))
    return cid


def _visible(stored) -> str:
    return " ".join(m.content + repr(m.citations) + repr(m.clauses) + repr(m.cases) for m in stored)


def test_a_downgraded_reader_no_longer_sees_an_old_secret_answer(leveled_kb):
    settings, con = leveled_kb
    cid = _store(settings, con, "alice", "营销人员推介私募产品前的复核代号是什么？", clearance=2)
    assert SECRET_MARK in _visible(messages(con, cid, "alice", clearance=2))

    downgraded = messages(con, cid, "alice", clearance=0)
    assert SECRET_MARK not in _visible(downgraded)
    assert downgraded[-1].content == WITHHELD and downgraded[-1].clauses == [] and downgraded[-1].meta["withheld"]
    assert downgraded[0].content == "营销人员推介私募产品前的复核代号是什么？"  # the user's own question stays
    assert all(SECRET_MARK not in t.answer for t in history(downgraded)), "follow-ups never feed it to the model"

    add_feedback(con, downgraded[-1].id, "alice", -1, "复核代号应为……")
    assert feedback(con, clearance=0) == []
    assert [r["message_id"] for r in feedback(con, clearance=2)] == [downgraded[-1].id]


def test_a_document_raised_after_the_answer_withholds_it(leveled_kb):
    settings, con = leveled_kb
    cid = _store(settings, con, "bob", "员工可以向客户承诺收益吗？", clearance=1)
    before = messages(con, cid, "bob", clearance=1)
    assert "白鹭条款" in _visible(before)
    doc_id = con.execute("SELECT doc_id FROM documents WHERE doc_key = '员工执业行为守则' AND state = 'live'").fetchone()[0]
    admin.set_level(settings, con, doc_id, 2, actor="admin")
    after = messages(con, cid, "bob", clearance=1)
    assert "白鹭条款" not in _visible(after) and after[-1].content == WITHHELD


def test_a_new_version_at_a_higher_level_withholds_answers_from_the_old_one(leveled_kb, tmp_path):
    from support import INTERNAL_POLICY

    from kb_ingest.ingest import ingest
    from kb_ingest.listing import documents

    settings, con = leveled_kb
    cid = _store(settings, con, "bob", "员工可以向客户承诺收益吗？", clearance=1)
    newer = tmp_path / "newer" / "员工执业行为守则.md"
    newer.parent.mkdir()
    newer.write_text(INTERNAL_POLICY.replace("当日", "两小时内"), encoding="utf-8")
    assert ingest(settings, con, [newer], level=2).files[0].status == "replaced"
    assert messages(con, cid, "bob", clearance=1)[-1].content == WITHHELD
    assert "员工执业行为守则" not in {d["doc_key"] for d in documents(con, clearance=1)}, "nor is its old version listed"
