"""审核反馈 is for compliance staff, evaluators and admins: in their menus, and refused to a marketer who opens it
by its URL (the app under ``AppTest`` on a real, empty knowledge base; the LLM is off)."""

from __future__ import annotations

import pytest
from support import make_settings
from support.apptest import point_app_at, sign_in

from assistant.accounts import ROLES, User, create_user
from comply.db import connect
from ui import nav

PASSWORD = "correct-horse-9"
PAGE = "ui/pages/review_feedback.py"


@pytest.mark.parametrize("role", list(ROLES))
def test_the_feedback_page_is_in_the_menu_of_every_role_but_marketing(role):
    keys = [p.key for p in nav.allowed_pages(User("u", "u", role, 0))]
    assert ("review_feedback" in keys) == (role != "marketer"), keys
    assert "review_feedback" not in [p.key for p in nav.allowed_pages(User("u", "u", role, 0, disabled=True))]


@pytest.fixture()
def app(tmp_path, monkeypatch: pytest.MonkeyPatch):
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    create_user(con, "mark", PASSWORD, "marketer", 0, actor="test")
    create_user(con, "eve", PASSWORD, "evaluator", 0, actor="test")
    con.close()
    yield from point_app_at(monkeypatch, settings.data_dir, settings.corpus_dir)


def test_a_marketer_is_refused_and_an_evaluator_sees_an_empty_library(app):
    at = sign_in("mark", PASSWORD)
    at.switch_page(PAGE).run()
    assert not at.exception and [e.value for e in at.main.error] == [nav.DENIED]
    assert not at.main.title and not at.main.table
    at = sign_in("eve", PASSWORD)
    at.switch_page(PAGE).run()
    assert not at.exception and [t.value for t in at.main.title] == ["审核反馈"]
    assert [i.value for i in at.main.info] == ["尚无审核判定", "样本库为空"]
