"""The embedded LLM: a llama.cpp server (``llama-cpp-python[server]``) owned by this process, on loopback.

The server keeps a bounded RAM prompt cache: after each request it saves the model state, and a later request
whose prompt shares a longer prefix with a saved state than with the live one (the same fixed system prompt after
a different request came between) restores it and evaluates only the rest of its prompt.
"""

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

# The prompt cache's bound. A state is ~28 KiB per token for Qwen2.5-1.5B (28 layers × 2 KV heads × 128 × f16 × K,V),
# so 256 MiB holds about eight 1,000-token exchanges, or two full 4,096-token contexts; least recently used goes first.
CACHE_BYTES = 256 << 20


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
    """Starts, health-checks and stops one server process (:func:`serve`: ``llama_cpp.server`` with the prompt cache)."""

    def __init__(self, model_path: Path, alias: str, log_path: Path, n_ctx: int = 4096, threads: int = 0,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.model_path = model_path
        self.alias = alias
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.cache_bytes = cache_bytes
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
            sys.executable, "-m", "comply.llm.server", "--model", str(self.model_path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
            "--cache", "true", "--cache_type", "ram", "--cache_size", str(self.cache_bytes),
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


def _compact_ram_cache() -> type:
    """llama-cpp-python's RAM prompt cache, keeping one row of logits per state and counting everything it keeps.

    The stock cache stores each state with up to ``n_batch`` rows of logits (311 MiB at n_batch 512 for Qwen's
    151,936-token vocabulary) and counts none of them against its size. A restored state always evaluates its
    last prompt token again before sampling (``Llama.load_state`` sets ``_requires_eval``), so the rows are never
    read; one row is kept because ``load_state`` broadcasts it into the logits buffer. (``save_state`` still copies
    all rows first, so saving briefly needs that much more memory, freed as soon as the row is cut.)
    """
    import llama_cpp

    class CompactRamCache(llama_cpp.LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(s.llama_state_size + s.scores.nbytes + s.input_ids.nbytes for s in self.cache_state.values())

        def __setitem__(self, key, value) -> None:  # noqa: ANN001 - the base class's signature
            value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)

    return CompactRamCache


def serve() -> None:
    """The server process (``python -m comply.llm.server``): ``llama_cpp.server`` with the same options, its RAM
    prompt cache replaced by :func:`_compact_ram_cache`'s."""
    import llama_cpp
    from llama_cpp.server.__main__ import main

    llama_cpp.LlamaRAMCache = _compact_ram_cache()
    main()


if __name__ == "__main__":
    serve()
