"""Finding a running service: ``COMPLY_SERVICE_URL`` (with ``COMPLY_TOKEN``), else the files a local ``comply serve``
writes into the data folder (its address and process id, and its token for command-line clients).

A running service holds an exclusive lock on ``service.lock`` in the data folder for its whole life; the kernel drops it
when the process ends however it ends, so files left by a killed service are recognised as stale (a process id alone
could have been reused)."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from comply.config import Settings


@dataclass(frozen=True)
class Endpoint:
    """Where a service listens and the token to present."""

    url: str
    token: str
    pid: int | None = None


def _lock_file(settings: Settings) -> str:
    return str(settings.data_dir / "service.lock")


def hold_service_lock(settings: Settings) -> int | None:
    """Take the data folder's service lock for this process (kept until the returned descriptor is closed or the
    process ends); None when another process holds it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_file(settings), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _served(settings: Settings) -> bool:
    """Whether a process holds the data folder's service lock."""
    try:
        fd = os.open(_lock_file(settings), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def find_service(settings: Settings) -> Endpoint | None:
    """The service to call, or None when none is configured or running for this data folder (files left by a killed
    service, which no longer holds the service lock, are ignored)."""
    if settings.service_url:
        return Endpoint(settings.service_url.rstrip("/"), settings.service_token)
    try:
        info = json.loads(settings.service_file.read_text(encoding="utf-8"))
        token = settings.service_token_file.read_text(encoding="utf-8").strip()
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Endpoint(url, token, pid) if _served(settings) else None


def write_service_files(settings: Settings, url: str, token: str) -> None:
    """Announce this process as the data folder's service: the token file first (owner-only), then the address."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    staged = settings.service_token_file.with_name(f".service.token.{os.getpid()}")
    staged.unlink(missing_ok=True)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)  # owner-only from its first byte
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token)
    staged.replace(settings.service_token_file)
    info = {"url": url, "pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    tmp = settings.service_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    tmp.replace(settings.service_file)


def remove_service_files(settings: Settings) -> None:
    """Withdraw the announcement, if it is still this process's."""
    try:
        mine = json.loads(settings.service_file.read_text(encoding="utf-8")).get("pid") == os.getpid()
    except (OSError, ValueError):
        mine = False
    if mine:
        settings.service_file.unlink(missing_ok=True)
        settings.service_token_file.unlink(missing_ok=True)
