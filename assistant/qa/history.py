"""Chat history kept on the server, so that citations stay attached to the message they belong to.

A conversation belongs to one user; only its owner may read, rename or delete it, add to it or rate its answers.
Deleting a conversation removes its messages and their feedback; the audit log (append-only) keeps its
``qa.ask`` rows, which hold no text.
Citations, cases, clauses and meta of a message are stored as JSON beside its text. Every read is
filtered by the reader's clearance at that moment: an answer that rests on a clause or case above it
(by the level stored with the answer, or the source's level now, whichever is higher) is withheld whole.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import duckdb

from comply.db import rows_as_dicts, transaction
from comply.levels import level_rank

MESSAGE_ROLES = ("user", "assistant")
TITLE_CHARS = 30
_NOT_YOURS = "无权访问该会话"
WITHHELD = "〔该回答依据的条款或案例密级高于您当前的权限，已隐去〕"


@dataclass(frozen=True)
class StoredMessage:
    """One message of a conversation, with what was shown beside it."""

    id: int
    conversation_id: str
    role: str  # 'user' | 'assistant'
    content: str
    citations: list[dict] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)
    clauses: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    created_at: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).isoformat(timespec="microseconds")


def _plain(obj: object) -> object:
    """JSON fallback: dataclasses become dicts, dates ISO strings; anything else is an error."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"无法保存为 JSON：{type(obj).__name__}")


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=_plain)


def _owned(con: duckdb.DuckDBPyConnection, conversation_id: str, username: str) -> tuple:
    row = con.execute("SELECT username, title FROM conversations WHERE id = ?", [conversation_id]).fetchone()
    if row is None or row[0] != username:
        raise PermissionError(_NOT_YOURS)  # the same for a missing and a foreign conversation
    return row


def new_conversation(con: duckdb.DuckDBPyConnection, username: str, title: str = "") -> str:
    """Start a conversation owned by ``username``; return its id (uuid4 hex)."""
    cid = uuid.uuid4().hex
    now = _now()
    with transaction(con):
        con.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, nextval('conversation_touch_seq'))",
            [cid, username, (title or "").strip(), now, now],
        )
    return cid


def conversations(con: duckdb.DuckDBPyConnection, username: str) -> list[dict]:
    """The user's conversations, most recently changed first: ``[{"id", "title", "updated_at"}]``."""
    rows = con.execute(
        "SELECT id, title, updated_at FROM conversations WHERE username = ? ORDER BY touch DESC", [username]
    ).fetchall()
    return [{"id": r[0], "title": r[1], "updated_at": _iso(r[2])} for r in rows]


def conversation(con: duckdb.DuckDBPyConnection, conversation_id: str, username: str) -> dict:
    """One of the user's conversations: ``{"id", "title", "created_at", "updated_at"}``.

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
    """
    _owned(con, conversation_id, username)
    title, created, updated = con.execute(
        "SELECT title, created_at, updated_at FROM conversations WHERE id = ?", [conversation_id]
    ).fetchone()
    return {"id": conversation_id, "title": title, "created_at": _iso(created), "updated_at": _iso(updated)}


def clean_title(title: str) -> str:
    """A title as stored: whitespace runs (line breaks included) made one space, trimmed.

    Raises:
        ValueError: the title is empty or longer than :data:`TITLE_CHARS` characters.
    """
    cleaned = re.sub(r"\s+", " ", title or "").strip()
    if not cleaned:
        raise ValueError("对话标题不能为空")
    if len(cleaned) > TITLE_CHARS:
        raise ValueError(f"对话标题最多 {TITLE_CHARS} 字，现为 {len(cleaned)} 字")
    return cleaned


def rename_conversation(con: duckdb.DuckDBPyConnection, conversation_id: str, username: str, title: str) -> str:
    """Give one of the user's conversations a new title (see :func:`clean_title`); return the title as stored.

    Renaming does not reorder the list (``touch`` is kept): it is not a new exchange.

    Raises:
        ValueError: an empty or over-long title; nothing is changed.
        PermissionError: the conversation does not exist or is not the user's.
    """
    cleaned = clean_title(title)
    with transaction(con):
        _owned(con, conversation_id, username)
        con.execute("UPDATE conversations SET title = ? WHERE id = ?", [cleaned, conversation_id])
    return cleaned


