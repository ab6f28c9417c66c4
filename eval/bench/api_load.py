"""The HTTP service under load: a real ``comply serve --no-llm`` process on the data folder, N concurrent clients each
searching (``POST /v1/search``) in a loop for a bounded time over the dev questions; requests, errors, throughput and
latency percentiles. The service is stopped with SIGINT, as Ctrl-C would, at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from comply.config import PROJECT_ROOT, Settings
from eval.bench.timing import TOP_K, latency_stats

TARGET_P95_MS = 200.0
START_TIMEOUT_S = 300.0  # the service loads the embedder and the index before it listens
STOP_TIMEOUT_S = 90.0
CALL_TIMEOUT_S = 60.0
UNLIMITED_RATE = 1_000_000_000  # calls per minute: the bench measures the service, not its rate limit


class ServiceFailed(RuntimeError):
    """The service under test did not start or did not answer."""


@dataclass
class _Client:
    """What one client saw: latencies of answered searches (seconds) and its errors by kind."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


def _cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds a process has used (Linux), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_service(settings: Settings, log: Path, *, llm: bool = False, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``comply serve --port 0`` on the settings' data folder (``--no-llm`` unless ``llm``), the rate limit lifted,
    ``extra_env`` added to its environment; its output goes to ``log``."""
    env = {k: v for k, v in os.environ.items() if k not in ("COMPLY_SERVICE_URL", "COMPLY_TOKEN")}
    env.update({"COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir),
                "COMPLY_LLM": settings.llm_mode if llm else "off", "COMPLY_SERVICE_RATE_PER_MIN": str(UNLIMITED_RATE),
                **(extra_env or {})})
    if settings.audit_key_file:
        env["COMPLY_AUDIT_KEY_FILE"] = str(settings.audit_key_file)
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", "0", *([] if llm else ["--no-llm"])],
                                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_listening(settings: Settings, proc: subprocess.Popen, log: Path) -> tuple[str, str]:
    """The address and local token the service announces in the data folder once it listens."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceFailed(f"服务未能启动（退出码 {proc.returncode}）：{log.read_text(errors='replace').strip()[-2000:]}")
        try:
            info = json.loads(settings.service_file.read_text(encoding="utf-8"))
            if info.get("pid") == proc.pid:
                return str(info["url"]), settings.service_token_file.read_text(encoding="utf-8").strip()
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise ServiceFailed(f"服务在 {START_TIMEOUT_S:.0f} 秒内未开始监听")


def stop_service(proc: subprocess.Popen) -> tuple[float, int | None]:
    """SIGINT, then wait (kill after :data:`STOP_TIMEOUT_S`); seconds taken and the exit code."""
    start = time.perf_counter()
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return time.perf_counter() - start, proc.returncode


def _client(url: str, token: str, queries: list[str], offset: int, start: threading.Barrier, end: list[float],
            seen: _Client) -> None:
    """Search in a loop, each client from its own place in the question list, until the shared end time."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=CALL_TIMEOUT_S) as client:
        start.wait()
        i = offset
        while time.perf_counter() < end[0]:
            body = {"query": queries[i % len(queries)], "k": TOP_K}
            i += 1
            began = time.perf_counter()
            try:
                response = client.post("/v1/search", json=body)
            except httpx.HTTPError as exc:
                seen.errors[type(exc).__name__] += 1
                continue
            if response.status_code == 200:
                seen.latencies.append(time.perf_counter() - began)
            else:
                seen.errors[f"HTTP {response.status_code}"] += 1


def _load(url: str, token: str, queries: list[str], clients: int, seconds: float) -> tuple[list[_Client], float]:
    """Run ``clients`` threads for ``seconds``; what each saw and the wall time until the last one finished."""
    seen = [_Client() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    end = [float("inf")]
    step = max(1, len(queries) // clients)
    threads = [threading.Thread(target=_client, args=(url, token, queries, n * step, start, end, seen[n]),
                                name=f"bench-client-{n}", daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    end[0] = began + seconds
    start.wait()
    for t in threads:
        t.join()
    return seen, time.perf_counter() - began


def bench_api(settings: Settings, queries: list[str], clients: int = 50, seconds: float = 60.0) -> dict:
    """Start ``comply serve --no-llm`` on the settings' data folder (which no other process may hold), warm it up with
    one search, load it with ``clients`` concurrent searchers for ``seconds`` using the service's local token (an
    administrator at the highest clearance; the rate limit lifted), and stop it. Latency percentiles are over the
    answered (200) searches; every other status and every exception counts as an error.

    Raises:
        ServiceFailed: the service did not start, or did not answer the warm-up search.
    """
    if not queries:
        raise ValueError("没有可用的检索问题")
    log = Path(tempfile.mkdtemp(prefix="comply-bench-api-")) / "serve.log"
    began = time.perf_counter()
    proc = start_service(settings, log)
    try:
        url, token = wait_listening(settings, proc, log)
        startup_s = time.perf_counter() - began
        warm = time.perf_counter()
        first = httpx.post(f"{url}/v1/search", json={"query": queries[0], "k": TOP_K},
                           headers={"Authorization": f"Bearer {token}"}, timeout=START_TIMEOUT_S)
        if first.status_code != 200:
            raise ServiceFailed(f"预热检索失败（HTTP {first.status_code}）：{first.text[:500]}")
        warmup_s = time.perf_counter() - warm
        server_cpu, client_cpu = _cpu_s(proc.pid), time.process_time()
        seen, wall_s = _load(url, token, queries, clients, seconds)
        server_cpu = None if server_cpu is None or (after := _cpu_s(proc.pid)) is None else after - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        stop_s, exit_code = stop_service(proc)
        log.unlink(missing_ok=True)
        log.parent.rmdir()
    latencies = [s for c in seen for s in c.latencies]
    errors = sum((c.errors for c in seen), Counter())
    stats = latency_stats(latencies)
    failed = sum(errors.values())
    return {"clients": clients, "seconds": seconds, "queries": len(queries), "k": TOP_K, "data_dir": str(settings.data_dir),
            "token": "the service's local token (administrator, highest clearance); rate limit lifted",
            "startup_s": round(startup_s, 2), "warmup_s": round(warmup_s, 3), "wall_s": round(wall_s, 2),
            "requests": len(latencies) + failed, "ok": len(latencies), "errors": failed, "error_kinds": dict(errors),
            "throughput_rps": round(len(latencies) / wall_s, 2), "latency": stats,
            "cpu_s": {"server": None if server_cpu is None else round(server_cpu, 1), "bench_clients": round(client_cpu, 1)},
            "stop_s": round(stop_s, 2), "exit_code": exit_code,
            "target": {"p95_ms": TARGET_P95_MS, "errors": 0,
                       "met": bool(stats["n"]) and stats["p95_ms"] <= TARGET_P95_MS and failed == 0}}
