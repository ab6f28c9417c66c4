"""Answers produced on threads of their own, so that no rerun of the chat page ever discards one.

Streamlit reruns the page script on every input (a second question, a click, navigation) and abandons the run
that was streaming. So an answer is not produced by the page: :func:`submit` hands the question to the
conversation's :class:`ChatJob`, whose thread (on its own cursor) stores the question when its turn comes,
streams the answer into a buffer, and stores the answer when it is done (``stream_answer`` audits it), whether
or not any page is still watching. A conversation answers one question at a time; one more may wait its turn
(:data:`MAX_WAITING`), and a question beyond that is refused, never dropped silently. Pages follow a job through
:meth:`ChatJob.snapshot` and :meth:`ChatJob.wait`.

Each question is answered with the asker's clearance as the accounts table has it when its turn starts, and the
follow-up history is read at that moment through ``messages(..., clearance=...)``: a withheld answer's text never
reaches the model.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, replace

import duckdb

from assistant.accounts import can, get_user
from assistant.qa.answer import QuestionTooLong, stream_answer
from assistant.qa.history import add_message, messages
from comply.config import Settings
from comply.db import DatabaseBusyError
from comply.llm.protocol import ChatModel
from retrieval.search import NoIndexError
from ui.chat import AnswerStream, history, message_payload

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_WAITING = 1  # questions that may wait behind the running answer of a conversation ("waits its turn")
_LOG = logging.getLogger(__name__)
_IDS = itertools.count(1)
_LOCK = threading.Lock()  # guards the registries; taken before any job's condition, never after
_JOBS: dict[str, ChatJob] = {}  # conversation id -> the job answering it
_FAILED: dict[tuple[str, str], list[Turn]] = {}  # (conversation id, username) -> failed turns not yet shown


@dataclass(frozen=True)
class Turn:
    """One question of a job as a page sees it (a snapshot)."""

    id: int
    question: str
    state: str = QUEUED  # QUEUED → RUNNING → DONE | FAILED
    stage: str | None = None  # the answer's current stage (``assistant.qa.answer.STAGES``)
    text: str = ""  # what has been streamed so far
    question_id: int | None = None  # the stored user message, once stored
    answer_id: int | None = None  # the stored assistant message, once stored
    error: str = ""
    started: float | None = None  # time.monotonic() when the answer started


class ChatJob:
    """The questions of one conversation, answered in order on one thread."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, conversation_id: str, username: str,
                 client: ChatModel | None, no_llm_reason: str) -> None:
        self.conversation_id, self.username = conversation_id, username
        self._con, self._settings = con, settings
        self._client, self._reason = client, no_llm_reason
        self._cond = threading.Condition()
        self._turns: list[Turn] = []
        self._version = 0

    def snapshot(self) -> list[Turn]:
        """Every turn of the job so far, in order."""
        with self._cond:
            return list(self._turns)

    def turn(self, turn_id: int) -> Turn | None:
        """One turn as it is now."""
        with self._cond:
            return next((t for t in self._turns if t.id == turn_id), None)

    def wait(self, seen: int, timeout: float) -> int:
        """Wait until something changed after version ``seen`` (or ``timeout`` seconds); return the version now."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != seen, timeout=timeout)
            return self._version

    def waiting(self) -> int:
        """How many questions wait behind the running one."""
        with self._cond:
            return sum(t.state == QUEUED for t in self._turns)

    def busy(self) -> bool:
        """Whether a question is being answered or waits."""
        with self._cond:
            return any(t.state in (QUEUED, RUNNING) for t in self._turns)

    def _add(self, question: str) -> Turn:
        turn = Turn(next(_IDS), question)
        with self._cond:
            self._turns.append(turn)
            self._changed()
        return turn

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()

    def _set(self, turn_id: int, **changes: object) -> None:
        with self._cond:
            self._set_locked(turn_id, **changes)

    def _set_locked(self, turn_id: int, **changes: object) -> None:
        i = next(i for i, t in enumerate(self._turns) if t.id == turn_id)
        self._turns[i] = replace(self._turns[i], **changes)
        self._changed()

    def _append_text(self, turn_id: int, piece: str) -> None:
        with self._cond:
            current = next(t for t in self._turns if t.id == turn_id)
            self._set_locked(turn_id, text=current.text + piece)

    def _run(self) -> None:
        """Answer the waiting questions in order; leave the registry when none is left (or when the thread cannot go on:
        then the waiting questions fail with a message instead of waiting forever)."""
        try:
            cur = self._con.cursor()
            try:
                while True:
                    with _LOCK, self._cond:
                        turn = next((t for t in self._turns if t.state == QUEUED), None)
                        if turn is None:
                            if _JOBS.get(self.conversation_id) is self:
                                del _JOBS[self.conversation_id]
                            return
                        self._set_locked(turn.id, state=RUNNING, started=time.monotonic())
                    try:
                        self._answer(cur, turn)
                    except Exception as exc:  # noqa: BLE001  (the turn fails with a message; the job goes on)
                        self._fail(turn.id, exc)
            finally:
                cur.close()
        except BaseException as exc:
            for turn in [t for t in self._turns if t.state in (QUEUED, RUNNING)]:
                self._fail(turn.id, exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            with _LOCK:
                if _JOBS.get(self.conversation_id) is self:
                    del _JOBS[self.conversation_id]
            raise

    def _answer(self, cur: duckdb.DuckDBPyConnection, turn: Turn) -> None:
        user = get_user(cur, self.username)
        if user is None or not can(user, "qa"):
            raise PermissionError("账户已停用或已无权使用合规问答，问题未回答")
        earlier = history(messages(cur, self.conversation_id, self.username, clearance=user.clearance))
        # Written outside the job's lock (a slow write must not hold up pages reading the job); a page that reads the
        # messages in between sees the question twice for one refresh at most.
        question_id = add_message(cur, self.conversation_id, self.username, "user", turn.question)
        self._set(turn.id, question_id=question_id)
        stream = AnswerStream(stream_answer(
            self._settings, cur, turn.question, client=self._client, no_llm_reason=self._reason,
            clearance=user.clearance, user=self.username, history=earlier,
            on_stage=lambda stage: self._set(turn.id, stage=stage),
        ))
        for piece in stream:
            self._append_text(turn.id, piece)
        answer = stream.answer
        assert answer is not None
        answer_id = add_message(cur, self.conversation_id, self.username, "assistant", answer.answer, **message_payload(answer))
        self._set(turn.id, answer_id=answer_id, state=DONE)

    def _fail(self, turn_id: int, exc: Exception) -> None:
        if isinstance(exc, (PermissionError, NoIndexError, DatabaseBusyError, QuestionTooLong)):
            message = str(exc)
        else:
            _LOG.exception("chat answer failed")
            message = "回答失败：内部错误，请稍后重新提问"
        with _LOCK, self._cond:
            self._set_locked(turn_id, state=FAILED, error=message)
            failed = next(t for t in self._turns if t.id == turn_id)
            _FAILED.setdefault((self.conversation_id, self.username), []).append(failed)


def submit(con: duckdb.DuckDBPyConnection, settings: Settings, conversation_id: str, username: str, question: str, *,
           client: ChatModel | None, no_llm_reason: str) -> Turn | None:
    """Queue a question of the user's conversation; None when it is refused (an answer runs and
    :data:`MAX_WAITING` questions already wait). The job's thread starts when the conversation has none."""
    with _LOCK:
        job = _JOBS.get(conversation_id)
        if job is not None and job.username != username:
            raise PermissionError("无权访问该会话")
        if job is not None and job.waiting() >= MAX_WAITING:
            return None
        start = job is None
        if start:
            job = _JOBS[conversation_id] = ChatJob(con, settings, conversation_id, username, client, no_llm_reason)
        turn = job._add(question)
    if start:
        threading.Thread(target=job._run, name=f"chat-{conversation_id[:8]}", daemon=True).start()
    return turn


def pending(conversation_id: str, username: str) -> ChatJob | None:
    """The job answering the user's conversation, if one is running."""
    with _LOCK:
        job = _JOBS.get(conversation_id)
    return job if job is not None and job.username == username else None


def take_failures(conversation_id: str, username: str) -> list[Turn]:
    """The conversation's failed turns not yet shown (each is returned once)."""
    with _LOCK:
        return _FAILED.pop((conversation_id, username), [])
