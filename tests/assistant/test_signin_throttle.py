"""Sign-in limits: an attacker cannot keep the owner out, one source is held back across all names, the
administrator's unlock, and logs that do not grow with every guess (issue 16, items 13 and 17)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from assistant.accounts import AuthError, authenticate, create_user, unlock_user
from assistant.signin_limits import BACKOFF_BASE, FREE_FAILURES, SOURCE_WINDOW
from comply import audit
from comply.db import connect

PASSWORD = "Owner-pass-2030"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture()
def con(tmp_path):
    con = connect(tmp_path / "data" / "comply.duckdb")
    create_user(con, "admin", PASSWORD, "admin", 2)
    yield con
    con.close()


def _try(con, username: str, password: str, source: str, now: datetime) -> AuthError | None:
    try:
        authenticate(con, username, password, source=source, now=now)
    except AuthError as exc:
        return exc
    return None


def _rows(con, action: str) -> list[dict]:
    return [json.loads(d) for (d,) in con.execute(
        "SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = ? ORDER BY seq", [action]).fetchall()]


def test_an_attacker_elsewhere_cannot_keep_the_owner_out(con):
    """Five wrong passwords each time the back-off ends; the owner's known device gets in every time."""
    assert _try(con, "admin", PASSWORD, "owner-laptop", T0) is None  # the laptop becomes a known-good source
    now, owner_ok = T0 + timedelta(minutes=1), 0
    for _ in range(8):
        for _ in range(FREE_FAILURES):
            error = _try(con, "admin", "guess-wrong-pass", "attacker", now)
            now = max(now, error.until or now) + timedelta(seconds=1)
        owner_ok += _try(con, "admin", PASSWORD, "owner-laptop", now) is None
        now += timedelta(seconds=1)
    assert owner_ok == 8


def test_an_unknown_device_waits_until_an_administrator_unlocks_the_account(con):
    for i in range(FREE_FAILURES):
        _try(con, "admin", "guess-wrong-pass", "attacker", T0 + timedelta(seconds=i))
    phone = _try(con, "admin", PASSWORD, "owner-phone", T0 + timedelta(seconds=10))
    assert phone is not None and phone.kind == "locked" and "联系管理员" in str(phone)
    assert unlock_user(con, "admin", actor="root", now=T0 + timedelta(seconds=11)) == FREE_FAILURES
    assert _try(con, "admin", PASSWORD, "owner-phone", T0 + timedelta(seconds=12)) is None
    assert _rows(con, "user.unlock") == [{"failures_cleared": FREE_FAILURES}]
    with pytest.raises(ValueError, match="不存在"):
        unlock_user(con, "ghost", actor="root")
    assert audit.verify(con).ok


def test_one_source_is_held_back_across_all_names_and_cannot_tell_real_names_from_unknown_ones(con):
    for n, name in enumerate(("alice", "bob", "carol", "dave", "erin")):
        create_user(con, name, f"Sprayed-Pass-{n}-2030", "compliance", 0)
    real = [_try(con, name, "wrong-password-1", "sprayer", T0 + timedelta(seconds=i)).kind
            for i, name in enumerate(["alice", "bob", "carol", "dave", "erin", "admin"])]
    later = T0 + timedelta(hours=1)
    unknown = [_try(con, name, "wrong-password-1", "sprayer-2", later + timedelta(seconds=i)).kind
               for i, name in enumerate(["ann", "ben", "cid", "dan", "eve", "fay"])]
    assert real == unknown == ["invalid"] * 4 + ["locked"] * 2
    # the sixth guess was refused unchecked: the right password from that source waits too, elsewhere it works
    assert _try(con, "admin", PASSWORD, "sprayer", T0 + timedelta(seconds=6)).kind == "locked"
    assert _try(con, "admin", PASSWORD, "office-pc", T0 + timedelta(seconds=6)) is None
    # once the back-off has passed the source may try again
    assert _try(con, "admin", PASSWORD, "sprayer", T0 + timedelta(seconds=4) + BACKOFF_BASE) is None


def test_unknown_names_are_summed_per_source_and_window(con):
    """200 guesses on names that are no account from one source: no attempt rows, two audit rows, then one burst."""
    start = T0 + timedelta(minutes=1)
    for i in range(200):
        _try(con, f"nobody{i}", "wrong-password-1", "bot", start + timedelta(seconds=i))
    for i in range(3):
        _try(con, "ghost", "wrong-password-1", "bot-2", start + timedelta(seconds=i))
    assert con.execute("SELECT count(*) FROM login_attempts").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM signin_windows").fetchone()[0] == 2
    fails = _rows(con, "auth.fail")
    assert [f["reason"] for f in fails] == ["unknown_user", "locked", "unknown_user"], "the first of each kind per source"
    assert _rows(con, "auth.failed_burst") == []  # the window is still open
    assert _try(con, "admin", PASSWORD, "owner-laptop", start + SOURCE_WINDOW) is None  # any sign-in writes closed windows
    ghost, bot = sorted(_rows(con, "auth.failed_burst"), key=lambda b: b["unknown_user"] + b["refused"])
    assert (ghost["unknown_user"], ghost["refused"]) == (3, 0)
    assert bot["unknown_user"] + bot["refused"] == 200 and bot["unknown_user"] < 2 * FREE_FAILURES, "the back-off held it"
    assert bot["window_start"] == "2030-01-01T09:00:00+00:00" and bot["first_audited_singly"]
    _try(con, "admin", PASSWORD, "owner-laptop", start + 2 * SOURCE_WINDOW)
    assert len(_rows(con, "auth.failed_burst")) == 2, "each window is summed once"
    assert audit.verify(con).ok


def test_sources_are_kept_only_as_hashes(con):
    _try(con, "admin", PASSWORD, "10.1.2.3", T0)
    _try(con, "admin", "wrong-password-1", "10.1.2.3", T0)
    _try(con, "nobody", "wrong-password-1", "10.9.9.9", T0)
    dump = " ".join(str(r) for table in ("login_attempts", "signin_sources", "signin_windows", "audit_log")
                    for r in con.execute(f"SELECT * FROM {table}").fetchall())
    assert "10.1.2.3" not in dump and "10.9.9.9" not in dump
    assert con.execute("SELECT count(*) FROM signin_sources").fetchone()[0] == 1
