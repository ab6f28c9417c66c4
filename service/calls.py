"""Every API call in the audit chain (``api.call``: the user, the token's id and name, the route, the status code).

Calls are queued and appended in batches by one writer thread, off the request path, so a burst of searches does
not wait on the chain's single-writer lock; the queue is drained when the service stops. The writes a call makes
(an ingest, a review decision) are committed, with their own audit rows, before it answers.
"""

from __future__ import annotations

import logging
import queue
import threading

import duckdb

from comply import audit
from comply.db import transaction

_BATCH = 200
_LOG = logging.getLogger(__name__)


class CallLog:
    """A background writer of ``api.call`` rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con.cursor()
        self._queue: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="api-call-log", daemon=True)
        self._thread.start()

    def record(self, actor: str, token_id: str, token_name: str, method: str, path: str, status: int) -> None:
        """Queue one call for the audit chain (the token by its id, unique, and its name)."""
        self._queue.put((actor, {"token_id": token_id, "token": token_name, "method": method, "path": path, "status": status}))

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            rows = [b for b in batch if b is not None]
            if not rows:
                continue
            try:
                with transaction(self._con):
                    for actor, detail in rows:
                        audit.append(self._con, actor, "api.call", detail["path"], detail)
            except Exception:  # the writer must outlive one failed batch (say, a write conflict); the rows are logged
                _LOG.exception("api.call rows not written to the audit chain: %s", rows)

    def close(self) -> None:
        """Write what is queued and stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)
