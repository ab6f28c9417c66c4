"""``comply users`` as an administrator's shell calls it (a separate process over a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from assistant.accounts import AuthError, authenticate
from comply import audit
from comply.db import connect

PASSWORD = "S3cure-pass"


def _fail(con, username: str, password: str, now: datetime) -> AuthError:
    with pytest.raises(AuthError) as info:
        authenticate(con, username, password, now=now)
    return info.value


def _actions(con) -> list[tuple[str, str, str | None]]:
    return con.execute("SELECT action, actor, target FROM audit_log ORDER BY seq").fetchall()


@pytest.mark.integration
def test_cli_adds_lists_updates_and_sets_passwords(small_kb, tmp_path):
    settings, con = small_kb
    con.close()  # DuckDB allows one process per file
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", "users", *args], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)

    out = run("add", "admin", "--role", "admin", "--clearance", "秘密", "--name", "管理员甲", "--password-stdin",
              stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert "已创建用户 admin" in out.stdout and PASSWORD not in out.stdout
    assert run("add", "alice", "--role", "marketer", "--clearance", "公开", "--password-stdin", stdin="short\n").returncode == 1
    assert "已存在" in run("add", "admin", "--role", "admin", "--clearance", "秘密", "--password-stdin",
                           stdin=PASSWORD + "\n").stderr
    bad_level = run("add", "bob", "--role", "marketer", "--clearance", "绝密", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad_level.returncode == 2 and "未知密级" in bad_level.stderr
    assert run("add", "alice", "--role", "marketer", "--clearance", "内部", "--password-stdin",
               stdin="alice-pass-1\n").returncode == 0
    assert run("update", "alice", "--disable", "--clearance", "公开").returncode == 0
    assert run("passwd", "alice", "--password-stdin", stdin="alice-pass-2\n").returncode == 0
    assert run("update", "alice").returncode == 2

    out = run("list", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"username": "admin", "display_name": "管理员甲", "role": "admin", "role_name": "管理员", "clearance": "秘密", "disabled": False},
        {"username": "alice", "display_name": "alice", "role": "marketer", "role_name": "营销", "clearance": "公开", "disabled": True},
    ]

    con = connect(settings.db_path)
    try:
        assert authenticate(con, "admin", PASSWORD).role == "admin"
        assert _fail(con, "alice", "alice-pass-2", datetime.now(UTC)).kind == "disabled"
        assert [a for a, _, _ in _actions(con)] == ["user.create", "user.create", "user.update", "user.password",
                                                    "auth.ok", "auth.fail"]
        assert audit.verify(con).ok
    finally:
        con.close()
