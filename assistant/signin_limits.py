"""Sign-in limits: back-off per account and per source, known-good sources, and bounded logging of failures.

* **Back-off, no hard lock.** After :data:`FREE_FAILURES` failures, each further attempt must wait
  :data:`BACKOFF_BASE`, doubling with every failure up to :data:`BACKOFF_MAX`. An attempt made too
  early is refused without checking the password and is not counted as a failure, so hammering does
  not lengthen the wait. It is counted twice over:
* **per source**, across all names, within a :data:`SOURCE_WINDOW`: this limits how many guesses one
  source (the HTTP peer address, or the Streamlit page's per-browser-session identifier, kept only as
  a SHA-256 hash) may make, whatever names it tries, real or not, so it cannot tell them apart;
* **per account**, since its last successful sign-in (within :data:`RETENTION`): this slows guessing
  one password from many sources. A source that has signed in to the account before (within
  :data:`KNOWN_SOURCE_TTL`) is held back only by its own failures, so an attacker elsewhere cannot keep
  the owner out; ``comply users unlock`` clears an account's failures.
* **Bounded logs.** Failures on names that are no account, and refused attempts, are counted per source
  and window in one ``signin_windows`` row, not one row each. The first of each kind in a window is
  audited as ``auth.fail``; the rest are summed in at most one ``auth.failed_burst`` row per source and
  window, written once the window has closed (:func:`flush_bursts`, run before every sign-in).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import duckdb

from comply import audit
from comply.db import transaction

FREE_FAILURES = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)
SOURCE_WINDOW = timedelta(minutes=15)
KNOWN_SOURCE_TTL = timedelta(days=90)
RETENTION = timedelta(days=1)  # attempts and closed windows older than this no longer matter to any limit

NO_SOURCE = ""  # the window key of callers that give no source (in-process callers, tests)
_EPOCH = datetime(2000, 1, 1)


def source_hash(source: str | None) -> str | None:
    """The stored form of a caller's source (``None`` when it gave none)."""
    if source is None or not str(source).strip():
        return None
    return hashlib.sha256(f"comply-signin-source\n{source}".encode()).hexdigest()


def source_label(digest: str | None) -> str:
    """A short, stable label of a hashed source for the audit log."""
    return digest[:16] if digest else "未提供"


def window_start(now: datetime) -> datetime:
    """The start of the fixed window holding ``now`` (naive UTC)."""
    return now - (now - _EPOCH) % SOURCE_WINDOW


def backoff(failures: int) -> timedelta | None:
    """How long to wait after the last of ``failures`` failures; ``None`` while they are within the free ones."""
    if failures < FREE_FAILURES:
        return None
    return min(BACKOFF_BASE * 2 ** min(failures - FREE_FAILURES, 20), BACKOFF_MAX)


def _wait_until(failures: int, last: datetime | None, now: datetime) -> datetime | None:
    delay = backoff(failures)
    if delay is None or last is None:
        return None
    until = last + delay
    return until if now < until else None


def is_known(con: duckdb.DuckDBPyConnection, username: str, digest: str | None, now: datetime) -> bool:
    """Whether the source has signed in to the account within :data:`KNOWN_SOURCE_TTL`."""
    if digest is None:
        return False
    row = con.execute(
        "SELECT 1 FROM signin_sources WHERE username = ? AND source_hash = ? AND last_ok >= ?",
        [username, digest, now - KNOWN_SOURCE_TTL],
    ).fetchone()
    return row is not None


def _source_failures(con: duckdb.DuckDBPyConnection, digest: str | None, now: datetime) -> tuple[int, datetime | None]:
    """(failures, the last of them) of a source in the window holding ``now``."""
    row = con.execute(
        "SELECT failures, last_failure FROM signin_windows WHERE source_hash = ? AND window_start = ?",
        [digest or NO_SOURCE, window_start(now)],
    ).fetchone()
    return (row[0], row[1]) if row else (0, None)


def _account_failures(con: duckdb.DuckDBPyConnection, username: str, digest: str | None,
                      now: datetime) -> tuple[int, datetime | None]:
    """(failures since the last success, the last failure) of an account; only this source's own when it is known-good."""
    known = is_known(con, username, digest, now)
    scope = "AND source_hash = ?" if known else ""
    args = [username, *([digest] if known else [])]
    return con.execute(
        f"SELECT count(*), max(ts) FROM login_attempts WHERE username = ? {scope} AND NOT ok AND ts <= ? AND ts > ? "
        f"AND ts > coalesce((SELECT max(ts) FROM login_attempts WHERE username = ? {scope} AND ok AND ts <= ?), ?)",
        [*args, now, now - RETENTION, *args, now, now - RETENTION],
    ).fetchone()


def refused_until(con: duckdb.DuckDBPyConnection, name: str, exists: bool, digest: str | None, now: datetime) -> datetime | None:
    """Until when (naive UTC) an attempt on ``name`` from this source is refused unchecked; ``None`` if it may go ahead."""
    waits = [_wait_until(*_source_failures(con, digest, now), now)]
    if exists:
        waits.append(_wait_until(*_account_failures(con, name, digest, now), now))
    return max((w for w in waits if w is not None), default=None)


