"""The ``jobs`` measure: batch-review throughput through the service with an LLM server, at several worker counts.

For each concurrency N a real ``comply serve`` process is started on the data folder with the LLM at
``COMPLY_LLM_URL`` (any TGI or OpenAI-compatible server) and ``COMPLY_SERVICE_WORKERS=N``; once ``/readyz`` says the
model is ready, a warm-up job of N drafts lets every worker build its reviewer, then one job of D drafts (model stage
on) is submitted through ``POST /v1/jobs/review`` and followed through ``GET /v1/jobs/{id}`` until it is done. The
service is stopped with SIGINT before the next N. A TGI server batches the requests that arrive together (continuous
batching), so where the model's latency dominates, drafts/s grows with N. Nothing here asserts a timing. The jobs stay
in the data folder's job list (submitted with the service's local token).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx2 as httpx

from comply.config import Settings
from eval.bench.api_load import CALL_TIMEOUT_S, START_TIMEOUT_S, ServiceFailed, start_service, stop_service, wait_listening
from eval.review import Draft, load_dataset
from review.stages import COVERED, MODEL, RAN

CONCURRENCY = (1, 4, 16)
DEFAULT_DRAFTS = 32
JOB_TIMEOUT_S = 1800.0
POLL_S = 0.1
RESULTS_PAGE = 500
EXTRA_DRAFTS = Path(__file__).resolve().parents[1] / "datasets" / "review_drafts_extra.jsonl"
_TGI_REQUESTS = re.compile(r"^tgi_request_count(?:\{[^}]*\})?\s+([0-9.eE+]+)\s*$", re.MULTILINE)


def job_drafts(settings: Settings, n: int) -> list[Draft]:
    """The first ``n`` drafts of ``eval/datasets/review_drafts_extra.jsonl``, then of the shared dev set (none of the
    first 64 extra drafts is covered sentence by sentence by the rules, so the model stage runs on them)."""
    drafts: list[Draft] = []
    for path in (EXTRA_DRAFTS, settings.taxonomy_file.parent / "dev" / "review_drafts.jsonl"):
        if len(drafts) < n and path.is_file():
            drafts += load_dataset(path)
    return drafts[:n]


def llm_requests(llm_url: str) -> float | None:
    """The requests a TGI server has counted (``tgi_request_count`` on its ``/metrics``), None when it does not say."""
    try:
        response = httpx.get(f"{llm_url.rstrip('/')}/metrics", timeout=5.0)
    except httpx.HTTPError:
        return None
    found = _TGI_REQUESTS.findall(response.text) if response.status_code == 200 else []
    return sum(float(v) for v in found) if found else None


def _wait_model(client: httpx.Client, proc: subprocess.Popen, log: Path) -> float:
    """Poll ``/readyz`` until the index is live and the model ready; seconds waited.

    Raises:
        ServiceFailed: the service exited, has no model (with its reason), or was not ready in time.
    """
    began = time.perf_counter()
    while time.perf_counter() - began < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise ServiceFailed(f"服务意外退出：{log.read_text(errors='replace').strip()[-2000:]}")
        ready = client.get("/readyz").json()
        llm = ready.get("llm") or {}
        if llm.get("state") == "none":
            raise ServiceFailed(f"服务没有可用的大模型：{llm.get('label')} {llm.get('reason')}".strip())
        if ready.get("ready") and llm.get("state") == "ready":
            return time.perf_counter() - began
        time.sleep(0.2)
    raise ServiceFailed(f"大模型在 {START_TIMEOUT_S:.0f} 秒内未就绪")


def _run_job(client: httpx.Client, drafts: Sequence[Draft]) -> tuple[dict, float]:
    """Submit ``drafts`` as one review job (model stage on) and poll until it is done; the job's record and wall seconds.

    Raises:
        ServiceFailed: the submission was refused, or the job did not finish within :data:`JOB_TIMEOUT_S`.
    """
    body = {"drafts": [{"id": d.id, "text": d.text} for d in drafts], "genre": "auto", "no_llm": False}
    began = time.perf_counter()
    response = client.post("/v1/jobs/review", json=body)
    if response.status_code != 202:
        raise ServiceFailed(f"提交任务失败（HTTP {response.status_code}）：{response.text[:500]}")
    job_id = response.json()["job_id"]
    while time.perf_counter() - began < JOB_TIMEOUT_S:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("state") == "done":
            return job, time.perf_counter() - began
        time.sleep(POLL_S)
    raise ServiceFailed(f"任务 {job_id} 在 {JOB_TIMEOUT_S:.0f} 秒内未完成")


def _model_codes(client: httpx.Client, job_id: str) -> Counter:
    """How the model stage ended across the job's reviewed items (``ran``, ``covered``, ``timeout``, …)."""
    codes: Counter = Counter()
    offset: int | None = 0
    while offset is not None:
        page = client.get(f"/v1/jobs/{job_id}/results", params={"offset": offset, "limit": RESULTS_PAGE}).json()
        for item in page["items"]:
            stages = item.get("result", {}).get("stages", [])
            codes.update(s["code"] for s in stages if s["stage"] == MODEL)
        offset = page["next_offset"]
    return codes