def delete_conversation(con: duckdb.DuckDBPyConnection, conversation_id: str, username: str) -> int:
    """Delete one of the user's conversations with its messages and their feedback; return how many messages went.

    The audit log is not touched (it is append-only; its ``qa.ask`` rows hold hashes, not text).

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
    """
    with transaction(con):
        _owned(con, conversation_id, username)
        con.execute(
            "DELETE FROM feedback WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?)",
            [conversation_id],
        )
        deleted = con.execute("DELETE FROM messages WHERE conversation_id = ? RETURNING id", [conversation_id]).fetchall()
        con.execute("DELETE FROM conversations WHERE id = ?", [conversation_id])
    return len(deleted)


def _title_from(content: str) -> str:
    return re.sub(r"\s+", " ", content).strip()[:TITLE_CHARS]


def add_message(
    con: duckdb.DuckDBPyConnection,
    conversation_id: str,
    username: str,
    role: str,
    content: str,
    *,
    citations: list[dict] = (),
    cases: list[dict] = (),
    clauses: list[dict] = (),
    meta: dict | None = None,
) -> int:
    """Append a message to one of the user's conversations; return the message id.

    The first user message names an untitled conversation (its first 30 characters).

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
        ValueError: role is not 'user' or 'assistant'.
    """
    if role not in MESSAGE_ROLES:
        raise ValueError(f"消息角色须为 user 或 assistant，而不是 {role!r}")
    payload = [_dump(list(citations)), _dump(list(cases)), _dump(list(clauses)), _dump(dict(meta or {}))]
    now = _now()
    with transaction(con):
        _, title = _owned(con, conversation_id, username)
        message_id = con.execute(
            "INSERT INTO messages (conversation_id, role, content, citations, cases, clauses, meta, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [conversation_id, role, content, *payload, now],
        ).fetchone()[0]
        if not title and role == "user" and _title_from(content):
            title = _title_from(content)
        con.execute(
            "UPDATE conversations SET title = ?, updated_at = ?, touch = nextval('conversation_touch_seq') WHERE id = ?",
            [title, now, conversation_id],
        )
    return int(message_id)


def messages(
    con: duckdb.DuckDBPyConnection, conversation_id: str, username: str, *, clearance: int
) -> list[StoredMessage]:
    """The conversation's messages in order, as a reader of ``clearance`` may see them (see the module notes).

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
    """
    _owned(con, conversation_id, username)
    rows = con.execute(
        "SELECT id, conversation_id, role, content, CAST(citations AS VARCHAR), CAST(cases AS VARCHAR), "
        "CAST(clauses AS VARCHAR), CAST(meta AS VARCHAR), created_at FROM messages WHERE conversation_id = ? ORDER BY id",
        [conversation_id],
    ).fetchall()
    stored = [
        StoredMessage(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), json.loads(r[6]),
                      json.loads(r[7]), _iso(r[8]))
        for r in rows
    ]
    levels = _source_levels(con, stored)
    return [_within(m, clearance, levels) for m in stored]


def _source_levels(con: duckdb.DuckDBPyConnection, stored: list[StoredMessage]) -> dict[str, int]:
    """The current level of every chunk (the highest of any version of its document) and case the messages rest
    on, keyed ``chunk:ID`` / ``case:ID``."""
    chunk_ids = sorted({str(x["chunk_id"]) for m in stored for x in (*m.clauses, *m.citations) if x.get("chunk_id")})
    case_ids = sorted({str(c["case_id"]) for m in stored for c in m.cases if c.get("case_id")})
    levels: dict[str, int] = {}
    if chunk_ids:
        for chunk_id, level in con.execute(
            "SELECT c.chunk_id, max(v.level) FROM chunks c JOIN documents d USING (doc_id) "
            "JOIN documents v ON v.doc_key = d.doc_key WHERE c.chunk_id IN (SELECT unnest(?)) GROUP BY c.chunk_id",
            [chunk_ids],
        ).fetchall():
            levels[f"chunk:{chunk_id}"] = int(level)
    if case_ids:
        for case_id, level in con.execute(
            "SELECT case_id, level FROM cases WHERE case_id IN (SELECT unnest(?))", [case_ids]
        ).fetchall():
            levels[f"case:{case_id}"] = int(level)
    return levels


