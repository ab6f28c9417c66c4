"""The chat page in a real browser: a follow-up question, a second question sent while the first answer still
streams (both answered, stored and shown in order), the stage indicator, and a conversation renamed, exported
(Markdown, Word, one answer with its clauses) and deleted.

Debian chromium driven by Playwright against ``streamlit run app.py`` on loopback (one app for the module, as
tests/ui/test_browser.py starts it); the LLM is the TGI-protocol test double, everything else is real.
Screenshots go to ``test-artifacts/chat-*.png``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docx import Document
from support import REGULATIONS, clause_text, first_sentence, make_settings
from support.tgi_double import Reply, TgiDouble
from support.browser import new_page, streamlit_app
from support.browser import screenshot as shot
from test_browser import PASSWORD, ask, open_page, sign_in

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Q1 = "证券公司能否向客户承诺保本保收益？"
FOLLOW_UP = "那违反了会受到什么处罚？"
SECOND = "证券公司能否代客户决定证券买卖？"
EXPORT = "导出本回答及条款（Markdown）"  # one per stored answer: counts the answers that are done


def _model(body: dict) -> str:
    """Rewrites join the earlier question and the follow-up; answers quote clause [1] verbatim."""
    prompt = body["messages"][-1]["content"]
    if not body.get("stream"):
        earlier = re.findall(r"^用户：(.+)$", prompt, re.M)
        return f"{earlier[0] if earlier else ''}{prompt.split('【追问】')[-1].strip()}"
    return f"结论：不能。\n依据：“{first_sentence(clause_text(body, 1))}”[1]\n说明：条款明确规定。"


@dataclass
class App:
    url: str
    tgi: TgiDouble


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data = tmp_path_factory.mktemp("browser-chat")
    settings = make_settings(data / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"], level=0).errors == []
    create_user(con, "alice", PASSWORD, "compliance", 0, "合规专员")
    con.close()
    with TgiDouble(model_id="test/browser", default=Reply(content_fn=_model)) as tgi:
        env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir),
               "COMPLY_LLM_URL": tgi.url, "COMPLY_LLM_TIMEOUT": "30"}
        with streamlit_app(data / "streamlit.log", env) as url:
            yield App(url, tgi)


@pytest.fixture()
def page(browser, app):
    with new_page(browser, accept_downloads=True) as pg:
        sign_in(pg, app.url, "alice")
        open_page(pg, "合规问答")
        pg.get_by_role("button", name="新建对话").click()
        yield pg
    app.tgi.default_reply = Reply(content_fn=_model)


def answers_done(page, n: int, timeout_s: float = 120) -> None:
    """Wait until the conversation shows ``n`` stored answers and nothing is being answered."""
    page.get_by_role("button", name=EXPORT).nth(n - 1).wait_for(timeout=timeout_s * 1000)
    page.get_by_text("生成中…").wait_for(state="detached")
    page.get_by_text("排队中").wait_for(state="detached")


def bubbles(page) -> list[tuple[str, str]]:
    """The chat messages in order: (who, text)."""
    out = []
    for m in page.get_by_test_id("stChatMessage").all():
        who = "user" if m.get_by_test_id("stChatMessageAvatarUser").count() else "assistant"
        out.append((who, m.inner_text()))
    return out


def test_a_follow_up_is_answered_with_the_conversation(page, app):
    ask(page, Q1)
    answers_done(page, 1)
    before = len(app.tgi.chat_requests)
    ask(page, FOLLOW_UP)
    answers_done(page, 2)
    rewrites = [r.body["messages"][-1]["content"] for r in app.tgi.chat_requests[before:] if not r.body.get("stream")]
    assert any(Q1 in c and FOLLOW_UP in c for c in rewrites), "the follow-up is rewritten with the conversation"
    streamed = [r.body for r in app.tgi.chat_requests[before:] if r.body.get("stream")]
    assert streamed and Q1 in streamed[0]["messages"][-1]["content"], "the answer is asked with the standalone question"
    shown = bubbles(page)
    assert [who for who, _ in shown] == ["user", "assistant", "user", "assistant"]
    assert Q1 in shown[0][1] and FOLLOW_UP in shown[2][1]
    shot(page, "chat-follow-up")


def test_a_second_question_sent_while_the_first_streams_waits_and_both_are_kept(page, app):
    app.tgi.default_reply = Reply(content_fn=_model, delay_s=3.0, chunk_delay_s=0.4, chunk_chars=3)
    ask(page, Q1)
    page.get_by_text("生成中…").wait_for()  # the stage indicator while the model has not answered yet
    shot(page, "chat-stage")
    page.get_by_test_id("stChatMessage").nth(1).get_by_text("结论").wait_for()  # the first answer is streaming
    ask(page, SECOND)
    page.get_by_text("排队中").wait_for()
    assert page.get_by_text("生成中…").count() == 1, "the first answer keeps streaming after the rerun"
    shot(page, "chat-queued")
    answers_done(page, 2)
    shown = bubbles(page)
    assert [who for who, _ in shown] == ["user", "assistant", "user", "assistant"]
    assert Q1 in shown[0][1] and SECOND in shown[2][1] and "不能" in shown[1][1] and "不能" in shown[3][1]

    page.reload()  # a new browser session: the answers are stored, not only shown
    sign_in(page, app.url, "alice")
    open_page(page, "合规问答")
    page.get_by_test_id("stSidebar").get_by_role("button", name=Q1[:10]).first.click()  # the newest conversation
    answers_done(page, 2)
    assert [(who, Q1 in text, SECOND in text) for who, text in bubbles(page)] == [
        ("user", True, False), ("assistant", False, False), ("user", False, True), ("assistant", False, False)]


def idle(page) -> None:
    """Wait until no script run is in progress: a download button of a run that a newer run replaced has lost its file."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def _download(page, name: str, within=None) -> bytes:
    where = within or page
    idle(page)
    with page.expect_download() as info:
        where.get_by_role("button", name=name).first.click()
    return Path(info.value.path()).read_bytes()


