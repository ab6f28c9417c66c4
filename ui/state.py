"""Shared state: process-wide resources (settings, one DuckDB connection, the LLM backend) and per-session objects.

Resources are created once per process with ``st.cache_resource``; each browser session works on its
own cursors of the shared connection (a DuckDB connection serves one call at a time) and its own
reviewers, kept in ``st.session_state``. The signed-in user is re-read from the database on every
run, so a disabled account or a changed role or clearance takes effect at once.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

import duckdb
import streamlit as st

from assistant.accounts import User, get_user
from assistant.generate.loop import Loop
from comply.config import Settings, load_settings
from comply.db import DatabaseBusyError, connect
from comply.llm.backend import Backend, open_backend
from review.pipeline import Reviewer
from service.resources import shared
from ui.safe_text import plain

USER_KEY = "user"
_PER_THREAD_KEY = "_per_thread"
_SOURCE_KEY = "_signin_source"
_KEPT_KEYS = (_PER_THREAD_KEY, _SOURCE_KEY)  # what signing out keeps
_CURSOR_LOCK = threading.Lock()


@dataclass
class _ThreadState:
    """What one script thread of a session works with."""

    cursor: duckdb.DuckDBPyConnection
    reviewers: dict[bool, Reviewer] = field(default_factory=dict)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings, read once per process (environment and ``comply.toml``)."""
    return load_settings()


@st.cache_resource(show_spinner=False, on_release=lambda con: con.close())
def _own_connection(db_path: str) -> duckdb.DuckDBPyConnection:
    return connect(db_path)


def connection(db_path: str) -> duckdb.DuckDBPyConnection:
    """The process's one connection to the database file (migrated on open): the service's, when the app runs in the
    service's process (``comply serve --with-app``), else the app's own."""
    service = shared()
    return service.con if service is not None else _own_connection(db_path)


@st.cache_resource(show_spinner="正在启动大模型…", on_release=lambda backend: backend.close())
def _own_backend() -> Backend:
    return open_backend(settings(), progress=False)


def backend() -> Backend:
    """The LLM backend, started once per process (the service's, when the app runs beside it); its ``client`` is None
    (with ``reason``) when there is no model."""
    service = shared()
    if service is not None:
        with st.spinner("正在启动大模型…"):
            return service.backend()
    return _own_backend()


def _thread_state() -> _ThreadState:
    """This session's state for the running script thread, on the current connection.

    A session runs one script at a time, except that a run left by navigation keeps going until its
    next Streamlit call (say, inside an ingest) while the next run starts on a new thread
    (``runner.fastReruns``). A DuckDB connection refuses concurrent calls, so each script thread of a
    session gets its own cursor; entries of finished threads are dropped.
    """
    try:
        con = connection(str(settings().db_path))
    except DatabaseBusyError as exc:  # another process (a CLI write, a second app) holds the file
        st.error(plain(exc))
        st.stop()
    held = st.session_state.get(_PER_THREAD_KEY)
    if held is None or held[0] is not con:
        held = (con, {})
        st.session_state[_PER_THREAD_KEY] = held
    threads: dict[int, _ThreadState] = held[1]
    alive = {t.ident for t in threading.enumerate()}
    for ident in [i for i in threads if i not in alive]:
        threads.pop(ident, None)
    ident = threading.get_ident()
    if ident not in threads:
        with _CURSOR_LOCK:  # the shared connection, too, serves one call at a time
            threads[ident] = _ThreadState(con.cursor())
    return threads[ident]


def cursor() -> duckdb.DuckDBPyConnection:
    """This session's cursor on the shared connection (one per script thread, see :func:`_thread_state`)."""
    return _thread_state().cursor


def reviewer(with_llm: bool) -> Reviewer:
    """A reviewer on this session's cursor: rules only, or with the LLM backend's client."""
    held = _thread_state()
    if with_llm not in held.reviewers:
        llm = backend()
        # Rules only: shown at once, and final when there is no model (the notice then says why).
        reason = llm.reason or "大模型意见随后给出"
        held.reviewers[with_llm] = (Reviewer(settings(), held.cursor, llm.client, llm.reason) if with_llm
                                    else Reviewer(settings(), held.cursor, None, reason))
    return held.reviewers[with_llm]


def loop() -> Loop:
    """The generate → review → fix loop on this session's cursor, with the LLM backend when there is one."""
    llm = backend()
    return Loop(reviewer(with_llm=True), llm.client, llm.reason)


def current_user() -> User | None:
    """The signed-in user as the database has it now; a deleted or disabled account is signed out."""
    user: User | None = st.session_state.get(USER_KEY)
    if user is None:
        return None
    fresh = get_user(cursor(), user.username)
    if fresh is None or fresh.disabled:
        sign_out()
        return None
    st.session_state[USER_KEY] = fresh
    return fresh


def oidc_enabled() -> bool:
    """Whether single sign-on is switched on (``COMPLY_OIDC=on``) and configured (``[auth]`` in secrets.toml)."""
    if settings().oidc != "on":
        return False
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def signin_source() -> str:
    """Where this sign-in comes from, for the sign-in limits: the client's address when Streamlit knows it (so a
    page reload stays the same source), else a random identifier of this browser session (never shown).

    A source that has signed in to an account is a known-good source for it: failures elsewhere do not hold it back.
    """
    if st.context.ip_address:
        return f"ip:{st.context.ip_address}"
    if _SOURCE_KEY not in st.session_state:
        st.session_state[_SOURCE_KEY] = secrets.token_urlsafe(24)
    return f"session:{st.session_state[_SOURCE_KEY]}"


def sign_in(user: User) -> None:
    """Remember the authenticated user for this session."""
    st.session_state[USER_KEY] = user


def sign_out() -> None:
    """Forget the user and everything this session kept for them (conversation, results); keep the cursors and the sign-in source.

    A single-sign-on session is ended too (its cookie would sign the user straight back in).
    """
    for key in list(st.session_state.keys()):
        if key not in _KEPT_KEYS:
            del st.session_state[key]
    if oidc_enabled() and st.user.is_logged_in:
        st.logout()


_FLASH_KEY = "_flash"


def flash(message: str) -> None:
    """Keep a success message to show after the next rerun (see :func:`show_flash`)."""
    st.session_state[_FLASH_KEY] = message


def show_flash() -> None:
    """Show, once, the message kept by :func:`flash` (as plain text: it may name a file, a user or a document)."""
    message = st.session_state.pop(_FLASH_KEY, None)
    if message:
        st.success(plain(message))
