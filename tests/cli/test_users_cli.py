"""``comply users`` as an administrator's shell calls it (a separate process over a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from assistant.accounts import AuthError, authenticate, create_user
from assistant.signin_limits import FREE_FAILURES
from comply import audit
from comply.db import connect

PASSWORD = "S3cure-pass-2030"


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
    weak = run("add", "alice", "--role", "marketer", "--clearance", "公开", "--password-stdin", stdin="admin123\n")
    assert weak.returncode == 1 and "至少 12 个字符" in weak.stderr
    assert "已存在" in run("add", "admin", "--role", "admin", "--clearance", "秘密", "--password-stdin",
                           stdin=PASSWORD + "\n").stderr
    bad_level = run("add", "bob", "--role", "marketer", "--clearance", "绝密", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad_level.returncode == 2 and "未知密级" in bad_level.stderr
    assert run("add", "alice", "--role", "marketer", "--clearance", "内部", "--password-stdin",
               stdin="Marketing-pass-1\n").returncode == 0
    assert run("update", "alice", "--disable", "--clearance", "公开").returncode == 0
    assert run("passwd", "alice", "--password-stdin", stdin="Marketing-pass-2\n").returncode == 0
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
        assert _fail(con, "alice", "Marketing-pass-2", datetime.now(UTC)).kind == "disabled"
        assert [a for a, _, _ in _actions(con)] == ["user.create", "user.create", "user.update", "user.password",
                                                    "auth.ok", "auth.fail"]
        assert audit.verify(con).ok
    finally:
        con.close()


@pytest.mark.integration
def test_cli_unlock_ends_a_back_off_and_is_audited(small_kb):
    settings, con = small_kb
    create_user(con, "admin", PASSWORD, "admin", 2)
    for _ in range(FREE_FAILURES):
        with pytest.raises(AuthError):
            authenticate(con, "admin", "wrong-password-1", source="attacker")
    with pytest.raises(AuthError, match="联系管理员"):
        authenticate(con, "admin", PASSWORD, source="owner-phone")
    con.close()
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}
    out = subprocess.run([sys.executable, "-m", "cli", "users", "unlock", "admin", "--actor", "root"], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert f"已解除用户 admin 的登录限制（清除失败登录 {FREE_FAILURES} 次）" in out.stdout
    unknown = subprocess.run([sys.executable, "-m", "cli", "users", "unlock", "ghost"], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert unknown.returncode == 1 and "不存在" in unknown.stderr
    con = connect(settings.db_path)
    try:
        assert authenticate(con, "admin", PASSWORD, source="owner-phone").username == "admin"
        assert ("user.unlock", "root", "admin") in _actions(con)
        assert audit.verify(con).ok
    finally:
        con.close()
