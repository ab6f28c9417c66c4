"""The app in a real browser: Debian chromium driven by Playwright against ``streamlit run app.py`` on loopback.

The LLM is the TGI-protocol test double (tests/support/tgi_double.py) at its HTTP boundary; everything else
is real: the DuckDB file, the index, the embedding model, the users. Screenshots go to
``test-artifacts/`` (or ``$COMPLY_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import time

import pytest
from support import INTERNAL_POLICY, REGULATIONS, SECRET_POLICY, clause_text, first_sentence, make_settings
from support.browser import new_page, streamlit_app
from support.browser import screenshot as shot
from support.browser import sign_in as signed_in
from support.tgi_double import Reply, TgiDouble

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "Browser-pass-1"
UPLOADED = """# 衡岳证券直播营销管理细则

第一条 为规范直播营销活动，制定本细则。

第二条 营销人员开展直播营销前，应当向合规部报备直播脚本，报备编号以“朱雀”开头。

第三条 直播中不得展示客户持仓截图。
"""


COPY = {"title": "均衡配置 长期陪伴", "lead": "股债均衡配置，行业分散。", "points": ["关注长期配置价值", "控制组合波动"], "sections": []}


def _model(body: dict) -> str:
    """A well-behaved model: Q&A quotes clause [1] verbatim; a review adds nothing; copy and rewrites are compliant."""
    if "response_format" in body:
        content = body["messages"][-1]["content"]
        return json.dumps(COPY, ensure_ascii=False) if "【资料】" in content and "【文案】" not in content else '{"findings": []}'
    if "【参考条款】" in body["messages"][-1]["content"]:
        return f"依据条款，“{first_sentence(clause_text(body, 1))}”[1]。"
    return "【稳盈一号】产品介绍。基金有风险，投资需谨慎，过往业绩不代表未来表现。"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("browser-kb")
    settings = make_settings(data / "data")
    con = connect(settings.db_path)
    files = data / "files"
    files.mkdir()
    (files / "员工执业行为守则.md").write_text(INTERNAL_POLICY, encoding="utf-8")
    (files / "内部合规手册.md").write_text(SECRET_POLICY, encoding="utf-8")
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"], level=0).errors == []
    assert ingest(settings, con, [files / "员工执业行为守则.md"], level=1).errors == []
    assert ingest(settings, con, [files / "内部合规手册.md"], level=2).errors == []
    create_user(con, "admin", PASSWORD, "admin", 2, "管理员")
    create_user(con, "alice", PASSWORD, "compliance", 0, "合规专员")
    create_user(con, "mia", PASSWORD, "marketer", 0, "营销经理")
    con.close()
    with TgiDouble(model_id="test/browser", default=Reply(content_fn=_model)) as tgi:
        env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir),
               "COMPLY_LLM_URL": tgi.url, "COMPLY_LLM_TIMEOUT": "10"}
        with streamlit_app(data / "streamlit.log", env) as url:
            yield url


@pytest.fixture()
def page(browser):
    with new_page(browser) as pg:
        yield pg


def sign_in(page, url: str, username: str) -> None:
    signed_in(page, url, username, PASSWORD)


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_sign_in_ask_and_open_a_citation(page, app_url):
    page.goto(app_url)
    page.get_by_label("用户名").fill("alice")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("用户名或密码错误").wait_for()
    sign_in(page, app_url, "alice")
    open_page(page, "合规问答")
    ask(page, "证券公司能否向客户承诺保本保收益？")
    page.get_by_text("[1] 《中华人民共和国证券法》第一百三十五条").click()
    clause = page.get_by_test_id("stExpanderDetails").filter(has_text="第八章 证券公司").first
    clause.wait_for()
    assert "密级：公开" in clause.inner_text() and "证券公司不得对客户证券买卖的收益" in clause.inner_text()
    shot(page, "chat")


def test_marketer_reviews_a_draft_and_cannot_see_admin_pages(page, app_url):
    sign_in(page, app_url, "mia")
    nav = page.get_by_test_id("stSidebarNav")
    assert nav.get_by_text("文案审核", exact=True).is_visible()
    for admin_page in ("知识库", "审计日志", "用户管理"):
        assert nav.get_by_text(admin_page, exact=True).count() == 0
    open_page(page, "文案审核")
    page.get_by_label("粘贴文案").fill("【稳盈一号】保本保收益，稳赚不赔！名额有限，欲购从速！")
    page.get_by_role("button", name="开始审核").click()
    page.locator("mark").first.wait_for()
    assert "保本保收益" in page.locator("mark").all_inner_texts()[0] or page.locator("mark", has_text="保本").count()
    page.get_by_text("承诺收益").first.wait_for()
    page.get_by_text("大模型审核中…").wait_for(state="detached")
    page.get_by_text("改写稿").first.wait_for()
    shot(page, "review")


def test_marketer_generates_reviewed_copy_and_client_notes(page, app_url):
    sign_in(page, app_url, "mia")
    open_page(page, "营销物料")
    page.get_by_label("产品名称").fill("远舟均衡配置混合型证券投资基金A")
    page.get_by_label("管理人").fill("远舟基金管理有限公司")
    page.get_by_label("产品特点（每行一条，只写事实）").fill("股债均衡配置，行业分散")
    page.get_by_role("button", name="生成并审核").click()
    page.get_by_text("合规审核通过：未发现问题").nth(1).wait_for(timeout=180_000)
    assert page.get_by_text("远舟均衡配置混合型证券投资基金A·海报").count() and page.get_by_text("远舟均衡配置混合型证券投资基金A·公众号文章").count()
    assert "本产品风险等级为R3（中风险）" in page.get_by_test_id("stCode").first.inner_text()
    shot(page, "generate")
    page.get_by_role("tab", name="客户个性化材料").click()
    page.get_by_text("导入客户数据（CSV / Excel）").click()
    load = page.get_by_role("button", name="载入演示数据（合成数据）")
    load.wait_for()  # the expander has opened before the click
    load.click()
    page.get_by_text("已载入合成演示数据").wait_for(timeout=180_000)  # on a loaded 2-core CI machine this took over 60 s once
    page.get_by_role("button", name="批量生成全部已授权客户").click()
    page.get_by_text("已完成 ·").wait_for(timeout=300_000)
    page.get_by_text("DEMO001 的材料").wait_for()
    assert page.get_by_text("DEMO012 的材料").count() == 0, "a client without consent gets no note"
    shot(page, "generate-batch")


def test_admin_upload_becomes_searchable_and_audit_verifies(page, app_url, tmp_path):
    upload = tmp_path / "直播营销管理细则.md"
    upload.write_text(UPLOADED, encoding="utf-8")
    sign_in(page, app_url, "admin")
    open_page(page, "知识库")
    page.locator("input[type=file]").first.set_input_files(str(upload))
    page.get_by_role("button", name="导入知识库").click()
    page.get_by_text("导入完成：1 个成功").wait_for()
    open_page(page, "合规问答")
    ask(page, "直播营销前应当向合规部报备什么？")
    page.get_by_text("直播营销管理细则").first.wait_for()
    open_page(page, "审计日志")
    page.get_by_role("button", name="校验哈希链").click()
    page.get_by_text("审计链完整").first.wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()
    page.wait_for_timeout(1500)  # the grid paints its canvas after it is attached
    shot(page, "audit")


def test_low_clearance_never_sees_a_restricted_clause(page, app_url):
    sign_in(page, app_url, "alice")
    open_page(page, "合规问答")
    ask(page, "营销人员向高净值客户推介私募产品前需要经过什么复核？")
    page.get_by_test_id("stChatMessage").nth(1).wait_for()
    page.wait_for_load_state("networkidle")
    time.sleep(2)
    content = page.content()
    assert "青鸾计划" not in content and "白鹭条款" not in content
    shot(page, "low-clearance")
