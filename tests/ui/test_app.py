"""The Streamlit app through ``streamlit.testing.v1.AppTest`` on a real knowledge base (LLM off), and the ui helpers."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from support import (
    REGULATIONS,
    SECRET_POLICY,
    SHARED,
    clause_text,
    first_sentence,
    make_settings,
)
from support.apptest import point_app_at
from support.apptest import sign_in as signed_in
from support.tgi_double import Reply, TgiDouble

from assistant.accounts import User, create_user
from assistant.qa.answer import RETRIEVAL_ONLY, Answer
from assistant.qa.history import StoredMessage, feedback
from assistant.qa.prompt import Turn
from assistant.qa.transcript import citation_label
from comply.db import connect
from comply.files.office import dicts_csv
from kb_ingest.ingest import ingest
from review.export import finding_rows, to_docx, to_markdown, to_pdf
from review.findings import Finding
from review.pipeline import ReviewReport
from review.taxonomy import load_taxonomy
from ui import nav
from ui.chat import AnswerStream, history
from ui.highlight import highlight_html

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-9"
ACCOUNTS = {"alice": ("compliance", 1), "mark": ("marketer", 0), "root": ("admin", 2)}
SECRET_MARK = "青鸾计划"  # only in the secret policy (level 2)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One public regulation and a secret policy, the accounts, and every clause text by level; the file is left closed."""
    root = tmp_path_factory.mktemp("app-kb")
    settings = make_settings(root / "data")
    policy = root / "files" / "内部合规手册.md"
    policy.parent.mkdir()
    policy.write_text(SECRET_POLICY, encoding="utf-8")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "证券公司监督管理条例.md"], level=0).errors == []
    assert ingest(settings, con, [policy], level=2).errors == []
    for name, (role, clearance) in ACCOUNTS.items():
        create_user(con, name, PASSWORD, role, clearance, actor="test")
    texts = con.execute("SELECT c.text, d.level FROM chunks c JOIN documents d USING (doc_id) WHERE d.state = 'live'").fetchall()
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir, "texts": texts}


@pytest.fixture()
def app_env(kb: dict, monkeypatch: pytest.MonkeyPatch):
    """Point the app at the test knowledge base with the LLM off; fresh process-wide resources for each test."""
    for _ in point_app_at(monkeypatch, kb["data"], kb["corpus"]):
        yield kb


def sign_in(username: str, password: str = PASSWORD) -> AppTest:
    return signed_in(username, password)


def unescaped(text: str) -> str:
    """Text as the reader sees it: untrusted text reaches Markdown escaped (``ui.safe_text.plain``)."""
    return re.sub(r"\\(.)", r"\1", text)


def bare(text: str) -> str:
    """Text without whitespace and markdown escapes, to compare a shown clause with its stored text."""
    return re.sub(r"[\s\\]", "", text)


def shown(at: AppTest) -> str:
    """Every text the page shows: markdown, captions, alerts and expander labels."""
    elements = [*at.markdown, *at.caption, *at.warning, *at.info, *at.error]
    return "\n".join([e.value for e in elements] + [e.label for e in at.expander])


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_sign_in_failure_shows_the_message_and_stays_on_the_login_page(app_env):
    at = sign_in("alice", "wrong-password")
    assert not at.exception
    assert [e.value for e in at.error] == ["用户名或密码错误"]
    assert titles(at) == ["合规智能助手"] and "user" not in at.session_state
    con = connect(app_env["data"] / "comply.duckdb")
    sources = con.execute("SELECT DISTINCT source_hash FROM login_attempts WHERE username = 'alice' AND NOT ok").fetchall()
    con.close()
    assert sources and all(s and len(s) == 64 for (s,) in sources), "the page passes its session as the (hashed) source"


def test_sign_in_shows_user_role_clearance_and_status_then_sign_out(app_env):
    at = sign_in("alice")
    assert not at.exception and not at.error
    assert titles(at) == ["合规问答"], "a compliance user lands on Q&A"
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "角色：合规" in sidebar and "密级：内部" in sidebar
    assert "大模型：无大模型" in sidebar and "索引版本：v2" in sidebar
    at.button(key="logout").click().run()
    assert titles(at) == ["合规智能助手"] and "user" not in at.session_state


def test_marketer_gets_no_admin_pages_and_a_denied_page_shows_nothing_else(app_env):
    marketer = User("mark", "mark", "marketer", 0)
    assert [p.key for p in nav.allowed_pages(marketer)] == ["review", "batch", "generate", "cases"]
    at = sign_in("mark")
    assert titles(at) == ["文案审核"], "a marketer lands on draft review"
    at.switch_page("ui/pages/generate.py").run()
    assert not at.exception and titles(at) == ["营销物料"]
    at.text_input(key="gen_name").set_value("远舟均衡配置混合型证券投资基金A").run()
    at.multiselect(key="gen_channels").set_value(["sms"]).run()
    at.button(key="gen_run").click().run()
    assert not at.exception and any("【机构简称】远舟均衡配置混合型证券投资基金A" in c.value for c in at.code)
    assert any("合规审核通过" in m.value for m in at.success)
    for page in ("kb", "audit", "users", "eval", "qa"):
        at.switch_page(f"ui/pages/{page}.py").run()
        assert not at.exception
        assert [e.value for e in at.main.error] == [nav.DENIED], page
        assert not at.main.title and not at.main.button and not at.main.dataframe, page


