"""Batch review jobs: stored whole when submitted, run item by item on worker threads, resumed after a restart.

A job and all its items are committed, with a ``job.submit`` audit row, before the submission is answered. Worker
threads (``service_workers`` of them, each borrowing a pooled reviewer) take pending items in submission order and
commit each item's result or error as soon as it is done, so progress is visible and a restart loses at most the
items in flight; when the last item is done the job is ``done`` and ``job.done`` is audited in the same
transaction. Every item runs as the job's stored user at the job's stored clearance (the submitter's when it was
submitted), never higher. The drafts' text is stored with the items, never in the audit log.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from comply import audit
from comply.db import transaction
from review.draft import DraftError
from review.genre import AUTO
from service.job_inputs import MAX_DRAFTS, DraftInput
from service.resources import Busy, Resources

if TYPE_CHECKING:
    from review.pipeline import ReviewReport

REVIEW = "review"
STOP_WAIT_S = 30.0  # stopping waits this long for the items in flight (they stay pending and resume otherwise)
UNFINISHED = ("queued", "running")
_LOG = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") + "Z" if t else None


@dataclass(frozen=True)
class Job:
    """A job's record and how many of its items are reviewed (``done``) or failed."""

    job_id: str
    kind: str
    username: str
    clearance: int
    options: dict
    state: str
    total: int
    created_at: datetime
    finished_at: datetime | None
    done: int
    failed: int

    def as_json(self) -> dict:
        """The job as ``GET /v1/jobs/{job_id}`` answers (ISO times, UTC)."""
        return {"job_id": self.job_id, "kind": self.kind, "state": self.state, "total": self.total, "done": self.done,
                "failed": self.failed, "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at),
                "user": self.username, "clearance": self.clearance}


_JOB_QUERY = (
    "SELECT j.job_id, j.kind, j.username, j.clearance, CAST(j.options AS VARCHAR), j.state, j.total, j.created_at, "
    "j.finished_at, count(*) FILTER (WHERE i.state = 'done'), count(*) FILTER (WHERE i.state = 'error') "
    "FROM service_jobs j LEFT JOIN service_job_items i USING (job_id) "
)
_JOB_GROUP = " GROUP BY ALL"


def _job(row: tuple) -> Job:
    return Job(*row[:4], json.loads(row[4] or "{}"), *row[5:])


def submit_job(
    con: duckdb.DuckDBPyConnection, drafts: Sequence[DraftInput], *, username: str, clearance: int, options: dict,
    kind: str = REVIEW,
) -> str:
    """Store a job and all its items in one transaction (a draft with an error is an item already failed) and audit
    ``job.submit``; a job with nothing to review is ``done`` at once. Returns the job's id.

    Raises:
        ValueError: no drafts, or more than :data:`~service.job_inputs.MAX_DRAFTS`.
    """
    if not drafts:
        raise ValueError("没有可审核的文案")
    if len(drafts) > MAX_DRAFTS:
        raise ValueError(f"一个任务最多 {MAX_DRAFTS} 篇文案，本次共 {len(drafts)} 篇，请拆分后分批提交")
    now = _now()
    job_id = f"job-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    errors = sum(1 for d in drafts if d.error)
    finished = errors == len(drafts)
    with transaction(con):
        con.execute("INSERT INTO service_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [job_id, kind, username, clearance, json.dumps(options, ensure_ascii=False),
                     "done" if finished else "queued", len(drafts), now, now if finished else None])
        con.execute(  # one statement over columns: 2,000 rows in a fraction of a second (executemany takes seconds)
            "INSERT INTO service_job_items SELECT ?, unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), NULL, unnest(?::VARCHAR[]), unnest(?::TIMESTAMP[])",
            [job_id, list(range(1, len(drafts) + 1)), [d.id for d in drafts], [d.text for d in drafts],
             ["error" if d.error else "pending" for d in drafts], [d.error or None for d in drafts],
             [now if d.error else None for d in drafts]],
        )
        audit.append(con, username, "job.submit", job_id, {"kind": kind, "items": len(drafts), "errors": errors})
        if finished:
            audit.append(con, username, "job.done", job_id, {"done": 0, "errors": errors})
    return job_id


def get_job(con: duckdb.DuckDBPyConnection, job_id: str) -> Job | None:
    """The job, or None when there is none with this id."""
    row = con.execute(_JOB_QUERY + "WHERE j.job_id = ?" + _JOB_GROUP, [job_id]).fetchone()
    return _job(row) if row else None


def list_jobs(con: duckdb.DuckDBPyConnection, *, username: str | None, max_clearance: int, limit: int = 50) -> list[Job]:
    """The latest jobs (of ``username``; everyone's for None) run at ``max_clearance`` or below, newest first."""
    where, params = "WHERE j.clearance <= ?", [max_clearance]
    if username is not None:
        where, params = where + " AND j.username = ?", [*params, username]
    rows = con.execute(_JOB_QUERY + where + _JOB_GROUP + " ORDER BY j.created_at DESC, j.job_id DESC LIMIT ?",
                       [*params, limit]).fetchall()
    return [_job(r) for r in rows]


def job_items(con: duckdb.DuckDBPyConnection, job_id: str, offset: int = 0, limit: int = 100) -> list[dict]:
    """A page of the job's items in order: ``{seq, id, state}`` and ``result`` (done) or ``error`` (failed)."""
    rows = con.execute(
        "SELECT seq, item_id, state, CAST(result AS VARCHAR), error FROM service_job_items WHERE job_id = ? "
        "ORDER BY seq LIMIT ? OFFSET ?", [job_id, limit, offset]).fetchall()
    out = []
    for seq, item_id, state, result, error in rows:
        item = {"seq": seq, "id": item_id, "state": state}
        if state == "done":
            item["result"] = json.loads(result)
        elif state == "error":
            item["error"] = error
        out.append(item)
    return out


