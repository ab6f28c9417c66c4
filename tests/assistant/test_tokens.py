"""API tokens: stored only as a hash, acting as their user while the user is enabled and the token active."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assistant.accounts import create_user, update_user
from assistant.tokens import PREFIX, create_token, digest, list_tokens, resolve_token, revoke_token

PASSWORD = "Tidy-lantern-2031"


@pytest.fixture()
def con(small_kb):
    _, con = small_kb
    create_user(con, "alice", PASSWORD, "compliance", 1, actor="test")
    return con


def test_a_token_is_stored_hashed_and_acts_as_its_user(con) -> None:
    token, info = create_token(con, "alice", "oa-workflow", 30, actor="admin")
    assert token.startswith(PREFIX) and len(token) > 40
    stored = con.execute("SELECT token_sha256 FROM api_tokens").fetchall()
    assert stored == [(digest(token),)] and token not in str(con.execute("SELECT * FROM api_tokens").fetchall())
    assert token not in str(con.execute("SELECT detail FROM audit_log").fetchall())
    user, found = resolve_token(con, token)
    assert (user.username, user.clearance, found.token_id) == ("alice", 1, info.token_id)
    assert resolve_token(con, token + "x") is None and resolve_token(con, "Bearer " + token) is None


def test_revoked_expired_or_disabled_tokens_authenticate_nobody(con) -> None:
    revoked, info = create_token(con, "alice", "a", 30)
    revoke_token(con, info.token_id, actor="admin")
    assert resolve_token(con, revoked) is None
    expired, info = create_token(con, "alice", "b", 1)
    con.execute("UPDATE api_tokens SET expires_at = expires_at - ? WHERE token_id = ?", [timedelta(days=2), info.token_id])
    assert resolve_token(con, expired) is None
    live, _ = create_token(con, "alice", "c", 0)  # never expires
    assert resolve_token(con, live) is not None
    update_user(con, "alice", disabled=True, actor="admin")
    assert resolve_token(con, live) is None
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log WHERE action LIKE 'token.%' ORDER BY seq").fetchall()]
    assert actions == ["token.create", "token.revoke", "token.create", "token.create"]


def test_names_are_unique_among_a_users_active_tokens_and_bad_input_is_refused(con) -> None:
    create_token(con, "alice", "crm", 30)
    with pytest.raises(ValueError, match="同名|名为 crm"):
        create_token(con, "alice", "crm", 30)
    for bad in ({"username": "nobody"}, {"name": "has space"}, {"days": 4000}, {"days": -1}):
        with pytest.raises(ValueError):
            create_token(con, **{"username": "alice", "name": "x", "days": 30, **bad})
    assert [t.name for t in list_tokens(con, "alice")] == ["crm"]
    with pytest.raises(LookupError):
        revoke_token(con, "no-such-id")
