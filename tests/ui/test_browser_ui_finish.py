"""UI finish (issue 18) in a real browser, one app start with the model off: Streamlit's widgets speak Chinese for an
administrator, a marketer and an evaluator; the evaluation chart names laws by their short names; a findings table
wraps 原因 and 依据条款; a generated WeChat article is rendered; a finished client note says it is finished.
Screenshots go to ``test-artifacts/ui-finish-*.png``."""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import expect
from support import REGULATIONS, make_settings
from support.browser import new_page, screenshot, streamlit_app
from support.browser import sign_in as signed_in

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest
from ui.display import wrapped_lines

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "Finish-pages-2032"
# What Streamlit 1.67 writes in English (matched case-sensitively: material icon names such as "upload" are icons)
ENGLISH = ("Upload", "per file", "Drag and drop", "Select all", "No options to select", "Choose an option",
           "Choose options", "No results", "None")
DATASET = [{"id": "a", "query": "证券公司能否承诺保本保收益", "relevant": [{"doc": "中华人民共和国证券法", "article": "第一百三十五条"}]},
           {"id": "b", "query": "基金管理人不得承诺收益", "relevant": [{"doc": "中华人民共和国证券投资基金法", "article": "第二十条"}]}]
DRAFT = "【稳盈一号】保本保收益，稳赚不赔！名额有限，欲购从速！本产品收益率高达20%，远超同类产品。"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("finish-pages")
    settings = make_settings(data / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"], level=0).errors == []
    for name, role, clearance in (("root", "admin", 2), ("mia", "marketer", 0), ("eve", "evaluator", 0)):
        create_user(con, name, PASSWORD, role, clearance, name, actor="test")
    con.close()
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir), "COMPLY_LLM": "off"}
    env.pop("COMPLY_LLM_URL", None)
    with streamlit_app(data / "streamlit.log", env) as url:
        yield url, data


@pytest.fixture()
def page(browser):
    with new_page(browser) as pg:
        yield pg


def shot(page, name: str) -> None:
    screenshot(page, f"ui-finish-{name}")


def sign_in(page, url: str, username: str) -> None:
    signed_in(page, url, username, PASSWORD)


def open_page(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for()
    page.wait_for_timeout(1500)  # the page's widgets finish drawing


def english_left(page) -> list[str]:
    """The English widget texts a reader can see on the page (hidden text is not in ``innerText``)."""
    text = page.evaluate("document.body.innerText")
    return [word for word in ENGLISH if word in text]


def after(locator) -> str:
    """The text drawn in place of an element's own (its ``::after`` content)."""
    return locator.evaluate("e => getComputedStyle(e, '::after').content").strip('"')


def check_uploader(page) -> None:
    uploader = page.get_by_test_id("stFileUploader").first
    assert after(uploader.get_by_test_id("stFileUploaderDropzoneInstructions").locator("span")) == \
        "拖放文件到这里或点击选择文件，单个文件不超过 50 MB"
    assert after(uploader.locator('button[data-testid="stBaseButton-secondary"] p')) == "选择文件"


def test_widgets_show_chinese_for_every_role(page, app_url):
    url, data = app_url
    sign_in(page, url, "root")
    for title in ("文案审核", "知识库", "评测"):
        open_page(page, title)
        check_uploader(page)
        assert english_left(page) == [], title
    shot(page, "admin-eval")

    sign_in(page, url, "mia")
    open_page(page, "营销物料")
    check_uploader(page)
    assert english_left(page) == []
    shot(page, "marketer-generate")

    sign_in(page, url, "eve")
    open_page(page, "评测")
    check_uploader(page)
    modes = page.get_by_test_id("stMultiSelect").first
    box = modes.locator("input")
    box.click()
    for _ in range(2):  # two of the three modes off: the list offers 全选
        page.keyboard.press("Backspace")
        page.wait_for_timeout(600)
    box.click()
    item = page.locator('[role="option"][data-key="__select_all__"] [data-item-hl]')
    item.wait_for(state="attached")  # its English is hidden; 全选 is drawn in its place
    assert after(item) == "全选" and english_left(page) == []
    shot(page, "evaluator-multiselect")
    page.keyboard.press("Escape")
    page.keyboard.press("Backspace")  # no mode left: the placeholder is Chinese
    page.wait_for_timeout(1000)
    assert box.get_attribute("placeholder") == "请选择"
    dataset = data / "laws.jsonl"
    dataset.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DATASET), encoding="utf-8")
    page.get_by_test_id("stFileUploader").first.locator("input[type=file]").set_input_files(str(dataset))
    box.click()
    page.locator('[role="option"][data-key="__select_all__"]').click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="运行评测").click()
    chart = page.get_by_test_id("stVegaLiteChart").first
    chart.wait_for()
    page.wait_for_timeout(2000)
    shown = chart.inner_text()
    assert "证券法" in shown and "证券投资基金法" in shown and "中华人民共和国" not in shown
    assert english_left(page) == []
    shot(page, "evaluator-chart")