def pending_items(con: duckdb.DuckDBPyConnection, job_id: str) -> list[int]:
    """The sequence numbers of the job's items still to run, in order."""
    return [r[0] for r in con.execute(
        "SELECT seq FROM service_job_items WHERE job_id = ? AND state = 'pending' ORDER BY seq", [job_id]).fetchall()]


def unfinished_jobs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Jobs queued or running (say, when the service stopped), oldest first."""
    return [r[0] for r in con.execute(
        "SELECT job_id FROM service_jobs WHERE state IN ('queued', 'running') ORDER BY created_at, job_id").fetchall()]


def record_result(con: duckdb.DuckDBPyConnection, job_id: str, seq: int, *, result: dict | None = None, error: str = "") -> bool:
    """Commit one pending item's result (or error); finish the job (``done``, audited ``job.done``) in the same
    transaction when it was the last. False when the item was not pending (nothing changed)."""
    state = "error" if error else "done"
    with transaction(con):
        changed = con.execute(
            "UPDATE service_job_items SET state = ?, result = ?, error = ?, finished_at = ? "
            "WHERE job_id = ? AND seq = ? AND state = 'pending' RETURNING seq",
            [state, None if error else json.dumps(result, ensure_ascii=False), error or None, _now(), job_id, seq],
        ).fetchall()
        if changed:
            _finish_if_complete(con, job_id)
    return bool(changed)


def _finish_if_complete(con: duckdb.DuckDBPyConnection, job_id: str) -> None:
    """Inside a transaction: mark the job done and audit it when no item is pending."""
    username, pending, done, failed = con.execute(
        "SELECT j.username, count(*) FILTER (WHERE i.state = 'pending'), count(*) FILTER (WHERE i.state = 'done'), "
        "count(*) FILTER (WHERE i.state = 'error') FROM service_jobs j JOIN service_job_items i USING (job_id) "
        "WHERE j.job_id = ? AND j.state IN ('queued', 'running') GROUP BY j.username", [job_id]).fetchone() or (None, 1, 0, 0)
    if username is not None and not pending:
        con.execute("UPDATE service_jobs SET state = 'done', finished_at = ? WHERE job_id = ?", [_now(), job_id])
        audit.append(con, username, "job.done", job_id, {"done": done, "errors": failed})


def _mark_running(con: duckdb.DuckDBPyConnection, job_id: str) -> None:
    with transaction(con):
        con.execute("UPDATE service_jobs SET state = 'running' WHERE job_id = ? AND state = 'queued'", [job_id])


class JobRunner:
    """Worker threads over a queue of (job, item); started with the service, which it resumes unfinished jobs for."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._queue: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"job-worker-{n}", daemon=True)
                         for n in range(max(1, resources.settings.service_workers))]

    def start(self) -> None:
        """Queue the pending items of every unfinished job, then start the workers."""
        con = self._resources.cursor()
        for job_id in unfinished_jobs(con):
            self.enqueue(job_id)
        for thread in self._threads:
            thread.start()

    def enqueue(self, job_id: str) -> None:
        """Queue the job's pending items (a job with none left is finished at once)."""
        con = self._resources.cursor()
        pending = pending_items(con, job_id)
        if not pending:
            with transaction(con):
                _finish_if_complete(con, job_id)
        for seq in pending:
            self._queue.put((job_id, seq))

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Take no new item and wait (at most ``wait_s`` in all) for the items in flight; queued items stay pending."""
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while not self._stopping.is_set():
            task = self._queue.get()
            if task is None or self._stopping.is_set():
                return
            try:
                self._run(*task)
            except Exception:  # a worker outlives one item (say, the database closing under it); the item stays pending
                _LOG.exception("job item %s#%s not finished", *task)

    def _run(self, job_id: str, seq: int) -> None:
        con = self._resources.cursor()
        job = get_job(con, job_id)
        row = con.execute("SELECT item_id, input FROM service_job_items WHERE job_id = ? AND seq = ? AND state = 'pending'",
                          [job_id, seq]).fetchone()
        if job is None or row is None or job.state not in UNFINISHED:
            return
        if job.state == "queued":
            _mark_running(con, job_id)
        item_id, text = row
        try:
            report = self._review(job, text)
        except DraftError as exc:
            record_result(con, job_id, seq, error=exc.message)
            return
        except Exception as exc:  # one draft's failure (say, a genre gone from the genres file) must not stop the job
            _LOG.exception("job item %s#%s failed", job_id, seq)
            record_result(con, job_id, seq, error=f"审核出错：{exc}" if str(exc) else f"审核出错（{type(exc).__name__}）")
            return
        if report is not None:
            record_result(con, job_id, seq, result=report.as_json(item_id))

    def _review(self, job: Job, text: str) -> ReviewReport | None:
        """Review one draft as the job's user at its clearance, waiting for a free reviewer (None: stopping)."""
        while not self._stopping.is_set():
            try:
                with self._resources.reviewer(with_llm=not job.options.get("no_llm", False), wait=True) as reviewer:
                    return reviewer.review(text, clearance=job.clearance, user=job.username, rewrite=False,
                                           genre=job.options.get("genre", AUTO))
            except Busy:
                continue
        return None