def _count(con: duckdb.DuckDBPyConnection, digest: str | None, now: datetime, *, failure: bool = False,
           unknown: bool = False, refused: bool = False) -> tuple[int, int]:
    """Add one event to the source's window row; return its (unknown, refused) counts afterwards."""
    key = [digest or NO_SOURCE, window_start(now)]
    con.execute(
        "INSERT INTO signin_windows VALUES (?, ?, ?, ?, ?, ?, FALSE) ON CONFLICT (source_hash, window_start) DO UPDATE SET "
        "failures = failures + excluded.failures, unknown = unknown + excluded.unknown, refused = refused + excluded.refused, "
        "last_failure = coalesce(excluded.last_failure, last_failure)",
        [*key, int(failure), int(unknown), int(refused), now if failure else None],
    )
    return con.execute("SELECT unknown, refused FROM signin_windows WHERE source_hash = ? AND window_start = ?", key).fetchone()


def _detail(digest: str | None, detail: dict) -> dict:
    return {**detail, "source": source_label(digest)} if digest else detail


def record_attempt(con: duckdb.DuckDBPyConnection, name: str, now: datetime, ok: bool, reason: str, digest: str | None,
                   detail: dict, new_hash: str | None = None) -> None:
    """An attempt on an existing account: its row (the back-off reads these) and its audit row; on success the
    source is remembered as known-good (and an upgraded hash stored), on failure the source's window counts it."""
    with transaction(con):
        con.execute("INSERT INTO login_attempts (username, ts, ok, reason, source_hash) VALUES (?, ?, ?, ?, ?)",
                    [name, now, ok, reason, digest])
        con.execute("DELETE FROM login_attempts WHERE username = ? AND ts < ?", [name, now - RETENTION])
        if ok and digest is not None:
            con.execute("INSERT INTO signin_sources VALUES (?, ?, ?, ?) ON CONFLICT (username, source_hash) DO UPDATE "
                        "SET last_ok = excluded.last_ok", [name, digest, now, now])
            con.execute("DELETE FROM signin_sources WHERE username = ? AND last_ok < ?", [name, now - KNOWN_SOURCE_TTL])
        if not ok:
            _count(con, digest, now, failure=True)
        if new_hash is not None:
            con.execute("UPDATE users SET password_hash = ? WHERE username = ?", [new_hash, name])
        audit.append(con, name, "auth.ok" if ok else "auth.fail", name, _detail(digest, {"reason": reason, **detail}))


def record_unknown(con: duckdb.DuckDBPyConnection, name: str, now: datetime, digest: str | None) -> None:
    """A failed attempt on a name that is no account: counted in the source's window, audited if it is the first there."""
    with transaction(con):
        unknown, _ = _count(con, digest, now, failure=True, unknown=True)
        if unknown == 1:
            audit.append(con, name, "auth.fail", name, _detail(digest, {"reason": "unknown_user", "first_in_window": True}))


def record_refusal(con: duckdb.DuckDBPyConnection, name: str, now: datetime, digest: str | None, until: datetime) -> None:
    """An attempt refused unchecked: counted in the source's window, audited if it is the first there."""
    with transaction(con):
        _, refused = _count(con, digest, now, refused=True)
        if refused == 1:
            audit.append(con, name, "auth.fail", name, _detail(digest, {
                "reason": "locked", "until": until.replace(tzinfo=UTC).isoformat(), "first_in_window": True}))


def flush_bursts(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Write one ``auth.failed_burst`` row for each closed window that counted more than its first events; return how many.

    Windows older than :data:`RETENTION` are dropped once written.
    """
    cutoff = now - SOURCE_WINDOW
    if not con.execute("SELECT 1 FROM signin_windows WHERE NOT flushed AND window_start <= ? LIMIT 1", [cutoff]).fetchone():
        return 0
    written = 0
    with transaction(con):  # read again under the write lock: two sign-ins never write the same burst twice
        closed = con.execute(
            "SELECT source_hash, window_start, unknown, refused FROM signin_windows WHERE NOT flushed AND window_start <= ? "
            "ORDER BY window_start, source_hash",
            [cutoff],
        ).fetchall()
        for digest, start, unknown, refused in closed:
            if unknown > 1 or refused > 1:
                label = source_label(digest or None)
                audit.append(con, "system", "auth.failed_burst", label, {
                    "source": label, "unknown_user": unknown, "refused": refused, "first_audited_singly": True,
                    "window_start": start.replace(tzinfo=UTC).isoformat(),
                    "window_end": (start + SOURCE_WINDOW).replace(tzinfo=UTC).isoformat(),
                })
                written += 1
            con.execute("UPDATE signin_windows SET flushed = TRUE WHERE source_hash = ? AND window_start = ?", [digest, start])
        con.execute("DELETE FROM signin_windows WHERE flushed AND window_start < ?", [now - RETENTION])
    return written


def clear_failures(con: duckdb.DuckDBPyConnection, username: str, now: datetime) -> int:
    """End an account's back-off (inside the caller's transaction): forget its failed sign-ins, and the failures
    counted this window against the sources it is known to sign in from; return how many account failures there were."""
    count = con.execute("SELECT count(*) FROM login_attempts WHERE username = ? AND NOT ok", [username]).fetchone()[0]
    con.execute("DELETE FROM login_attempts WHERE username = ? AND NOT ok", [username])
    con.execute(
        "UPDATE signin_windows SET failures = 0 WHERE window_start = ? AND source_hash IN "
        "(SELECT source_hash FROM signin_sources WHERE username = ? AND last_ok >= ?)",
        [window_start(now), username, now - KNOWN_SOURCE_TTL],
    )
    return count
