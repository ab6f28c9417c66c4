"""Opening the DuckDB database (migrated on open) and small transaction helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from comply.migrations import migrate


def connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database file and bring its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    migrate(con)
    return con


# One writer at a time per process: sessions of the app share a database through cursors, and the
# audit chain's "read the last row, append the next" must not interleave between two of them.
_WRITE_LOCK = threading.RLock()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it commits, or none of it (serialised within the process)."""
    with _WRITE_LOCK:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def rows_as_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    """Fetch all rows of an executed query as dictionaries keyed by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
