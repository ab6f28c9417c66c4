"""Running the service: uvicorn on the configured address, the service files written once it listens and removed
when it stops; optionally the Streamlit app in the same process (``make run``), stopped together on Ctrl-C."""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from pathlib import Path

import uvicorn

from comply.config import PROJECT_ROOT, Settings
from comply.db import connect
from service.app import create_app
from service.locate import find_service, hold_service_lock, remove_service_files, write_service_files
from service.resources import share_with_app

LOCAL_TOKEN_PREFIX = "cml_"
STARTUP_S = 600.0  # opening the database and loading the index


class AlreadyRunning(RuntimeError):
    """A service already owns this data folder."""


def _announce_when_listening(server: uvicorn.Server, settings: Settings, token: str, on_ready: object) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if not server.started:
        return
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    write_service_files(settings, url, token)
    if callable(on_ready):
        on_ready(url)


def build_server(settings: Settings, host: str, port: int, *, llm: bool = True) -> tuple[uvicorn.Server, str]:
    """A configured (not yet started) server and the local token it accepts.

    Raises:
        AlreadyRunning: another service announces itself for this data folder.
        DatabaseBusyError: another process holds the database.
    """
    running = find_service(settings.model_copy(update={"service_url": ""}))
    if running is not None:
        raise AlreadyRunning(f"已有服务在运行：{running.url}（PID {running.pid}）")
    connect(settings.db_path).close()  # fail now, with the usual message, if another process holds the file
    token = LOCAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    config = uvicorn.Config(create_app(settings, token, llm=llm), host=host, port=port, log_level="warning",
                            timeout_keep_alive=5, timeout_graceful_shutdown=30, server_header=False)
    return uvicorn.Server(config), token


def serve(settings: Settings, host: str, port: int, *, llm: bool = True, with_app: bool = False, app_port: int = 8501,
          on_ready: object = None) -> None:
    """Serve until interrupted; with ``with_app`` the Streamlit app runs in this process too (sharing its database).

    Raises:
        AlreadyRunning: another service holds this data folder.
    """
    server, token = build_server(settings, host, port, llm=llm)
    lock = hold_service_lock(settings)
    if lock is None:
        raise AlreadyRunning(f"已有服务在运行（数据目录 {settings.data_dir} 的服务锁被占用）")
    threading.Thread(target=_announce_when_listening, args=(server, settings, token, on_ready), daemon=True).start()
    try:
        if not with_app:
            server.run()
            return
        api = threading.Thread(target=server.run, name="api", daemon=True)
        api.start()
        deadline = time.monotonic() + STARTUP_S
        while not server.started and api.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not server.started:
            server.should_exit = True
            raise RuntimeError("服务未能启动，应用未启动（见上方错误信息）")
        share_with_app(server.config.app.state.service.resources)
        _run_streamlit(app_port)
        server.should_exit = True
        api.join(timeout=60)
    finally:
        share_with_app(None)
        remove_service_files(settings)
        os.close(lock)


def _run_streamlit(port: int) -> None:
    """The Streamlit app on 127.0.0.1:``port`` in this process's main thread, until Ctrl-C."""
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", "run", str(Path(PROJECT_ROOT) / "app.py"), "--server.address", "127.0.0.1",
                "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    try:
        streamlit_cli.main()
    except SystemExit:
        pass
