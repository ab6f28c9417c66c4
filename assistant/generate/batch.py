"""Batch generation of personalised notes: one job, one item per client, each committed as it finishes.

An interrupted job resumes with its pending items. Consent is checked right before each client and again
when the text is stored, so a revocation or purge during a job is honoured; an item stores its review's
findings without citations (a later viewer may have a lower clearance than the one who ran the job).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from assistant.clients.consent import PURPOSES, has_consent
from assistant.clients.profiles import consented_clients, get_client, latest_market_date, list_clients
from assistant.generate.loop import Loop
from assistant.generate.personal import PersonalError, generate_personal
from comply import audit
from comply.db import rows_as_dicts, transaction


@dataclass(frozen=True)
class JobStatus:
    """A job's kind, day, state and how many items are in each state."""

    job_id: str
    kind: str
    market_date: str
    state: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All items of the job."""
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        """Items no longer pending."""
        return self.total - self.counts.get("pending", 0)


def start_job(con: duckdb.DuckDBPyConnection, kind: str, user: str, market_date: str | None = None) -> str:
    """Create a job over every active client: pending with a consent for ``kind``, skipped (with why) without.

    Raises:
        PersonalError: unknown kind, or no market summary to write about.
    """
    if kind not in PURPOSES:
        raise PersonalError(f"未知的材料类型：{kind}")
    day = market_date or latest_market_date(con)
    if day is None:
        raise PersonalError("尚未导入任何一天的市场概况")
    allowed = {c.client_id for c in consented_clients(con, kind)}
    job_id = f"gen-{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    now = datetime.now(timezone.utc)
    with transaction(con):
        con.execute("INSERT INTO generation_jobs VALUES (?, ?, ?, ?, ?, 'running')", [job_id, kind, day, user, now])
        for c in list_clients(con):
            state, reason = ("pending", None) if c.client_id in allowed else ("skipped", f"未授权用于“{PURPOSES[kind]}”")
            con.execute("INSERT INTO generation_items (job_id, client_id, state, reason) VALUES (?, ?, ?, ?)",
                        [job_id, c.client_id, state, reason])
        audit.append(con, user, "generate.batch_start", job_id, {"kind": kind, "market_date": day, "pending": len(allowed)})
    return job_id


def job_status(con: duckdb.DuckDBPyConnection, job_id: str) -> JobStatus:
    """The job's state and counts.

    Raises:
        PersonalError: no such job.
    """
    row = con.execute("SELECT kind, market_date, state FROM generation_jobs WHERE job_id = ?", [job_id]).fetchone()
    if row is None:
        raise PersonalError(f"没有批量任务 {job_id}")
    counts = dict(con.execute("SELECT state, count(*) FROM generation_items WHERE job_id = ? GROUP BY state", [job_id]).fetchall())
    return JobStatus(job_id, row[0], row[1], row[2], counts)


def job_items(con: duckdb.DuckDBPyConnection, job_id: str) -> list[dict]:
    """The job's items in client order (text and review report included)."""
    return rows_as_dicts(con.execute(
        "SELECT client_id, state, text, CAST(review AS VARCHAR) AS review, rounds, mode, reason, finished_at "
        "FROM generation_items WHERE job_id = ? ORDER BY client_id", [job_id],
    ))


def jobs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict]:
    """The latest jobs, newest first."""
    return rows_as_dicts(con.execute(
        "SELECT job_id, kind, market_date, created_by, created_at, state FROM generation_jobs ORDER BY created_at DESC LIMIT ?", [limit],
    ))


def _finish(con: duckdb.DuckDBPyConnection, job_id: str, client_id: str, kind: str, state: str, **values: object) -> None:
    """Record an item's outcome, unless it was settled meanwhile or (for a text) the consent was revoked or the
    client purged while it was being written: then the text is discarded and the item skipped."""
    with transaction(con):
        client = get_client(con, client_id)
        if state == "done" and (client is None or client.state != "active" or not has_consent(con, client_id, kind)):
            state, values = "skipped", {"reason": "生成期间客户撤回了授权或数据已清除，生成结果已丢弃"}
        con.execute(
            "UPDATE generation_items SET state = ?, text = ?, review = ?, rounds = ?, mode = ?, reason = ?, finished_at = ? "
            "WHERE job_id = ? AND client_id = ? AND state = 'pending'",
            [state, values.get("text"), values.get("review"), values.get("rounds"), values.get("mode"), values.get("reason"),
             datetime.now(timezone.utc), job_id, client_id],
        )


def run_job(
    loop: Loop, job_id: str, *, user: str, clearance: int = 0, max_rounds: int = 3,
    progress: Callable[[JobStatus, str], None] | None = None, should_stop: Callable[[], bool] | None = None,
) -> JobStatus:
    """Generate every pending item of the job, committing each; stop early when ``should_stop()`` says so.

    ``progress`` is called after each item with the job's status and the client id just finished.
    """
    con = loop.reviewer.con
    status = job_status(con, job_id)
    pending = [r[0] for r in con.execute(
        "SELECT client_id FROM generation_items WHERE job_id = ? AND state = 'pending' ORDER BY client_id", [job_id]).fetchall()]
    for client_id in pending:
        if should_stop and should_stop():
            break
        try:
            result = generate_personal(loop, client_id, status.kind, market_date=status.market_date, user=user,
                                       clearance=clearance, max_rounds=max_rounds)
            review = {"mode": result.report.mode, "notes": result.notes, "stages": [s.as_json() for s in result.report.stages],
                      "findings": [{k: v for k, v in f.as_json().items() if k not in ("citations", "cases")} for f in result.report.findings],
                      "hints": [{k: v for k, v in h.as_json().items() if k != "citations"} for h in result.report.hints]}
            _finish(con, job_id, client_id, status.kind, "done", text=result.text, review=json.dumps(review, ensure_ascii=False),
                    rounds=result.rounds, mode=result.mode)
        except PersonalError as exc:
            _finish(con, job_id, client_id, status.kind, "skipped", reason=str(exc))
        except Exception as exc:  # one client's failure must not stop the batch; the reason is kept on the item
            _finish(con, job_id, client_id, status.kind, "failed", reason=f"{type(exc).__name__}: {exc}")
        if progress:
            progress(job_status(con, job_id), client_id)
    status = job_status(con, job_id)
    if not status.counts.get("pending") and status.state != "done":
        with transaction(con):
            con.execute("UPDATE generation_jobs SET state = 'done' WHERE job_id = ?", [job_id])
            audit.append(con, user, "generate.batch_done", job_id, {"counts": status.counts})
        status = job_status(con, job_id)
    return status
