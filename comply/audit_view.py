"""Reading the audit log for a person: filtered rows with classified details hidden above their clearance, the rows
as a reader sees them on the page, and the export (rows, checkpoints and the public key in one ZIP)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from comply.audit import ChainReport, seal
from comply.audit_anchor import anchor_of, export_lines
from comply.audit_key import load_key
from comply.audit_names import action_name, detail_text
from comply.text import BEIJING, EMPTY, beijing_time
from comply.config import Settings
from comply.db import rows_as_dicts
from comply.files.office import dicts_csv
from comply.levels import LEVELS, level_rank

REDACTED = "〔密级高于您的权限，已隐去〕"


def detail_level(detail: str | None) -> int:
    """The rank of a detail's ``level`` tag (0 untagged; an unknown tag counts as the highest level)."""
    tag = json.loads(detail).get("level") if detail else None
    if tag is None:
        return 0
    try:
        return level_rank(str(tag))
    except ValueError:
        return len(LEVELS) - 1


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
    limit: int | None = 5000,
    *,
    clearance: int,
) -> list[dict]:
    """Audit rows, newest first (``limit`` of them, all when None), filtered by action, actor and Beijing-time date
    range (inclusive); empty filters match all.

    A detail tagged above ``clearance`` reads :data:`REDACTED`; hashes and signatures are kept.
    """
    rows = rows_as_dicts(con.execute(
        "SELECT seq, ts, actor, action, target, CAST(detail AS VARCHAR) AS detail, prev_hash, hash, sig FROM audit_log "
        "WHERE (len(?) = 0 OR list_contains(?, action)) AND (len(?) = 0 OR list_contains(?, actor)) "
        "AND (? IS NULL OR ts >= ?) AND (? IS NULL OR ts < ?) ORDER BY seq DESC LIMIT ?",
        [list(actions), list(actions), list(actors), list(actors),
         *(2 * [_utc_start(start)]), *(2 * [_utc_start(end + timedelta(days=1) if end else None)]), limit],
    ))
    for row in rows:
        if detail_level(row["detail"]) > clearance:
            row["detail"] = REDACTED
    return rows


def _utc_start(day: date | None) -> str | None:
    """The stored (UTC, ISO) form of the moment a Beijing calendar day begins; row timestamps compare as text."""
    if day is None:
        return None
    return datetime.combine(day, time(), BEIJING).astimezone(UTC).isoformat(timespec="microseconds")


def readable(rows: Sequence[dict], names: Mapping[tuple[str, str], str] | None = None) -> list[dict]:
    """Rows from :func:`query` as the page shows them: Beijing time to the second, the action's Chinese name as
    ``operation`` (``action`` keeps the code), the detail as ``标签：值`` text (a hidden one stays hidden; ``names``
    names coded values, as in :func:`comply.audit_names.value_text`) and — for nothing."""
    return [{
        "seq": row["seq"],
        "ts": beijing_time(row["ts"]),
        "actor": row["actor"] or EMPTY,
        "operation": action_name(row["action"]),
        "action": row["action"],
        "target": row["target"] or EMPTY,
        "detail": row["detail"] if row["detail"] == REDACTED else detail_text(json.loads(row["detail"] or "{}"), names),
        "hash": row["hash"] or EMPTY,
    } for row in rows]


def export_zip(con: duckdb.DuckDBPyConnection, settings: Settings, clearance: int) -> tuple[ChainReport, bytes]:
    """Seal the head (when the chain verifies), then ZIP the rows as CSV (seen at ``clearance``), the checkpoint
    lines and the public key, so that the head can be checked later away from this machine."""
    report = seal(con, settings)
    anchor = anchor_of(settings)
    key = load_key(anchor.key_file)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("audit_log.csv", dicts_csv(query(con, limit=None, clearance=clearance)))
        bundle.writestr("audit_checkpoints.jsonl", export_lines(anchor))
        if key is not None:
            bundle.writestr("audit_public_key.pem", key.public_pem())
        bundle.writestr("verify.json", json.dumps(report.__dict__, ensure_ascii=False, indent=1))
    return report, buf.getvalue()
