"""Opening the DuckDB database (migrated on open) and small transaction helpers."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from comply.migrations import migrate

_LOCK_HOLDER = re.compile(r"PID (\d+)")
_CONFLICT = re.compile(r"conflict|failed to commit", re.IGNORECASE)


class DatabaseBusyError(RuntimeError):
    """Another process holds the database, or another session changed the same rows first; nothing was changed."""


def connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database file for writing and bring its schema up to date.

    Raises:
        DatabaseBusyError: when another process (the running app, another command) holds the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        holder = _LOCK_HOLDER.search(str(exc))
        raise DatabaseBusyError(
            f"数据库 {path} 正被另一个进程{f'（PID {holder.group(1)}）' if holder else ''}占用（通常是运行中的应用或另一条 comply 命令），"
            "本次没有做任何改动。请先停止该进程或等它结束后重试。"
        ) from exc
    migrate(con)
    return con


# One writer at a time per process: sessions of the app share a database through cursors, and the
# audit chain's "read the last row, append the next" must not interleave between two of them.
_WRITE_LOCK = threading.RLock()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it commits, or none of it (serialised within the process).

    Raises:
        DatabaseBusyError: when another connection changed the same rows first (a write conflict); rolled back.
    """
    with _WRITE_LOCK:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except duckdb.TransactionException as exc:
            _rollback(con)
            if not _CONFLICT.search(str(exc)):
                raise
            raise DatabaseBusyError("数据库正被另一个会话或进程同时修改，本次操作已整体撤销，没有做任何改动，请稍后重试。") from exc
        except BaseException:
            _rollback(con)
            raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction; a commit that failed has already rolled it back."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass  # no transaction is active any more


def rows_as_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    """Fetch all rows of an executed query as dictionaries keyed by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