def test_findings_table_wraps_reason_and_basis(page, app_url):
    url, _ = app_url
    sign_in(page, url, "mia")
    open_page(page, "文案审核")
    page.get_by_label("粘贴文案").fill(DRAFT)
    page.get_by_role("button", name="开始审核").click()
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for()
    page.wait_for_timeout(1500)
    columns = table.locator('[role="columnheader"]').all_inner_texts()
    assert columns[:4] == ["片段", "类别", "原因", "依据条款"], columns
    cells = table.locator('[role="row"]').all()[1:]
    reasons = [row.locator('[role="gridcell"]').nth(2).inner_text() for row in cells]
    assert reasons and max(len(r) for r in reasons) > 20, reasons  # a reason longer than one line of its column
    lines = max(wrapped_lines(r) for r in reasons)
    box = table.bounding_box()
    assert box["height"] >= len(reasons) * (lines * 21 + 16), (box, lines)  # every row tall enough for its wrapped reason
    assert "仅规则审核（大模型未运行：已在配置中关闭）" in page.evaluate("document.body.innerText")
    table.scroll_into_view_if_needed()
    shot(page, "findings-wrapped")


def test_article_rendered_and_client_note_finished(page, app_url):
    url, _ = app_url
    sign_in(page, url, "mia")
    open_page(page, "营销物料")
    page.get_by_label("产品名称").fill("稳盈一号")
    page.get_by_label("管理人").fill("衡岳基金")
    page.get_by_label("产品特点（每行一条，只写事实）").fill("股债均衡配置\n行业分散")
    page.get_by_role("button", name="生成并审核").click()
    article = page.get_by_role("heading", name="认识稳盈一号")
    article.wait_for(timeout=120_000)
    assert article.evaluate("e => e.tagName") == "H1"
    assert page.get_by_role("heading", name="风险提示").count() >= 1
    assert page.get_by_text("复制全文（Markdown）").count() >= 1
    assert not page.locator("code", has_text="# 认识稳盈一号").is_visible()  # the source waits, folded, with its copy button
    shot(page, "article-rendered")

    page.get_by_role("tab", name="客户个性化材料").click()
    page.get_by_text("导入客户数据（CSV / Excel）").click()
    page.get_by_role("button", name="载入演示数据（合成数据）").click()
    page.get_by_text("已载入合成演示数据").wait_for(timeout=120_000)
    client = page.get_by_test_id("stSelectbox").filter(has_text="单个客户").locator("input")
    client.click()
    client.press_sequentially("DEMO001")
    page.wait_for_timeout(800)  # the list filters to that client
    client.press("Enter")
    generate = page.get_by_role("button", name="生成该客户的材料")
    expect(generate).to_be_enabled(timeout=30_000)  # the run that takes the chosen client has finished
    generate.click()
    done = page.get_by_test_id("stExpander").filter(has_text="已生成并审核")
    done.first.wait_for(timeout=120_000)
    assert "正在生成并审核" not in page.evaluate("document.body.innerText")
    shot(page, "client-note-finished")