def test_compliance_user_gets_a_cited_answer_within_clearance_and_history_keeps_its_citations(app_env):
    clearance = ACCOUNTS["alice"][1]
    visible = {bare(text) for text, level in app_env["texts"] if level <= clearance}
    at = sign_in("alice")
    at.chat_input(key="qa_input").set_value("营销人员向高净值客户推介私募产品前需要经过什么复核？").run()
    assert not at.exception and not at.error
    assistant = [m for m in at.chat_message if m.name == "assistant"]
    assert len(assistant) == 1
    answer = assistant[0]
    assert answer.markdown[0].value.startswith("未使用大模型"), "no model: the answer is the retrieved clauses"
    assert "模式：仅检索" in " ".join(c.value for c in answer.caption)
    expanders = answer.expander
    assert expanders and all(unescaped(e.label).startswith(f"[{n}] 《") for n, e in enumerate(expanders, start=1))
    for e in expanders:
        assert bare(e.markdown[0].value) in visible, "every clause shown is one the user may see"
        assert "密级：公开" in e.caption[0].value or "密级：内部" in e.caption[0].value
    assert SECRET_MARK not in shown(at), "the secret policy never reaches a user cleared for 内部"
    labels = [e.label for e in expanders]

    answer.feedback[0].set_value(0).run()  # 👎 is stored at once, then a correction may follow
    next(t for t in at.text_input if t.key.startswith("fb_fix_")).input("应以第二十八条为准")
    next(b for b in at.button if b.key.startswith("fb_send_")).click().run()
    con = connect(app_env["data"] / "comply.duckdb")
    rated = feedback(con, clearance=clearance)
    con.close()
    assert [(r["rating"], r["correction"], r["username"]) for r in rated] == [(-1, "应以第二十八条为准", "alice")]

    cleared = sign_in("root")  # cleared for 秘密: the same question reaches the secret policy
    cleared.chat_input(key="qa_input").set_value("营销人员向高净值客户推介私募产品前需要经过什么复核？").run()
    assert any("《内部合规手册》" in e.label for e in cleared.expander) and SECRET_MARK in shown(cleared)

    again = sign_in("alice")
    conversation = next(b for b in again.sidebar.button if b.key.startswith("qa_conv_"))
    conversation.click().run()
    reloaded = [m for m in again.chat_message if m.name == "assistant"]
    assert [e.label for e in reloaded[0].expander] == labels, "citations come back with the message they belong to"


def test_llm_answer_shows_the_verified_text_and_flags_an_invented_citation(app_env, monkeypatch):
    with TgiDouble(model_id="test/app") as tgi:
        tgi.enqueue(Reply(content_fn=lambda body: f"不能。“{first_sentence(clause_text(body, 1))}”[1]。另有规定[7]。"))
        monkeypatch.delenv("COMPLY_LLM")
        monkeypatch.setenv("COMPLY_LLM_URL", tgi.url)
        st.cache_resource.clear()
        at = sign_in("alice")
        at.chat_input(key="qa_input").set_value("证券公司能否向客户承诺保本保收益？").run()
    assert not at.exception and not at.error and tgi.schema_errors == []
    answer = [m for m in at.chat_message if m.name == "assistant"][0]
    text = unescaped(answer.markdown[0].value)
    assert text.startswith("不能。") and "[1]" in text, text
    assert ":orange-background[另有规定[7]。] ⚠未核验" in text, "the sentence citing an invented clause is kept, marked"
    labels = [unescaped(e.label) for e in answer.expander]
    assert labels[0] == "⚠ 未通过核验：另有规定[7]。", "the failed sentence opens beside its reason and clause"
    assert labels[1].startswith("[1] 《证券公司监督管理条例》") and "✗" not in labels[1]
    assert labels[2] == "[7] （无此条款） ✗ 未通过核验"
    assert "模式：大模型（test/app）" in unescaped(answer.caption[-1].value)


def test_review_flags_guaranteed_return_with_its_category(app_env):
    at = sign_in("mark")
    at.text_area(key="review_text").input("本产品保本保收益，欢迎购买。")
    at.button(key="review_run").click().run()
    assert not at.exception and not at.error
    rows = at.dataframe[0].value.to_dict("records")
    assert any("保本保收益" in r["片段"] and r["类别"] == "承诺收益/保本保收益" for r in rows), rows
    assert any('data-category="guaranteed_return"' in h.value for h in at.html)
    assert [b.key for b in at.download_button] == ["review_dl_md", "review_dl_docx", "review_dl_pdf"]


