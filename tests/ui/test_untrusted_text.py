"""Untrusted text is shown as text (issue 16, item 15): a Markdown image in a clause, a case, a document title, a
display name, a model's answer or a draft never reaches the browser as an image (or a link) to fetch."""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from support import make_settings
from support.apptest import point_app_at
from support.apptest import sign_in as signed_in
from support.tgi_double import Reply, TgiDouble

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest
from ui.safe_text import plain

pytestmark = pytest.mark.integration

PASSWORD = "Untrusted-text-2030"
EVIL = "evil.example"
IMAGE = f"![x](http://{EVIL}/pixel.png)"
# the element types whose text or label Streamlit renders as Markdown
BODIES = {"markdown", "caption", "latex", "title", "header", "subheader", "error", "warning", "info", "success", "toast"}
LABELLED = {"expander", "status", "tab", "button", "form_submit_button", "checkbox", "toggle", "text_input", "text_area",
            "selectbox", "multiselect", "radio", "file_uploader", "chat_input", "download_button", "progress"}


@pytest.fixture(scope="module")
def hostile_kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A regulation, a case and an account whose title, text and display name carry Markdown images."""
    root = tmp_path_factory.mktemp("hostile-kb")
    settings = make_settings(root / "data")
    files = root / "files"
    files.mkdir()
    doc = files / f"营销规定{IMAGE.replace('/', '_')}.md"
    doc.write_text(f"# 营销规定\n\n第一条 营销人员不得向客户承诺保本保收益{IMAGE}，违者严肃处理。\n\n"
                   f"第二条 营销人员不得诋毁同业<img src=\"http://{EVIL}/tag.png\">。\n", encoding="utf-8")
    case = {"id": "case-hostile-1", "title": f"{IMAGE}营销人员承诺保本保收益案", "authority": f"[监管局](http://{EVIL})",
            "date": "2024-05-01", "violation_summary": f"营销人员向客户承诺保本保收益{IMAGE}。",
            "full_text": f"经查，营销人员承诺保本保收益{IMAGE}。", "legal_basis_violated": ["《营销规定》第一条"]}
    cases = files / "cases.jsonl"
    cases.write_text(json.dumps(case, ensure_ascii=False) + "\n", encoding="utf-8")
    con = connect(settings.db_path)
    assert ingest(settings, con, [doc], level=0).errors == []
    assert ingest(settings, con, [cases], level=0).errors == []
    create_user(con, "mallory", PASSWORD, "admin", 2, display_name=IMAGE)
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir}


@pytest.fixture()
def app_env(hostile_kb: dict, monkeypatch: pytest.MonkeyPatch):
    for _ in point_app_at(monkeypatch, hostile_kb["data"], hostile_kb["corpus"]):
        yield hostile_kb


def sign_in() -> AppTest:
    return signed_in("mallory", PASSWORD)


def rendered(at: AppTest) -> list[str]:
    """Every text of the page that Streamlit renders as Markdown: bodies and labels, main area and sidebar."""
    texts = []
    for block in (at.main, at.sidebar):
        for node in block:
            if node.type in BODIES:
                texts.append(node.value)
            elif node.type in LABELLED and getattr(node, "label", None):
                texts.append(node.label)
    return texts


def assert_inert(at: AppTest) -> None:
    """No image, link or HTML tag survives in rendered Markdown, and the hostile text was really shown (escaped)."""
    assert not at.exception
    texts = rendered(at)
    for text in texts:
        assert "![" not in text and "](" not in text and not re.search(r"(?<!\\)<[a-z]", text), text
    assert any(EVIL in re.sub(r"\\(.)", r"\1", text) for text in texts), "the hostile text is shown, as text"
    assert all("<img" not in h.value for h in at.html)


def test_plain_escapes_every_markdown_control_character():
    text = "![a](http://x/y.png) [l](u) <b> `c` *e* _u_ # h\n- li\n1. n $m$ :red[t] ~~s~~ | t \\"
    escaped = plain(text)
    assert not re.search(r"[!-/:-@\[-`{-~]", re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)), "every one is escaped"
    assert re.sub(r"\\(.)", r"\1", escaped).replace("  \n", "\n") == text, "nothing else changes"


def test_display_name_clauses_and_answers_are_shown_as_text(app_env):
    at = sign_in()
    assert_inert(at)  # the sidebar shows the display name
    at.switch_page("ui/pages/qa.py").run()
    at.chat_input(key="qa_input").set_value("营销人员能否向客户承诺保本保收益？").run()
    assert_inert(at)
    assert any(e.label.startswith("[1]") or e.label.startswith(r"\[1\]") for e in at.expander)


def test_a_model_answer_with_an_image_is_shown_as_text(app_env, monkeypatch):
    with TgiDouble(model_id=f"![m](http://{EVIL}/model.png)") as tgi:
        tgi.enqueue(Reply(content=f"不能承诺保本保收益[1]。{IMAGE}[链接](http://{EVIL}/leak?q=青鸾)"))
        monkeypatch.delenv("COMPLY_LLM")
        monkeypatch.setenv("COMPLY_LLM_URL", tgi.url)
        st.cache_resource.clear()
        at = sign_in()
        at.switch_page("ui/pages/qa.py").run()
        at.chat_input(key="qa_input").set_value("营销人员能否向客户承诺保本保收益？").run()
    assert_inert(at)


def test_cases_and_drafts_are_shown_as_text(app_env):
    at = sign_in()
    at.switch_page("ui/pages/cases.py").run()
    at.selectbox(key="cases_open").select("case-hostile-1").run()
    assert_inert(at)
    at.switch_page("ui/pages/review.py").run()
    at.text_area(key="review_text").input(f"本产品保本保收益{IMAGE}，欢迎购买。")
    at.button(key="review_run").click().run()
    assert_inert(at)
