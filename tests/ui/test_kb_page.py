"""The 知识库 page keeps levels: it lists only documents within the administrator's clearance, uploads keep a
document's stored level unless one is chosen, and lowering a level needs an explicit confirmation."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from support import INTERNAL_POLICY, REGULATIONS, SECRET_POLICY, make_settings
from support.apptest import point_app_at
from support.apptest import sign_in as signed_in

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration

PASSWORD = "kb-page-pass-2030"
ADMINS = {"root": 2, "deputy": 1}  # a 秘密 and an 内部 administrator


@pytest.fixture()
def kb_env(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A public regulation, an internal and a secret policy, two administrators; the app pointed at it."""
    settings = make_settings(tmp_path / "data")
    files = tmp_path / "files"
    files.mkdir()
    (files / "员工执业行为守则.md").write_text(INTERNAL_POLICY, encoding="utf-8")
    (files / "内部合规手册.md").write_text(SECRET_POLICY, encoding="utf-8")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "证券公司监督管理条例.md"], level=0).errors == []
    assert ingest(settings, con, [files / "员工执业行为守则.md"], level=1).errors == []
    assert ingest(settings, con, [files / "内部合规手册.md"], level=2).errors == []
    for name, clearance in ADMINS.items():
        create_user(con, name, PASSWORD, "admin", clearance, actor="test")
    con.close()
    for _ in point_app_at(monkeypatch, settings.data_dir, settings.corpus_dir):
        yield settings


def kb_page(username: str) -> AppTest:
    return signed_in(username, PASSWORD).switch_page("ui/pages/kb.py").run()


def test_the_documents_list_shows_only_what_the_administrator_may_see(kb_env):
    deputy = kb_page("deputy")
    assert not deputy.exception
    listed = set(deputy.dataframe[0].value["文档"])
    assert listed == {"证券公司监督管理条例", "员工执业行为守则"}
    assert "内部合规手册" not in " ".join(deputy.selectbox(key="kb_doc").options)
    assert "内部合规手册" in set(kb_page("root").dataframe[0].value["文档"])


def test_an_upload_keeps_the_stored_level_unless_one_is_chosen(kb_env):
    at = kb_page("root")
    assert at.selectbox(key="kb_level").value is None  # 沿用原密级（新文件为公开）


def test_lowering_a_level_needs_a_confirmation_and_is_audited(kb_env):
    at = kb_page("root")
    doc_id = _doc_id(kb_env, "内部合规手册")
    at.selectbox(key="kb_doc").set_value(doc_id).run()
    at.selectbox(key="kb_new_level").set_value(0).run()
    assert at.button(key="kb_set_level").disabled, "lowering waits for the confirmation"
    at.checkbox(key="kb_lower_confirm").check().run()
    assert not at.button(key="kb_set_level").disabled
    at.button(key="kb_set_level").click().run()
    assert not at.exception and not at.error
    con = connect(kb_env.db_path)
    level = con.execute("SELECT level FROM documents WHERE doc_key = '内部合规手册' AND state = 'live'").fetchone()[0]
    actor, detail = con.execute("SELECT actor, CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'doc.level' "
                                "ORDER BY seq DESC LIMIT 1").fetchone()
    con.close()
    assert level == 0 and actor == "root" and (json.loads(detail)["from"], json.loads(detail)["to"]) == ("秘密", "公开")

    raising = kb_page("root")
    raising.selectbox(key="kb_doc").set_value(doc_id).run()
    raising.selectbox(key="kb_new_level").set_value(1).run()
    assert not raising.button(key="kb_set_level").disabled, "raising needs no extra confirmation"


def _doc_id(settings, key: str) -> str:
    con = connect(settings.db_path)
    try:
        return con.execute("SELECT doc_id FROM documents WHERE doc_key = ? AND state = 'live'", [key]).fetchone()[0]
    finally:
        con.close()
