"""Chat helpers: stream an answer while keeping its result, store it with its citations, read history back."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

import duckdb

from assistant.accounts import can, get_user
from assistant.qa.answer import Answer
from assistant.qa.history import StoredMessage
from assistant.qa.prompt import Turn
from comply.levels import level_name
from comply.text import beijing_time
from ui.safe_text import plain

T = TypeVar("T")


class AnswerStream:
    """Iterate the text pieces of a ``stream_answer`` generator; afterwards ``answer`` holds the :class:`Answer` it returned."""

    def __init__(self, gen: Generator[str, None, Answer]) -> None:
        self._gen = gen
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        self.answer = yield from self._gen


def message_payload(answer: Answer) -> dict:
    """What is stored beside an answer's text: ``citations``, ``cases``, ``clauses`` and ``meta`` (JSON-ready)."""
    return {
        "citations": [c.as_json() for c in answer.citations],
        "cases": [dict(c) for c in answer.cases],
        "clauses": [
            {"n": c.n, "chunk_id": c.chunk_id, "doc_title": c.doc_title, "article": c.article, "path": c.path,
             "text": c.text, "level": level_name(c.level), "notice": c.notice}
            for c in answer.clauses
        ],
        "meta": {
            "mode": answer.mode, "model": answer.model, "query": answer.query, "notice": answer.notice,
            "ttft_s": None if answer.ttft_s is None else round(answer.ttft_s, 3), "total_s": round(answer.total_s, 3),
            "audit_seq": answer.audit_seq,
            "claims": [c.as_json() for c in answer.claims],
            "conclusion": None if answer.conclusion is None else answer.conclusion.as_json(),
            "draft": answer.draft,
            "others": [c.n for c in answer.others],
        },
    }


def export_now(con: duckdb.DuckDBPyConnection, username: str, build: Callable[[duckdb.DuckDBPyConnection, int], T]) -> T:
    """``build(con, clearance)`` at the clearance the account has now, not when its button was drawn (a user demoted
    since then exports no more than the new level).

    Raises:
        PermissionError: the account is gone, disabled or no longer has the Q&A page.
    """
    account = get_user(con, username)
    if account is None or account.disabled or not can(account, "qa"):
        raise PermissionError("账号已停用或已无权使用合规问答，无法导出")
    return build(con, account.clearance)


def history(stored: list[StoredMessage]) -> list[Turn]:
    """The conversation so far as (question, answer) turns: each user message with the answer that follows it."""
    turns: list[Turn] = []
    question: str | None = None
    for m in stored:
        if m.role == "user":
            question = m.content
        elif question is not None:
            turns.append(Turn(question, m.content))
            question = None
    return turns


def conversation_label(conversation: dict) -> str:
    """A conversation's entry in the list (Markdown): its title (or 未命名对话) and, greyed, when it last changed in
    Beijing time, so conversations with the same title can be told apart."""
    title = plain(conversation["title"]) or "（未命名对话）"
    return f"{title} :gray[{plain(beijing_time(conversation['updated_at'], '%m-%d %H:%M'))}]"
