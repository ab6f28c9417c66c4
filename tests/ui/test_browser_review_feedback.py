"""A reviewer's decisions in a real browser: accept and dismiss findings on 文案审核, add a missed passage, see the counts
on 审核反馈, and find the decisions in the review library once the app has let go of the database file.

Debian chromium driven by Playwright against ``streamlit run app.py`` on loopback (as tests/ui/test_browser.py); the LLM
is the TGI-protocol test double, everything else is real. The screenshot goes to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import PROJECT as ROOT
from support import REGULATIONS, make_settings
from support.tgi_double import Reply, TgiDouble
from support.browser import CHROMIUM, FLAGS
from support.browser import free_port as _free_port
from test_browser import PASSWORD, _model, open_page, shot, sign_in

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest
from review.library import decision_stats, drafts

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRAFT = "本基金保本保收益，稳赚不赔！跟着我们，财富自由不是梦。"
MISSED = "财富自由不是梦"


@dataclass
class App:
    """The app on loopback, its database file, and how to stop it (the app holds the file while it runs)."""

    url: str
    db_path: Path
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data = tmp_path_factory.mktemp("browser-feedback")
    settings = make_settings(data / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "广告管理条例.md"], level=0).errors == []
    create_user(con, "carol", PASSWORD, "compliance", 0, "合规审核员")
    con.close()
    with TgiDouble(model_id="test/browser", default=Reply(content_fn=_model)) as tgi, \
            (data / "streamlit.log").open("wb") as log:
        env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir),
               "COMPLY_LLM_URL": tgi.url, "COMPLY_LLM_TIMEOUT": "10"}
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        running = App(f"http://127.0.0.1:{port}", settings.db_path, proc)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(running.url + "/_stcore/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, (data / "streamlit.log").read_text(errors="replace")[-2000:]
                time.sleep(0.5)
            yield running
        finally:
            running.stop()


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN").new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def test_a_reviewer_accepts_dismisses_and_adds_a_miss_and_the_feedback_page_counts_them(page, app):
    sign_in(page, app.url, "carol")
    open_page(page, "文案审核")
    page.get_by_label("粘贴文案").fill(DRAFT)
    page.get_by_role("button", name="开始审核").click()
    page.get_by_text("大模型审核中…").wait_for(state="detached")
    page.get_by_text("您的判定会存入审核样本库").wait_for()
    page.get_by_text("审核模型：未启用").wait_for()
    findings = page.locator(".st-key-review_finding_0, .st-key-review_finding_1")
    assert findings.count() == 2, "the draft has two findings"
    first, second = page.locator(".st-key-review_finding_0"), page.locator(".st-key-review_finding_1")
    first.get_by_label("理由（可选）").fill("确属承诺收益")
    first.get_by_role("button", name="采纳").click()
    first.get_by_text("已采纳").wait_for()
    second.get_by_role("button", name="驳回").click()
    second.get_by_text("已驳回").wait_for()
    assert first.get_by_text("已采纳").is_visible(), "the first decision survives the rerun"

    form = page.get_by_test_id("stForm")
    form.get_by_label("漏报片段（须与原文逐字一致）").fill("原文里没有这句")
    form.get_by_role("button", name="提交漏报").click()
    page.get_by_text("该片段不在所审核的原文中").wait_for()
    form.get_by_label("漏报片段（须与原文逐字一致）").fill(MISSED)
    form.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="虚假/误导性陈述").click()
    form.get_by_role("button", name="提交漏报").click()
    page.get_by_text(f"已记录漏报：“{MISSED}”（虚假/误导性陈述）").wait_for()
    shot(page, "review-decisions")

    open_page(page, "审核反馈")
    tables = page.get_by_test_id("stTable")
    tables.first.wait_for()
    rows = {cells[0]: cells[1:] for cells in (row.locator("td, th").all_inner_texts()
                                             for row in tables.first.locator("tbody tr").all())}
    assert rows["虚假/误导性陈述"] == ["—", "—", "1", "—"], rows
    assert sum(int(r[0]) for r in rows.values() if r[0] != "—") == 1, "one accepted finding"
    assert sum(int(r[1]) for r in rows.values() if r[1] != "—") == 1, "one dismissed finding"
    assert tables.nth(2).get_by_text("审核人判定").is_visible()
    shot(page, "review-feedback")

    app.stop()
    con = connect(app.db_path)
    try:
        stats = decision_stats(con)
        (draft,) = drafts(con)
    finally:
        con.close()
    assert stats["misleading_statement"]["missed"] == 1
    assert sum(c["accepted"] for c in stats.values()) == 1 and sum(c["dismissed"] for c in stats.values()) == 1
    assert sum(c.get("accepted:rule", 0) + c.get("dismissed:rule", 0) for c in stats.values()) == 2, "both were rule findings"
    assert draft.text == DRAFT and draft.level == 0 and len(draft.labels) == 3
    assert any(label.note == "确属承诺收益" and label.origin == "accept" for label in draft.labels)