def test_empty_draft_shows_the_reader_message(app_env):
    at = sign_in("mark")
    at.button(key="review_run").click().run()
    assert [e.value for e in at.error] and "没有可审核的内容" in at.error[0].value


def test_audit_page_verifies_the_hash_chain(app_env):
    at = sign_in("root")
    at.switch_page("ui/pages/audit.py").run()
    at.button(key="audit_verify").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("审计链完整")
    assert at.dataframe[0].value["action"].str.startswith("auth.").any(), "sign-ins are in the log"


def test_eval_page_scores_the_review_suite(app_env):
    at = sign_in("root")
    at.switch_page("ui/pages/eval.py").run()
    at.radio(key="eval_suite").set_value("review").run()
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    overall = at.dataframe[0].value
    assert list(overall["方式"]) == ["规则", "关键词基线"] and overall["F1"].between(0, 1).all()


# --- ui helpers --------------------------------------------------------------------------------


TAXONOMY = load_taxonomy(SHARED / "eval" / "taxonomy.json")


def finding(span: str, text: str, category: str = "guaranteed_return") -> Finding:
    start = text.index(span)
    return Finding(span, start, start + len(span), category, "high", "承诺保本", [], "删除保本表述", "rule")


def test_highlight_escapes_text_and_marks_overlapping_spans():
    text = "<b>保本保收益</b>，稳赚不赔"
    html = highlight_html(text, [finding("保本保收益", text), finding("保收益</b>，稳赚", text, "absolute_terms")],
                          {"guaranteed_return": "承诺收益", "absolute_terms": "绝对化"})
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count("<mark") == 3, "保本 | 保收益 (both) | </b>，稳赚"
    assert 'data-category="guaranteed_return" title="承诺收益、绝对化"' in html, "the shorter span colours the overlap"
    assert html.count("box-shadow") == 1, "the broader span underlines it"


def test_exports_hold_every_finding():
    text = "本产品保本保收益。"
    report = ReviewReport(text, "rules", [finding("保本保收益", text)], notice="仅规则审核（已在配置中关闭）")
    rows = finding_rows(report.findings, TAXONOMY)
    assert rows[0]["类别"] == "承诺收益/保本保收益" and rows[0]["严重程度"] == "高"
    md = to_markdown(report, TAXONOMY, "粘贴文本")
    assert "“保本保收益”" in md and "承诺收益/保本保收益" in md and "> 本产品保本保收益。" in md
    with zipfile.ZipFile(io.BytesIO(to_docx(report, TAXONOMY, "粘贴文本"))) as docx:
        assert "保本保收益" in docx.read("word/document.xml").decode("utf-8")
    assert to_pdf(report, TAXONOMY, "粘贴文本").startswith(b"%PDF-")
    assert dicts_csv([{"a": "甲", "b": 1}]).decode("utf-8") == "\ufeffa,b\r\n甲,1\r\n"


def test_answer_stream_yields_pieces_and_keeps_the_answer():
    final = Answer("q", "q", "答", [], [], [], RETRIEVAL_ONLY, None, None, 0.1)

    def gen():
        yield "答"
        yield "案"
        return final

    stream = AnswerStream(gen())
    assert list(stream) == ["答", "案"] and stream.answer is final


def test_history_pairs_questions_with_their_answers_and_labels_citations():
    msgs = [StoredMessage(1, "c", "user", "问一"), StoredMessage(2, "c", "assistant", "答一"),
            StoredMessage(3, "c", "user", "问二")]
    assert history(msgs) == [Turn("问一", "答一")]
    clause = {"doc_title": "证券法", "article": "第一百三十五条"}
    assert citation_label({"n": 1, "verified": True}, clause) == "[1] 《证券法》第一百三十五条"
    assert citation_label({"n": 7, "verified": False, "chunk_id": None}, None) == "[7] （无此条款） ✗ 未通过核验"
    amended = {"doc_title": "期货交易管理条例", "article": "第二十四条", "notice": "证监会法规目录列有更新版本"}
    assert citation_label({"n": 2, "verified": True}, amended) == "[2] 《期货交易管理条例》第二十四条（⚠ 证监会法规目录列有更新版本）"


def test_the_audit_table_shows_a_typed_formula_as_text(app_env):
    """A name typed at the login form reaches the log; the table (and its own CSV download) never holds a formula."""
    signed_in('=HYPERLINK("http://evil.example/","x")', "not-the-password-1")
    at = sign_in("root")
    at.switch_page("ui/pages/audit.py").run()
    cells = [str(v) for column in ("actor", "target", "detail") for v in at.dataframe[0].value[column]]
    assert any(c.startswith("'=HYPERLINK") for c in cells) and not any(c.startswith(("=", "+", "-", "@")) for c in cells)
