"""The embedded LLM: a llama.cpp server (``llama-cpp-python[server]``) owned by this process, on loopback."""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from huggingface_hub import get_session


class ServerError(RuntimeError):
    """The local server could not be started."""


def llama_cpp_available() -> bool:
    """Whether ``llama-cpp-python`` with its server extra is installed."""
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("uvicorn") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """Starts, health-checks and stops one ``python -m llama_cpp.server`` process."""

    def __init__(self, model_path: Path, alias: str, log_path: Path, n_ctx: int = 4096, threads: int = 0) -> None:
        self.model_path = model_path
        self.alias = alias
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 180.0) -> str:
        """Start the server and wait until ``/v1/models`` answers; returns the base URL.

        Raises:
            ServerError: the process exited or did not answer in time (the log's tail is quoted).
        """
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"本地大模型服务启动失败（退出码 {self._proc.returncode}）：{self._log_tail()}")
            if self.healthy():
                return self.url
            time.sleep(0.25)
        self.stop()
        raise ServerError(f"本地大模型服务 {timeout_s:g} 秒内未就绪：{self._log_tail()}")

    def healthy(self) -> bool:
        """Whether the server process is alive and answers ``/v1/models``."""
        if self._proc is None or self._proc.poll() is not None:
            return False
        try:
            return get_session().get(self.url + "/v1/models", timeout=2.0).status_code == 200
        except Exception:  # noqa: BLE001 - any failure to answer means not healthy
            return False

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _log_tail(self, chars: int = 600) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:].strip()
        except OSError:
            return ""

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
