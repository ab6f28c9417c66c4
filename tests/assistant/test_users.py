"""Accounts: argon2id hashes, the password policy, sign-in back-off without user enumeration, roles and pages, audit."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from assistant.accounts import (
    PAGES,
    ROLES,
    AuthError,
    User,
    authenticate,
    can,
    create_user,
    get_user,
    list_users,
    set_password,
    update_user,
)
from assistant.signin_limits import BACKOFF_BASE, BACKOFF_MAX, RETENTION
from comply import audit
from comply.db import connect

PASSWORD = "S3cure-pass-2030"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture()
def con(tmp_path):
    con = connect(tmp_path / "data" / "comply.duckdb")
    yield con
    con.close()


def _hash(con, username: str) -> str:
    return con.execute("SELECT password_hash FROM users WHERE username = ?", [username]).fetchone()[0]


def _actions(con) -> list[tuple[str, str, str | None]]:
    return con.execute("SELECT action, actor, target FROM audit_log ORDER BY seq").fetchall()


def _fail(con, username: str, password: str, now: datetime) -> AuthError:
    with pytest.raises(AuthError) as info:
        authenticate(con, username, password, now=now)
    return info.value


def test_hashes_are_argon2id_salted_and_never_contain_the_password(con):
    a = create_user(con, "alice", PASSWORD, "compliance", 1, display_name="张三")
    create_user(con, "bob", PASSWORD, "marketer", 0)
    ha, hb = _hash(con, "alice"), _hash(con, "bob")
    assert ha != hb  # same password, different salts
    for h in (ha, hb):
        assert h.startswith("$argon2id$") and PASSWORD not in h
        assert extract_parameters(h).type is Type.ID
    assert a == User("alice", "张三", "compliance", 1, False) and a.role_name == "合规"
    assert get_user(con, "bob").display_name == "bob"  # defaults to the username
    assert [u.username for u in list_users(con)] == ["alice", "bob"]
    assert get_user(con, "nobody") is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"username": "alice"}, "已存在"),
        ({"role": "root"}, "未知角色"),
        ({"clearance": 3}, "密级超出范围"),
        ({"clearance": -1}, "密级超出范围"),
        ({"password": "short7!"}, "至少 12 个字符"),
        ({"username": "a"}, "用户名须为"),
        ({"username": "has space"}, "用户名须为"),
        ({"username": "x" * 33}, "用户名须为"),
        ({"username": "bob\n"}, "用户名须为"),
        ({"username": "张三"}, "用户名须为"),
    ],
)
def test_create_user_refuses_bad_input_in_chinese(con, kwargs, message):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    args = {"username": "carol", "password": PASSWORD, "role": "compliance", "clearance": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        create_user(con, **args)
    assert len(list_users(con)) == 1


def test_authenticate_ok_wrong_password_and_unknown_user_look_the_same(con):
    create_user(con, "alice", PASSWORD, "evaluator", 2)
    assert authenticate(con, "alice", PASSWORD, now=T0) == User("alice", "alice", "evaluator", 2)
    wrong = _fail(con, "alice", "not-the-password", T0)
    unknown = _fail(con, "mallory", PASSWORD, T0)
    assert (wrong.kind, str(wrong)) == (unknown.kind, str(unknown)) == ("invalid", "用户名或密码错误")
    # an unknown name is verified against a dummy hash: it takes about as long as a wrong password
    started = time.perf_counter()
    for _ in range(3):
        _fail(con, "alice", "not-the-password", T0 + timedelta(hours=1))
    t_wrong = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(3):
        _fail(con, "nobody-here", "not-the-password", T0 + timedelta(hours=1))
    t_unknown = time.perf_counter() - started
    assert t_unknown > 0.4 * t_wrong


def test_audit_rows_for_create_and_logins_without_the_password(con):
    create_user(con, "alice", PASSWORD, "compliance", 1, actor="root")
    authenticate(con, "alice", PASSWORD, now=T0)
    _fail(con, "alice", "wrong-password", T0)
    _fail(con, "ghost", "wrong-password", T0)
    assert _actions(con) == [
        ("user.create", "root", "alice"),
        ("auth.ok", "alice", "alice"),
        ("auth.fail", "alice", "alice"),
        ("auth.fail", "ghost", "ghost"),
    ]
    details = [json.loads(d) for (d,) in con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_log ORDER BY seq").fetchall()]
    assert details[0]["role"] == "compliance" and details[0]["clearance"] == "内部"
    assert [d["reason"] for d in details[1:]] == ["ok", "invalid", "unknown_user"]
    dump = " ".join(str(r) for r in con.execute("SELECT * FROM audit_log").fetchall())
    assert PASSWORD not in dump and "wrong-password" not in dump and "$argon2" not in dump
    report = audit.verify(con)
    assert report.ok and report.rows == 4


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_five_failures_start_a_back_off_that_doubles_and_is_the_same_for_unknown_names(con, username):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    kinds = [_fail(con, username, f"guess-{i}xx", T0 + timedelta(seconds=i)).kind for i in range(5)]
    assert kinds == ["invalid"] * 4 + ["locked"]  # the failure that starts the back-off says so
    last = T0 + timedelta(seconds=4)
    # while it lasts even the right password is refused, and the message says when to try again
    locked = _fail(con, username, PASSWORD, last + timedelta(seconds=1))
    assert locked.kind == "locked" and "登录失败次数过多" in str(locked)
    assert locked.until == last + BACKOFF_BASE
    assert f"{locked.until.astimezone():%Y-%m-%d %H:%M:%S}" in str(locked)
    # attempts refused during the back-off are not counted: they do not lengthen it
    _fail(con, username, "guess-again", last + BACKOFF_BASE - timedelta(seconds=1))
    after = last + BACKOFF_BASE
    # the next failure doubles the wait
    doubled = _fail(con, username, "guess-more", after)
    assert doubled.kind == "locked" and doubled.until == after + 2 * BACKOFF_BASE
    if username == "alice":
        assert authenticate(con, "alice", PASSWORD, now=after + 2 * BACKOFF_BASE).username == "alice"
    else:
        assert _fail(con, username, PASSWORD, after + 2 * BACKOFF_BASE).kind == "locked"  # the 7th failure: 2 minutes
    assert audit.verify(con).ok


def test_the_back_off_is_capped_and_failures_expire(con):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    now, waits = T0, []
    for _ in range(12):  # each guess as soon as the back-off allows
        error = _fail(con, "alice", "wrong-guess", now)
        if error.until is not None:
            waits.append(error.until - now)
            now = error.until
    assert waits == [BACKOFF_BASE * 2**i for i in range(5)] + [BACKOFF_MAX] * 3
    later = now + RETENTION + timedelta(seconds=1)  # failures older than the retention no longer count
    assert _fail(con, "alice", "wrong-guess", later).kind == "invalid"
    assert authenticate(con, "alice", PASSWORD, now=later).username == "alice"


def test_a_success_resets_the_count(con):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    for i in range(4):
        _fail(con, "alice", "wrong-guess", T0 + timedelta(hours=i))
    authenticate(con, "alice", PASSWORD, now=T0 + timedelta(hours=5))
    for i in range(4):
        assert _fail(con, "alice", "wrong-guess", T0 + timedelta(hours=6 + i)).kind == "invalid"
    assert authenticate(con, "alice", PASSWORD, now=T0 + timedelta(hours=11)).username == "alice"


def test_disabled_account_is_refused_and_enabling_restores_it(con):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    create_user(con, "root", PASSWORD, "admin", 2)
    user = update_user(con, "alice", disabled=True, actor="root")
    assert user.disabled and not can(user, "qa")
    error = _fail(con, "alice", PASSWORD, T0)
    assert error.kind == "disabled" and "停用" in str(error)
    assert _fail(con, "alice", "wrong-guess", T0).kind == "invalid"  # a wrong password does not reveal the state
    update_user(con, "alice", disabled=False, actor="root")
    assert authenticate(con, "alice", PASSWORD, now=T0 + timedelta(seconds=1)).username == "alice"


def test_update_and_password_changes_are_audited(con):
    create_user(con, "root", PASSWORD, "admin", 2)
    create_user(con, "alice", PASSWORD, "marketer", 0)
    user = update_user(con, "alice", role="compliance", clearance=1, display_name="李四", actor="root")
    assert user == User("alice", "李四", "compliance", 1) == get_user(con, "alice")
    old_hash = _hash(con, "alice")
    set_password(con, "alice", "n3w-password!!", actor="root")
    assert _hash(con, "alice") != old_hash
    _fail(con, "alice", PASSWORD, T0)
    assert authenticate(con, "alice", "n3w-password!!", now=T0).role == "compliance"
    rows = con.execute("SELECT action, actor, CAST(detail AS VARCHAR) FROM audit_log WHERE action LIKE 'user.%' ORDER BY seq").fetchall()
    assert [r[:2] for r in rows] == [("user.create", "cli"), ("user.create", "cli"), ("user.update", "root"), ("user.password", "root")]
    assert json.loads(rows[2][2]) == {"role": ["marketer", "compliance"], "clearance": ["公开", "内部"], "display_name": ["alice", "李四"]}
    assert "argon2" not in rows[3][2] and "n3w-password" not in rows[3][2]
    with pytest.raises(ValueError, match="不存在"):
        update_user(con, "ghost", role="admin", actor="root")
    with pytest.raises(ValueError, match="至少 12"):
        set_password(con, "alice", "short", actor="root")
    with pytest.raises(ValueError, match="管理员"):
        update_user(con, "root", disabled=True, actor="root")  # the last enabled administrator
    assert audit.verify(con).ok


def test_set_password_ends_a_back_off(con):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    for i in range(5):
        _fail(con, "alice", "wrong-guess", T0 + timedelta(hours=i))  # hours apart: the account's count, not the window's
    assert _fail(con, "alice", PASSWORD, T0 + timedelta(hours=4, seconds=10)).kind == "locked"
    set_password(con, "alice", "fresh-password", actor="root")
    assert authenticate(con, "alice", "fresh-password", now=T0 + timedelta(hours=4, seconds=11)).username == "alice"


def test_outdated_hash_parameters_are_upgraded_on_login(con):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    con.execute("UPDATE users SET password_hash = ? WHERE username = 'alice'", [weak])
    authenticate(con, "alice", PASSWORD, now=T0)
    upgraded = _hash(con, "alice")
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    detail = json.loads(con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'auth.ok'").fetchone()[0])
    assert detail["rehashed"] is True
    assert authenticate(con, "alice", PASSWORD, now=T0).username == "alice"


EXPECTED_PAGES = {
    "compliance": {"qa", "review", "batch", "review_feedback", "cases"},
    "marketer": {"review", "batch", "generate", "cases"},
    "evaluator": {"qa", "review", "batch", "review_feedback", "cases", "eval"},
    "admin": {"qa", "review", "batch", "review_feedback", "generate", "cases", "kb", "audit", "eval", "users"},
}


def test_pages_per_role():
    assert ROLES == {"compliance": "合规", "marketer": "营销", "evaluator": "评测", "admin": "管理员"}
    assert {role: set(pages) for role, pages in PAGES.items()} == EXPECTED_PAGES
    all_pages = EXPECTED_PAGES["admin"] | {"nonexistent"}
    for role, allowed in EXPECTED_PAGES.items():
        user = User("u1", "u1", role, 0)
        assert {page for page in all_pages if can(user, page)} == allowed
        assert not can(User("u1", "u1", role, 0, disabled=True), "review")
    assert not can(User("u1", "u1", "intruder", 2), "qa")


def test_parallel_guesses_cannot_pass_the_limit(con):
    """Eight sessions guessing at once: exactly five attempts are checked, the rest are refused unchecked."""
    create_user(con, "alice", PASSWORD, "compliance", 0)
    kinds: list[str] = []
    start = threading.Barrier(8)

    def guess(i: int) -> None:
        cur = con.cursor()
        try:
            start.wait()
            authenticate(cur, "alice", f"guess-{i}-xx", now=T0)
        except AuthError as exc:
            kinds.append(exc.kind)
        finally:
            cur.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(kinds) == ["invalid"] * 4 + ["locked"] * 4
    assert con.execute("SELECT count(*) FROM login_attempts WHERE NOT ok").fetchone()[0] == 5
    report = audit.verify(con)
    assert report.ok and report.rows == 1 + 5 + 1, "five failures, the first refusal; the other refusals are summed"


def test_oidc_sign_in_maps_a_linked_email_and_is_audited(tmp_path):
    from assistant.accounts import link_oidc, user_for_oidc

    con = connect(tmp_path / "oidc.duckdb")
    create_user(con, "alice", "Oidc-first-pass-1", "compliance", 1)
    create_user(con, "bob", "Oidc-second-pass-2", "marketer", 0)
    with pytest.raises(AuthError) as unlinked:
        user_for_oidc(con, "alice@firm.example")
    assert unlinked.value.kind == "invalid"
    link_oidc(con, "alice", "Alice@Firm.example", actor="admin")
    assert user_for_oidc(con, "alice@firm.example").username == "alice"
    with pytest.raises(ValueError, match="已关联其他账户"):
        link_oidc(con, "bob", "alice@firm.example", actor="admin")
    update_user(con, "alice", disabled=True, actor="admin")
    with pytest.raises(AuthError) as disabled:
        user_for_oidc(con, "alice@firm.example")
    assert disabled.value.kind == "disabled"
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
    assert actions.count("user.oidc") == 1 and "auth.ok" in actions and actions.count("auth.fail") == 2
    assert audit.verify(con).ok


@pytest.mark.parametrize(
    "password, message",
    [
        ("12345678", "至少 12 个字符"),
        ("password", "至少 12 个字符"),
        ("admin123", "至少 12 个字符"),
        ("administrator", "常见"),
        ("Password1234", "常见"),
        ("Welcome@2024!", "常见"),
        ("1qaz2wsx3edc", "常见"),
        ("carol-is-great", "用户名"),
        ("aaaaaaaaaaaa", "重复"),
        ("abcabcabcabc", "重复"),
        ("123456789012", "连续"),
        ("qwertyuiopas", "连续"),
        ("zyxwvutsrqpo", "连续"),
    ],
)
def test_weak_passwords_are_refused_on_create_and_on_change(con, password, message):
    create_user(con, "alice", PASSWORD, "compliance", 0)
    with pytest.raises(ValueError, match=message):
        create_user(con, "carol", password, "compliance", 0)
    with pytest.raises(ValueError, match=message):
        set_password(con, "alice", password.replace("carol", "alice"), actor="root")
    assert get_user(con, "carol") is None
    assert authenticate(con, "alice", PASSWORD, now=T0).username == "alice", "the old password still works"


def test_a_long_uncommon_password_is_accepted_and_the_common_list_ships_with_the_package(con):
    from importlib import resources

    assert create_user(con, "carol", "correct-horse-battery", "compliance", 0).username == "carol"
    listed = resources.files("assistant").joinpath("common_passwords.txt").read_text(encoding="utf-8").split()
    assert {"123456", "password", "admin123", "woaini1314"} <= set(listed)


def test_the_command_lines_name_is_reserved(small_kb):
    """``cli`` is who the command line records and the service's local operator: no account may take it."""
    _, con = small_kb
    for name in ("cli", "CLI"):
        with pytest.raises(ValueError, match="保留"):
            create_user(con, name, "Quiet-harbour-2031", "compliance", 0, actor="test")
