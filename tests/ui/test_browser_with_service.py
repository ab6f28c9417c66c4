"""``make run``'s process: ``comply serve --with-app`` owns the data folder and serves both the API and the app.

A real subprocess on loopback, a real browser (Debian chromium through Playwright), the real command line from
another process; no LLM. The app signs in and searches on the service's database while API calls and the command
line go through the service; after the process is killed with SIGKILL, an acknowledged write is there and the
audit chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from support import PROJECT, REGULATIONS, make_settings

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]
PASSWORD = "Service-pass-2031"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, proc: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)
    raise AssertionError("the service did not start: " + log.read_text(errors="replace")[-3000:])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _comply(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=180)


def test_service_with_the_app_in_its_process_then_killed(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"], level=0).errors == []
    create_user(con, "alice", PASSWORD, "compliance", 0, "合规专员")
    con.close()
    drafts = tmp_path / "drafts.jsonl"
    drafts.write_text("\n".join([json.dumps({"id": "a", "text": "本基金保本保收益，稳赚不赔！"}, ensure_ascii=False),
                                  json.dumps({"id": "b", "text": "本基金投资于债券市场，基金有风险，投资需谨慎。"}, ensure_ascii=False),
                                  "{not json"]) + "\n", encoding="utf-8")
    app_port = _free_port()
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir), "COMPLY_LLM": "off"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", "0", "--with-app", "--app-port", str(app_port)],
                                cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: settings.service_file.exists(), proc, log)
        api = json.loads(settings.service_file.read_text(encoding="utf-8"))["url"]
        token = settings.service_token_file.read_text(encoding="utf-8")
        assert oct(settings.service_token_file.stat().st_mode & 0o777) == "0o600"
        app = f"http://127.0.0.1:{app_port}"
        _wait(lambda: _healthy(app + "/_stcore/health"), proc, log)
        assert httpx.get(api + "/readyz", timeout=10).json()["ready"] is True

        # the app, in the service's process, works on the service's database
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(locale="zh-CN")
            page.set_default_timeout(60_000)
            page.goto(app)
            page.get_by_label("用户名").fill("alice")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("button", name="退出登录").wait_for()
            # 批量审核: a JSONL upload becomes a job the service's workers review; progress, then the results
            page.get_by_test_id("stSidebarNav").get_by_text("批量审核", exact=True).click()
            page.locator("input[type=file]").set_input_files(str(drafts))
            page.get_by_role("button", name="提交批量审核").click()
            page.get_by_text("已完成：已完成 2 篇，出错 1 篇，共 3 篇").first.wait_for(timeout=180_000)
            page.get_by_test_id("stDataFrame").wait_for()
            with page.expect_download() as download:
                page.get_by_role("button", name="导出 Excel").click()
            download.value.save_as(tmp_path / "job.xlsx")
            sheet = load_workbook(tmp_path / "job.xlsx", read_only=True).active
            rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
            assert rows["a"][1] == "已完成" and rows["a"][2] >= 1 and "保本" in rows["a"][3]
            assert rows["b"][1] == "已完成" and len(rows) == 3
            browser.close()

        # another process goes through the service instead of failing on the database lock
        status = _comply(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["index_version"] == 1

        # an acknowledged write (a token for alice), then SIGKILL
        created = httpx.post(api + "/v1/tokens", json={"user": "alice", "name": "kill-test", "days": 1},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert created.status_code == 201, created.text
        made = created.json()["token"]
        assert httpx.post(api + "/v1/search", json={"query": "承诺收益"}, headers={"Authorization": f"Bearer {made}"},
                          timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    # the announcement is left behind by the kill, and ignored: the command line works on the files again
    assert settings.service_file.exists()
    verify = _comply(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    listed = _comply(env, "tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [t["name"] for t in json.loads(listed.stdout)] == ["kill-test"]
