"""What the service process owns: the database connection, per-thread cursors, the LLM backend and reviewer pools."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb

from comply.config import Settings
from comply.db import connect
from comply.llm.backend import Backend, open_backend
from comply.llm.protocol import ChatModel
from retrieval.search import Searcher
from review.pipeline import Reviewer

_SHARED: list[Resources] = []  # the resources of the service running in this process for the app beside it (make run)
if TYPE_CHECKING:
    from service.jobs import JobRunner

NO_LLM = "调用方选择不使用大模型"
STARTING = "大模型启动中，本次未使用大模型"
REVIEW_WAIT_S = 120.0  # a review call waits this long for a free reviewer before it is refused (503)
INTERACTIVE_SLOTS = 2  # reviewers beyond the batch workers' share, so a running job never starves interactive reviews


class Busy(RuntimeError):
    """Every reviewer is in use for longer than a call may wait."""


class Resources:
    """The database (one connection; each thread works on its own cursor), the LLM backend (started in the background
    at start-up; calls that need it wait for it) and a pool of reviewers per kind (rules only, with the LLM)."""

    def __init__(self, settings: Settings, *, llm: bool = True) -> None:
        self.settings = settings
        self.con = connect(settings.db_path)
        self.started = time.time()
        self._local = threading.local()
        self._backend: Backend | None = None
        self._backend_ready = threading.Event()
        self._pools: dict[str, queue.Queue[Reviewer]] = {}
        self._pool_lock = threading.Lock()
        self._made: dict[str, int] = {}
        self._slots = max(1, settings.service_workers) + INTERACTIVE_SLOTS
        self.jobs: JobRunner | None = None  # the batch-job runner, once the service has started it
        if llm:
            threading.Thread(target=self._open_backend, name="llm-backend", daemon=True).start()
        else:
            self._backend = open_backend(settings.model_copy(update={"llm_mode": "off"}), progress=False)
            self._backend_ready.set()

    def _open_backend(self) -> None:
        try:
            self._backend = open_backend(self.settings, progress=False)
        finally:
            self._backend_ready.set()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the service's connection (a DuckDB connection serves one call at a time)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self.con.cursor()
        return cur

    def searcher(self) -> Searcher:
        """A searcher on this thread's cursor (the index itself is loaded once per process)."""
        return Searcher(self.settings, self.cursor())

    def backend_state(self) -> dict:
        """The LLM backend as ``/readyz`` reports it: starting, or its label and why there is no model."""
        if not self._backend_ready.is_set():
            return {"state": "starting", "label": "大模型启动中", "reason": ""}
        backend = self._backend
        assert backend is not None
        return {"state": "ready" if backend.client is not None else "none", "label": backend.label, "reason": backend.reason}

    def backend(self) -> Backend:
        """The LLM backend, once it has started (waits for it)."""
        self._backend_ready.wait()
        assert self._backend is not None
        return self._backend

    def model(self) -> tuple[ChatModel | None, str]:
        """The LLM client and why there is none, without waiting: while the model starts, a call goes on without it."""
        if not self._backend_ready.is_set():
            return None, STARTING
        backend = self.backend()
        return backend.client, backend.reason

    @contextmanager
    def reviewer(self, with_llm: bool, *, wait: bool = False) -> Iterator[Reviewer]:
        """Borrow a reviewer: rules and learned stage only, or with the LLM (while the model starts, a rules-only one
        that says so, unless ``wait``: batch jobs wait for the model). At most ``service_workers`` +
        :data:`INTERACTIVE_SLOTS` of each kind exist, so heavy reviews queue instead of exhausting memory.

        Raises:
            Busy: none became free within :data:`REVIEW_WAIT_S`.
        """
        kind = "rules" if not with_llm else "llm" if wait or self._backend_ready.is_set() else "starting"
        with self._pool_lock:
            pool = self._pools.setdefault(kind, queue.Queue())
            make = pool.empty() and self._made.get(kind, 0) < self._slots
            if make:
                self._made[kind] = self._made.get(kind, 0) + 1
        if make:
            try:
                client, reason = (self.backend().client, self.backend().reason) if kind == "llm" else (
                    None, NO_LLM if kind == "rules" else STARTING)
                reviewer = Reviewer(self.settings, self.con.cursor(), client, reason)
            except BaseException:  # a reviewer that could not be made (say, a broken rules file) frees its slot
                with self._pool_lock:
                    self._made[kind] -= 1
                raise
        else:
            try:
                reviewer = pool.get(timeout=REVIEW_WAIT_S)
            except queue.Empty:
                raise Busy("审核任务繁忙，请稍后重试") from None
        try:
            yield reviewer
        finally:
            pool.put(reviewer)

    def close(self) -> None:
        """Stop the LLM backend and close the database."""
        if self._backend_ready.wait(timeout=1) and self._backend is not None:
            self._backend.close()
        self.con.close()


def share_with_app(resources: Resources | None) -> None:
    """Offer (None: withdraw) the service's resources to the Streamlit app running in the same process."""
    _SHARED.clear()
    if resources is not None:
        _SHARED.append(resources)


def shared() -> Resources | None:
    """The resources of the service running in this process, if the app runs beside it."""
    return _SHARED[0] if _SHARED else None
