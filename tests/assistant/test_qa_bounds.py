"""Questions are bounded (``max_question_chars``) and their audit rows hold hashes, lengths, chunk ids and the
clauses' highest level, never the question or answer text: a 公开 administrator learns nothing classified."""

from __future__ import annotations

import hashlib
import json

import pytest

from assistant.qa.answer import ask, stream_answer

pytestmark = pytest.mark.integration

SECRET_QUESTION = "营销人员向高净值客户推介私募产品前需要经过什么复核？"


@pytest.fixture()
def private_config(tmp_path, monkeypatch):
    """Installation keys made by the test's knowledge base go to a private folder."""
    monkeypatch.delenv("COMPLY_AUDIT_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_megabyte_question_is_refused_before_anything_runs(private_config, small_kb):
    settings, con = small_kb
    with pytest.raises(ValueError, match="问题过长") as refused:
        stream_answer(settings, con, "问" * 1_000_000, client=None, user="mallory")
    assert "1000000" in str(refused.value) and str(settings.max_question_chars) in str(refused.value)
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_the_audit_row_of_a_question_holds_no_text(private_config, leveled_kb):
    settings, con = leveled_kb
    bounded = settings.model_copy(update={"max_question_chars": len(SECRET_QUESTION)})
    answer = ask(bounded, con, SECRET_QUESTION, client=None, clearance=2, user="root")
    assert any(c.level == 2 for c in answer.clauses) and "青鸾计划" in answer.answer
    seq, raw = con.execute("SELECT seq, CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'qa.ask'").fetchone()
    detail = json.loads(raw)
    assert {"question", "query", "answer"}.isdisjoint(detail)
    assert "青鸾" not in raw and SECRET_QUESTION not in raw
    assert (detail["question_sha256"], detail["question_chars"]) == (sha256(SECRET_QUESTION), len(SECRET_QUESTION))
    assert (detail["answer_sha256"], detail["answer_chars"]) == (sha256(answer.answer), len(answer.answer))
    assert detail["level"] == "秘密" and detail["retrieved"] == [c.chunk_id for c in answer.clauses]
    from assistant.qa.answer import QuestionTooLong
    from comply.audit_view import REDACTED, query

    assert [r["detail"] for r in query(con, ["qa.ask"], clearance=0)] == [REDACTED]
    assert json.loads(query(con, ["qa.ask"], clearance=2)[0]["detail"]) == detail
    with pytest.raises(QuestionTooLong):
        ask(bounded, con, SECRET_QUESTION + "？", client=None, clearance=2, user="root")
    assert con.execute("SELECT max(seq) FROM audit_log").fetchone()[0] == seq
