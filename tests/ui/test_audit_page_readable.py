"""审计日志 as an admin reads it: Chinese operation names and headers, Beijing time to the second, details as fields,
nothing shown as None, and details above the reader's clearance still hidden."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from support import SECRET_POLICY, make_settings
from support.apptest import point_app_at, sign_in

from assistant.accounts import create_user
from comply.audit_view import REDACTED
from comply.db import connect
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-9"
SECRET_DOC = "内部合规手册"  # its name is in the (secret) detail of its doc.add row
SHOWN = ("seq", "ts", "actor", "operation", "target", "detail", "hash")
BEIJING_SECOND = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A secret policy and two admins, one cleared for it and one not; the file is left closed."""
    root = tmp_path_factory.mktemp("audit-page-kb")
    settings = make_settings(root / "data")
    policy = root / "files" / f"{SECRET_DOC}.md"
    policy.parent.mkdir()
    policy.write_text(SECRET_POLICY, encoding="utf-8")
    con = connect(settings.db_path)
    assert ingest(settings, con, [policy], level=2, actor="test").errors == []
    create_user(con, "root", PASSWORD, "admin", 2, actor="test")
    create_user(con, "low", PASSWORD, "admin", 0, actor="test")
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir}


@pytest.fixture()
def app_env(kb: dict, monkeypatch: pytest.MonkeyPatch):
    for _ in point_app_at(monkeypatch, kb["data"], kb["corpus"]):
        yield kb


def audit_page(username: str):
    at = sign_in(username, PASSWORD)
    at.switch_page("ui/pages/audit.py").run()
    assert not at.exception and not at.error
    return at


def cells(table) -> list[str]:
    return [str(v) for column in SHOWN for v in table[column]]


def test_an_admin_reads_chinese_names_beijing_time_and_fields(app_env):
    sign_in("root", "wrong-password-1")
    at = audit_page("root")
    frame = at.dataframe[0]
    labels = {name: config.get("label") for name, config in json.loads(frame.proto.columns).items()}
    assert list(frame.proto.column_order) == list(SHOWN)
    assert [labels[c] for c in SHOWN] == ["序号", "时间（北京时间）", "操作人", "操作", "对象", "详情", "哈希"]
    table = frame.value
    operations = set(table["operation"])
    assert {"登录成功", "登录失败", "创建用户", "新增文档", "切换索引版本"} <= operations
    assert not any(re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", op) for op in operations), "no raw action code is shown"
    assert all(BEIJING_SECOND.fullmatch(ts) for ts in table["ts"])
    newest = datetime.strptime(table["ts"][0], "%Y-%m-%d %H:%M:%S")
    assert abs(newest - datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=8)) < timedelta(minutes=5), "UTC+8"
    assert not any("{" in d or "}" in d for d in table["detail"])
    added = table[table["operation"] == "新增文档"]["detail"].iloc[0]
    assert "密级：秘密" in added and "文档：" in added and SECRET_DOC in added
    assert "原因：用户名或密码错误" in set(table["detail"].str.split("；").explode())
    assert not any(c in ("None", "", "nan") for c in cells(table)), "nothing is shown as None or left blank"

    choice = at.multiselect(key="audit_actions")
    assert "登录成功" in choice.options and "auth.ok" not in choice.options
    choice.set_value(["auth.ok"]).run()
    assert set(at.dataframe[0].value["operation"]) == {"登录成功"}
    dates = at.date_input(key="audit_dates")
    assert dates.label == "日期范围（北京时间）"
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    dates.set_value((today, today)).run()
    assert len(at.dataframe[0].value) >= 1
    dates.set_value((today + timedelta(days=1), today + timedelta(days=1))).run()
    assert len(at.dataframe[0].value) == 0

    at.button(key="audit_verify").click().run()
    assert not at.exception and at.success[0].value.startswith("审计链完整")


def test_a_low_clearance_admin_still_sees_no_secret_detail(app_env):
    table = audit_page("low").dataframe[0].value
    added = table[table["operation"] == "新增文档"]
    assert len(added) == 1 and added["detail"].iloc[0] == REDACTED
    assert not any(SECRET_DOC in c for c in cells(table))
    assert "角色：管理员" in set(table["detail"].str.split("；").explode()), "other details are shown, as fields"
