"""The tamper-evident audit log: every row hashes the previous row's hash and its own canonical content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import duckdb

from comply.db import rows_as_dicts

GENESIS = "0" * 64


def canonical(record: dict) -> str:
    """Serialise a record deterministically (sorted keys, no whitespace, UTF-8 kept)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, target: str | None, detail: dict) -> str:
    """SHA-256 of the previous hash joined with this row's canonical content."""
    content = canonical({"seq": seq, "ts": ts, "actor": actor, "action": action, "target": target, "detail": detail})
    return hashlib.sha256((prev_hash + "\n" + content).encode("utf-8")).hexdigest()


def append(
    con: duckdb.DuckDBPyConnection, actor: str, action: str, target: str | None = None, detail: dict | None = None
) -> int:
    """Append one event to the chain (inside the caller's transaction, if any); return its sequence number."""
    detail = detail or {}
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    digest = row_hash(prev, seq, ts, actor, action, target, detail)
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, ts, actor, action, target, canonical(detail), prev, digest],
    )
    return seq


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying the chain."""

    ok: bool
    rows: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify(con: duckdb.DuckDBPyConnection) -> ChainReport:
    """Recompute the chain from the first row; name the first row whose link or content does not match."""
    prev, expected_seq, count = GENESIS, 1, 0
    cursor = con.execute(
        "SELECT seq, ts, actor, action, target, CAST(detail AS VARCHAR), prev_hash, hash FROM audit_log ORDER BY seq"
    )
    for seq, ts, actor, action, target, detail, prev_hash, digest in cursor.fetchall():
        count += 1
        if seq != expected_seq:
            return ChainReport(False, count, seq, f"序号不连续：期望 {expected_seq}，实际 {seq}（有记录被删除或插入）")
        if prev_hash != prev:
            return ChainReport(False, count, seq, "前一条哈希不匹配（链被改写）")
        if row_hash(prev, seq, ts, actor, action, target, json.loads(detail) if detail else {}) != digest:
            return ChainReport(False, count, seq, "内容哈希不匹配（该行被篡改）")
        prev, expected_seq = digest, seq + 1
    return ChainReport(True, count)


def facets(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """The distinct actions and actors in the audit log."""
    actions = [r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetchall()]
    actors = [r[0] for r in con.execute("SELECT DISTINCT actor FROM audit_log ORDER BY 1").fetchall()]
    return actions, actors


def query(
    con: duckdb.DuckDBPyConnection,
    actions: Sequence[str] = (),
    actors: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    limit: int = 5000,
) -> list[dict]:
    """Audit rows, newest first, filtered by action, actor and UTC date range (inclusive); empty filters match all."""
    return rows_as_dicts(con.execute(
        "SELECT seq, ts, actor, action, target, CAST(detail AS VARCHAR) AS detail, hash FROM audit_log "
        "WHERE (len(?) = 0 OR list_contains(?, action)) AND (len(?) = 0 OR list_contains(?, actor)) "
        "AND (? IS NULL OR left(ts, 10) >= ?) AND (? IS NULL OR left(ts, 10) <= ?) ORDER BY seq DESC LIMIT ?",
        [list(actions), list(actions), list(actors), list(actors),
         *(2 * [None if start is None else start.isoformat()]), *(2 * [None if end is None else end.isoformat()]), limit],
    ))