def _message_level(m: StoredMessage, levels: dict[str, int]) -> int:
    """The highest level among what the message rests on: stored with it, or its source's level now."""
    ranks = [level_rank(x["level"]) for x in (*m.clauses, *m.citations, *m.cases) if x.get("level") is not None]
    ranks += [levels.get(f"chunk:{x['chunk_id']}", 0) for x in (*m.clauses, *m.citations) if x.get("chunk_id")]
    ranks += [levels.get(f"case:{c['case_id']}", 0) for c in m.cases if c.get("case_id")]
    return max(ranks, default=0)


def _within(m: StoredMessage, clearance: int, levels: dict[str, int]) -> StoredMessage:
    """The message as a reader of ``clearance`` may see it: an answer above it is withheld whole."""
    if m.role != "assistant" or _message_level(m, levels) <= clearance:
        return m
    return dataclasses.replace(m, content=WITHHELD, citations=[], cases=[], clauses=[],
                               meta={"mode": m.meta.get("mode"), "withheld": True})


def add_feedback(
    con: duckdb.DuckDBPyConnection, message_id: int, username: str, rating: int, correction: str | None = None
) -> None:
    """Rate an answer (+1 / -1) with an optional correction; a second rating by the same user replaces the first.

    Raises:
        ValueError: rating other than +1 / -1, or the message is not an assistant message.
        PermissionError: the message does not exist or is not in one of the user's conversations.
    """
    if isinstance(rating, bool) or rating not in (1, -1):
        raise ValueError("评价须为 +1（有用）或 -1（无用）")
    correction = (correction or "").strip() or None
    with transaction(con):
        row = con.execute(
            "SELECT m.role, c.username FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?",
            [message_id],
        ).fetchone()
        if row is None or row[1] != username:
            raise PermissionError(_NOT_YOURS)
        if row[0] != "assistant":
            raise ValueError("只能评价助手的回答")
        con.execute(
            "INSERT INTO feedback VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id, username) "
            "DO UPDATE SET rating = excluded.rating, correction = excluded.correction, created_at = excluded.created_at",
            [message_id, username, int(rating), correction, _now()],
        )


def feedback(con: duckdb.DuckDBPyConnection, *, clearance: int) -> list[dict]:
    """All feedback, oldest first, for evaluation: the rated answer with the question it answered.

    Each item: ``message_id, conversation_id, question, answer, rating, correction, username, created_at``
    (``question`` is the user message just before the answer, or None). Answers that rest on something
    above ``clearance`` are left out, with their question and correction.
    """
    rows = rows_as_dicts(con.execute(
        """
        SELECT f.message_id, m.conversation_id,
               (SELECT q.content FROM messages q
                 WHERE q.conversation_id = m.conversation_id AND q.role = 'user' AND q.id < m.id
                 ORDER BY q.id DESC LIMIT 1) AS question,
               m.content AS answer, f.rating, f.correction, f.username, f.created_at,
               CAST(m.citations AS VARCHAR) AS citations, CAST(m.cases AS VARCHAR) AS cases,
               CAST(m.clauses AS VARCHAR) AS clauses
        FROM feedback f JOIN messages m ON m.id = f.message_id
        ORDER BY f.created_at, f.message_id, f.username
        """
    ))
    rated = [StoredMessage(int(r["message_id"]), r["conversation_id"], "assistant", r["answer"], json.loads(r["citations"]),
                           json.loads(r["cases"]), json.loads(r["clauses"])) for r in rows]
    levels = _source_levels(con, rated)
    out = []
    for r, m in zip(rows, rated):
        if _message_level(m, levels) > clearance:
            continue
        for key in ("citations", "cases", "clauses"):
            del r[key]
        r["message_id"] = m.id
        r["created_at"] = _iso(r["created_at"])
        out.append(r)
    return out
