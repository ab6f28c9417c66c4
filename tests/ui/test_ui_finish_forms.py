"""Finishing touches users asked for (issue 18): the create-user form empties after a success, a case's source is a
working link, the sidebar follows the live index version, empty table cells read —, and conversations show a date."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest
from support import REGULATIONS, make_settings
from support.apptest import point_app_at
from support.apptest import sign_in as signed_in

from assistant.accounts import create_user, get_user
from assistant.qa.history import new_conversation
from comply.db import connect
from kb_ingest.ingest import ingest
from ui.display import EMPTY

pytestmark = pytest.mark.integration

PASSWORD = "Finish-forms-2031"
SOURCE_URL = "https://www.npoall.com/news/2024/0912_81.shtml"
CASES = [
    {"id": "case-linked", "title": "关于对某证券营业部采取出具警示函措施的决定", "authority": "某证监局", "date": "2024-09-12",
     "measure_type": "行政监管措施", "penalty": "出具警示函", "violation_summary": "营业部员工向客户承诺保本保收益。",
     "full_text": "经查，营业部员工向客户承诺保本保收益。", "source": f"{SOURCE_URL} (转载；原标题同上)"},
    {"id": "case-scripted", "title": "关于对某基金销售机构采取责令改正措施的决定", "date": "2023-03-01",
     "violation_summary": "宣传材料片面宣传过往业绩。", "full_text": "经查，宣传材料片面宣传过往业绩。",
     "source": "javascript:alert(1)"},  # no authority, measure type or penalty
]
SAME_TITLE = "能否向客户承诺保本保收益"
UPDATED = ["2026-12-06 06:32:00", "2026-12-05 01:05:00", "2026-11-30 23:59:00"]  # UTC, newest first
SHOWN = ["12-06 14:32", "12-05 09:05", "12-01 07:59"]  # the same moments in Beijing time
UPLOAD = "# 衡岳证券直播营销管理细则\n\n第一条 为规范直播营销活动，制定本细则。\n\n第二条 直播中不得展示客户持仓截图。\n"


@pytest.fixture(scope="module")
def forms_kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A regulation, two cases (one with an http source, one with a script address), an administrator and a
    compliance user who has three conversations of the same title."""
    root = tmp_path_factory.mktemp("finish-forms")
    settings = make_settings(root / "data")
    cases = root / "files" / "cases.jsonl"
    cases.parent.mkdir()
    cases.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CASES), encoding="utf-8")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "证券公司监督管理条例.md"], level=0).errors == []
    assert ingest(settings, con, [cases], level=0).errors == []
    create_user(con, "root", PASSWORD, "admin", 2, actor="test")
    create_user(con, "alice", PASSWORD, "compliance", 1, actor="test")
    create_user(con, "ops", PASSWORD, "admin", 1, actor="test")  # an administrator below 秘密
    for moment in UPDATED:
        cid = new_conversation(con, "alice", SAME_TITLE)
        con.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [datetime.fromisoformat(moment), cid])
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir, "db": settings.db_path}


@pytest.fixture()
def app_env(forms_kb: dict, monkeypatch: pytest.MonkeyPatch):
    for _ in point_app_at(monkeypatch, forms_kb["data"], forms_kb["corpus"]):
        yield forms_kb


def page(username: str, script: str) -> AppTest:
    return signed_in(username, PASSWORD).switch_page(f"ui/pages/{script}.py").run()


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def fill_create_form(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="users_new_name").input(username)
    at.text_input(key="users_new_display").input("新同事")
    at.text_input(key="users_new_password").input(password)
    return at.button(key="users_create").click().run()


def test_the_create_user_form_empties_after_a_success_and_keeps_its_input_after_a_failure(app_env):
    at = fill_create_form(page("root", "users"), "carol", "short")
    assert not at.exception and at.error, "a too-short password is refused"
    assert at.text_input(key="users_new_name").value == "carol" and at.text_input(key="users_new_password").value == "short"

    at = fill_create_form(at, "bob", "Quiet-harbour-2031")
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == ["已创建用户 bob"]
    con = connect(app_env["db"])
    assert get_user(con, "bob") is not None
    con.close()
    assert [at.text_input(key=k).value for k in ("users_new_name", "users_new_display", "users_new_password")] == ["", "", ""]


def test_a_case_source_is_a_link_to_its_address_and_any_other_source_plain_text(app_env):
    at = page("alice", "cases")
    at.selectbox(key="cases_open").select("case-linked").run()
    facts = next(m.value for m in at.markdown if "**来源**" in m.value)
    links = re.findall(r"\[([^\]]*)\]\(([^)\s]*)\)", facts)
    assert [(unescaped(text), href) for text, href in links] == [(SOURCE_URL, SOURCE_URL)], facts
    assert "(转载；原标题同上)" in html.unescape(unescaped(facts))

    at.selectbox(key="cases_open").select("case-scripted").run()
    facts = next(m.value for m in at.markdown if "**来源**" in m.value)
    assert "](" not in facts and "javascript:alert(1)" in html.unescape(unescaped(facts))


def test_empty_cells_read_a_dash(app_env):
    table = page("alice", "cases").dataframe[0].value
    scripted = table[table["标题"] == CASES[1]["title"]].to_dict("records")[0]
    assert [scripted[c] for c in ("处罚机关", "措施类型", "处罚")] == [EMPTY] * 3
    assert not table.isna().any().any()


def test_conversations_of_one_title_show_when_they_last_changed_in_beijing_time(app_env):
    at = signed_in("alice", PASSWORD)
    labels = [unescaped(b.label) for b in at.sidebar.button if b.key.startswith("qa_conv_")]
    assert len(labels) == 3 and all(label.startswith(SAME_TITLE) for label in labels), labels
    assert sorted(moment for label in labels for moment in SHOWN if moment in label) == sorted(SHOWN), labels


def test_the_sidebar_shows_the_index_version_an_upload_or_a_reindex_switched_to(app_env):
    at = page("root", "kb")
    version = int(re.search(r"索引版本：v(\d+)", " ".join(c.value for c in at.sidebar.caption)).group(1))
    at.file_uploader(key="kb_upload").set_value([("直播营销管理细则.md", UPLOAD.encode(), "text/markdown"),
                                                 ("空白文件.txt", b"", "text/plain")]).run()
    at.button(key="kb_ingest").click().run()
    assert not at.exception
    assert f"索引版本：v{version + 1}" in " ".join(c.value for c in at.sidebar.caption)
    assert any(f"索引已切换到 v{version + 1}" in e.value for e in [*at.success, *at.error])
    rows = next(d.value for d in at.dataframe if "结果" in d.value.columns)
    assert not rows.isna().any().any() and EMPTY in set(rows["分段数"]), rows.to_dict("records")

    at.button(key="kb_reindex").click().run()
    assert not at.exception and f"索引版本：v{version + 2}" in " ".join(c.value for c in at.sidebar.caption)


def test_an_administrator_below_secret_neither_sees_nor_grants_secret(app_env):
    """A 内部 administrator cannot pick the 秘密 administrator to change, disable or reset, nor grant 秘密 (to anyone,
    themselves included)."""
    at = page("ops", "users")
    assert not at.exception
    for key in ("users_edit_name", "users_pw_name", "users_unlock_name"):
        assert "root" not in at.selectbox(key=key).options and "ops" in at.selectbox(key=key).options
    for key in ("users_new_clearance", "users_edit_clearance"):
        assert at.selectbox(key=key).options == ["公开", "内部"]