def open_manage(sidebar) -> None:
    """Open the sidebar's 管理当前对话 unless it is open already (an expander keeps its state across reruns)."""
    if not sidebar.get_by_role("button", name="导出 Markdown").is_visible():
        sidebar.get_by_text("管理当前对话").click()
    sidebar.get_by_role("button", name="导出 Markdown").wait_for()


def test_a_conversation_is_renamed_exported_and_deleted(page, app):
    ask(page, Q1)
    answers_done(page, 1)
    sidebar = page.get_by_test_id("stSidebar")
    open_manage(sidebar)
    sidebar.get_by_label("对话标题").fill("保本承诺咨询")
    sidebar.get_by_role("button", name="重命名").click()
    page.get_by_text("对话已重命名").wait_for()
    sidebar.get_by_role("button", name="保本承诺咨询").first.wait_for()

    open_manage(sidebar)
    md = _download(page, "导出 Markdown", sidebar).decode("utf-8")
    assert md.startswith("# 保本承诺咨询") and Q1 in md and "**引用条款**" in md and "《中华人民共和国证券法》" in md
    word = "\n".join(p.text for p in Document(io.BytesIO(_download(page, "导出 Word", sidebar))).paragraphs)
    assert "保本承诺咨询" in word and Q1 in word and "第一百三十五条" in word
    one = _download(page, EXPORT).decode("utf-8")
    assert f"**问：** {Q1}" in one and "**引用条款**" in one and "密级：公开" in one
    shot(page, "chat-manage")

    sidebar.get_by_role("button", name="删除对话").click()
    warning = sidebar.get_by_text("审计日志中的问答记录会保留")
    warning.wait_for()
    warning.scroll_into_view_if_needed()
    shot(page, "chat-delete-confirm")
    sidebar.get_by_role("button", name="确认删除").click()
    page.get_by_text("对话已删除").wait_for()
    assert sidebar.get_by_role("button", name="保本承诺咨询").count() == 0
    assert page.get_by_test_id("stChatMessage").count() == 0


def _reversing_model(body: dict) -> str:
    """A faithful quote of clause [1], then the same clause restated as its opposite, citing it."""
    quote = first_sentence(clause_text(body, 1))
    return f"结论：不能。\n依据：“{quote}”[1]\n说明：{quote.replace('不得', '可以', 1)}[1]。"


def test_a_reversed_statement_is_shown_unverified_beside_its_clause(page, app):
    app.tgi.default_reply = Reply(content_fn=_reversing_model)
    ask(page, Q1)
    answers_done(page, 1)
    answer = page.get_by_test_id("stChatMessage").last
    answer.get_by_text("⚠未核验").wait_for()
    assert "证券公司可以对客户" in answer.inner_text(), "the streamed text is kept, not replaced"
    answer.get_by_text("⚠ 未通过核验").first.click()
    detail = answer.get_by_test_id("stExpander").filter(has_text="所引条款原文").first
    detail.get_by_text("意思相反").wait_for()
    assert "证券公司不得对客户证券买卖的收益" in detail.inner_text(), "the clause is shown beside the sentence"
    assert "✓" not in answer.inner_text()
    shot(page, "chat-unverified")
