"""Who may call: a valid token acts as its user (401 without one), roles are held to their pages (403)."""

from __future__ import annotations

from assistant.accounts import update_user
from assistant.tokens import revoke_token, list_tokens


def test_no_token_or_a_bad_one_gets_401_and_a_valid_one_acts_as_its_user(api) -> None:
    body = {"query": "证券公司的客户资产"}
    assert api.client.post("/v1/search", json=body).status_code == 401
    bad = api.client.post("/v1/search", json=body, headers={"Authorization": "Bearer cmp_not-a-token"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")
    assert api.client.post("/v1/search", json=body, headers=api.auth("comp_public")).status_code == 200


def test_a_revoked_token_or_a_disabled_user_is_refused_at_once(api) -> None:
    body = {"query": "证券公司的客户资产"}
    assert api.client.post("/v1/search", json=body, headers=api.auth("comp_secret")).status_code == 200
    update_user(api.con, "comp_secret", disabled=True, actor="test")
    assert api.client.post("/v1/search", json=body, headers=api.auth("comp_secret")).status_code == 401
    token_id = list_tokens(api.con, "comp_public")[0].token_id
    revoke_token(api.con, token_id, actor="test")
    assert api.client.post("/v1/search", json=body, headers=api.auth("comp_public")).status_code == 401


def test_every_call_is_in_the_audit_chain_with_its_token_name(api) -> None:
    api.client.post("/v1/search", json={"query": "客户资产"}, headers=api.auth("comp_public"))
    api.client.app.state.service.calls.close()  # drain the writer
    rows = api.con.execute("SELECT actor, detail FROM audit_log WHERE action = 'api.call'").fetchall()
    assert any(actor == "comp_public" and "comp_public-test" in detail and "/v1/search" in detail for actor, detail in rows)