def bench_one(settings: Settings, drafts: Sequence[Draft], workers: int) -> dict:
    """One service run with ``workers`` job workers: start, wait for the model, warm up, time one job, stop."""
    log = Path(tempfile.mkdtemp(prefix="comply-bench-jobs-")) / "serve.log"
    began = time.perf_counter()
    proc = start_service(settings, log, llm=True,
                         extra_env={"COMPLY_SERVICE_WORKERS": str(workers), "COMPLY_LLM_URL": settings.llm_url})
    try:
        url, token = wait_listening(settings, proc, log)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=CALL_TIMEOUT_S) as client:
            model_wait_s = _wait_model(client, proc, log)
            startup_s = time.perf_counter() - began
            warmup_s = _run_job(client, drafts[:workers])[1]
            before = llm_requests(settings.llm_url)
            job, wall_s = _run_job(client, drafts)
            after = llm_requests(settings.llm_url)
            codes = _model_codes(client, job["job_id"])
    finally:
        stop_s, exit_code = stop_service(proc)
        log.unlink(missing_ok=True)
        log.parent.rmdir()
    run = {"workers": workers, "drafts": job["total"], "wall_s": round(wall_s, 2),
           "drafts_per_s": round(job["total"] / wall_s, 3), "done": job["done"], "failed": job["failed"],
           "model_ran": codes.get(RAN, 0), "model_covered": codes.get(COVERED, 0),
           "model_other": {c: k for c, k in codes.items() if c not in (RAN, COVERED)},
           "startup_s": round(startup_s, 2), "model_wait_s": round(model_wait_s, 2), "warmup_s": round(warmup_s, 2),
           "stop_s": round(stop_s, 2), "exit_code": exit_code}
    if before is not None and after is not None:
        run["llm_requests"] = int(after - before)
    return run


def bench_jobs(settings: Settings, drafts: int = DEFAULT_DRAFTS, concurrency: Sequence[int] = CONCURRENCY) -> dict:
    """Batch-review throughput through ``comply serve`` at each worker count in ``concurrency``, one job of ``drafts``
    drafts each, against the LLM at ``settings.llm_url``; ``skipped`` with the reason when no LLM URL is configured or
    the LLM is off. The data folder must not be held by another process.

    Raises:
        ServiceFailed: a service did not start, had no model, refused the job, or did not finish it in time.
    """
    if not settings.llm_url or settings.llm_mode == "off":
        return {"skipped": True, "reason": "未配置 COMPLY_LLM_URL（或 COMPLY_LLM=off）"}
    chosen = job_drafts(settings, drafts)
    if not chosen:
        raise ServiceFailed("没有可用的审核文案")
    runs = [bench_one(settings, chosen, n) for n in concurrency]
    lengths = [len(d.text) for d in chosen]
    return {"llm_url": settings.llm_url, "drafts": len(chosen), "asked": drafts, "data_dir": str(settings.data_dir),
            "chars": {"min": min(lengths), "max": max(lengths), "mean": round(sum(lengths) / len(lengths), 1)},
            "token": "the service's local token (administrator, highest clearance); rate limit lifted", "runs": runs}
