"""批量审核: in every reviewing role's menu; run without the service (``streamlit run app.py`` alone) it says that jobs
need the service instead of failing (the app under ``AppTest`` on a real, empty knowledge base; the LLM is off). The page
with the service is driven in a real browser by tests/ui/test_browser_with_service.py."""

from __future__ import annotations

import pytest
from support import make_settings
from support.apptest import point_app_at, sign_in

from assistant.accounts import ROLES, User, create_user
from comply.db import connect
from ui import nav

PASSWORD = "correct-horse-9"


@pytest.mark.parametrize("role", list(ROLES))
def test_every_role_has_the_batch_page(role):
    assert "batch" in [p.key for p in nav.allowed_pages(User("u", "u", role, 0))]


def test_without_the_service_the_page_says_how_to_start_it(tmp_path, monkeypatch: pytest.MonkeyPatch):
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    create_user(con, "mark", PASSWORD, "marketer", 0, actor="test")
    con.close()
    for _ in point_app_at(monkeypatch, settings.data_dir, settings.corpus_dir):
        at = sign_in("mark", PASSWORD)
        at.switch_page("ui/pages/batch.py").run()
        assert not at.exception and [t.value for t in at.main.title] == ["批量审核"]
        assert "make run" in at.main.info[0].value and not at.main.button
