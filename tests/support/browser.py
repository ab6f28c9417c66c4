"""What the browser tests share: ``streamlit run app.py`` on a free loopback port, Debian chromium driven by
Playwright, signing in, opening a page and screenshots (to ``test-artifacts/`` or ``$COMPLY_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support import PROJECT

ARTIFACTS = Path(os.environ.get("COMPLY_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_app(log_path: Path, env: dict[str, str], start_s: float = 120) -> Iterator[str]:
    """The app on a free loopback port with ``env``; yields its URL once ``/_stcore/health`` answers, stops it after.
    Fails with the log's tail when the process exits first."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_s
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/_stcore/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log_path.read_text(errors="replace")[-2000:]
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@contextmanager
def chromium() -> Iterator[object]:
    """Debian chromium under Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    """A full-page screenshot as ``<ARTIFACTS>/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, url: str, username: str, password: str) -> None:
    """Sign in through the login form and wait for the signed-in sidebar."""
    page.goto(url)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()


@contextmanager
def new_page(browser, **context: object) -> Iterator[object]:
    """A page in a fresh context (1400×1000, zh-CN, 60 s default timeout), closed after."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN", **context)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        ctx.close()
