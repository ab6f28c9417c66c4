"""Administration over the API: documents (upload at a level, paths on this machine, listing, hold queue, level,
delete, rebuild), the audit chain, users and tokens; held to roles (403) and to clearance (404 / 403)."""

from __future__ import annotations

import re

import io
import zipfile
from pathlib import Path


PASSWORD = "Unusual-pass-2031!"
RULE = "# 衡岳证券客户回访规定\n\n第一条 营销人员完成客户回访后，应当在两个工作日内填写翠微回访记录表。\n\n第二条 回访记录由合规部抽查。\n"


def _titles(api, user: str, query: str) -> list[str]:
    response = api.client.post("/v1/search", json={"query": query, "k": 10, "mode": "bm25"}, headers=api.auth(user))
    assert response.status_code == 200
    return [h["doc_title"] for h in response.json()["hits"]]


def _documents(api, user: str, *states: str, clearance: int | None = None) -> list[dict]:
    params = {"state": list(states)} | ({} if clearance is None else {"clearance": clearance})
    response = api.client.get("/v1/documents", params=params, headers=api.auth(user))
    assert response.status_code == 200
    return response.json()["documents"]


def _new_admin(api, username: str, clearance: int) -> dict[str, str]:
    """An administrator created over the API, and the header of a token made for them over the API."""
    body = {"username": username, "password": PASSWORD, "role": "admin", "clearance": clearance}
    assert api.client.post("/v1/users", json=body, headers=api.auth("admin1")).status_code == 201
    made = api.client.post("/v1/tokens", json={"user": username, "name": f"{username}-api", "days": 7},
                           headers=api.auth("admin1"))
    assert made.status_code == 201
    return {"Authorization": f"Bearer {made.json()['token']}"}


def test_an_upload_at_internal_is_searchable_only_within_clearance(api, tmp_path: Path) -> None:
    path = tmp_path / "衡岳证券客户回访规定.md"
    path.write_text(RULE, encoding="utf-8")
    with path.open("rb") as f:
        response = api.client.post("/v1/documents", files=[("files", (path.name, f, "text/markdown"))], data={"level": "内部"},
                                   headers=api.auth("admin1"))
    assert response.status_code == 200
    report = response.json()
    assert report["index_version"] is not None
    [result] = report["files"]
    assert result["status"] == "added" and result["path"] == path.name and result["chunks"] == 2
    assert "衡岳证券客户回访规定" in _titles(api, "comp_secret", "翠微回访记录表")
    assert "衡岳证券客户回访规定" not in _titles(api, "comp_public", "翠微回访记录表")
    listed = {d["doc_key"]: d for d in _documents(api, "admin1", "live")}
    assert listed["衡岳证券客户回访规定"]["level"] == "内部" and "内部合规手册" in listed
    assert {d["doc_key"] for d in _documents(api, "admin1", clearance=0)} == {"证券公司监督管理条例", "中华人民共和国广告法"}

    # the command line on this machine may ingest paths; an API token may not, even an administrator's
    other = tmp_path / "paths" / "衡岳证券投诉处理规定.md"
    other.parent.mkdir()
    other.write_text("# 衡岳证券投诉处理规定\n\n第一条 投诉应当在五个工作日内答复。\n", encoding="utf-8")
    body = {"paths": [str(other.parent)], "level": 0}
    refused = api.client.post("/v1/documents/paths", json=body, headers=api.auth("admin1"))
    assert refused.status_code == 403 and "本机命令行" in refused.json()["detail"]
    missing = api.client.post("/v1/documents/paths", json={"paths": [str(tmp_path / "无此文件.md")]}, headers=api.auth("local"))
    assert missing.status_code == 422 and "无此文件.md" in str(missing.json()["detail"])
    done = api.client.post("/v1/documents/paths", json={**body, "user": "ops"}, headers=api.auth("local"))
    assert done.status_code == 200 and [f["status"] for f in done.json()["files"]] == ["added"]
    assert "衡岳证券投诉处理规定" in _titles(api, "comp_public", "投诉答复")
    actors = dict(api.con.execute("SELECT target, actor FROM audit_log WHERE action = 'doc.add'").fetchall())
    assert actors[result["doc_id"]] == "admin1" and actors[done.json()["files"][0]["doc_id"]] == "ops"


def test_an_administrator_below_secret_never_sees_nor_touches_the_secret_policy(api, tmp_path: Path) -> None:
    public_admin = _new_admin(api, "admin_public", 0)
    secret = next(d for d in _documents(api, "admin1") if d["doc_key"] == "内部合规手册")
    listing = api.client.get("/v1/documents", headers=public_admin)
    assert listing.status_code == 200
    titles = {d["doc_key"] for d in listing.json()["documents"]}
    assert titles == {"证券公司监督管理条例", "中华人民共和国广告法"}
    for method, url, body in [("POST", f"/v1/documents/{secret['doc_id']}/approve", None),
                              ("POST", f"/v1/documents/{secret['doc_id']}/reject", {"reason": "试探"}),
                              ("DELETE", f"/v1/documents/{secret['doc_id']}", None),
                              ("POST", f"/v1/documents/{secret['doc_id']}/level", {"level": 0}),
                              ("POST", "/v1/documents/case-secret-1/level", {"level": 0})]:
        response = api.client.request(method, url, json=body, headers=public_admin)
        assert response.status_code == 404, url
        assert "内部合规手册" not in response.text
    # nobody classifies, grants or hands out a token above their own clearance
    path = tmp_path / "新规.md"
    path.write_text("# 新规\n\n第一条 测试。\n", encoding="utf-8")
    upload = api.client.post("/v1/documents", files={"files": (path.name, path.read_bytes())}, data={"level": "2"},
                             headers=public_admin)
    assert upload.status_code == 403 and "秘密" in upload.json()["detail"]
    body = {"username": "spy", "password": PASSWORD, "role": "compliance", "clearance": 2}
    assert api.client.post("/v1/users", json=body, headers=public_admin).status_code == 403
    assert api.client.patch("/v1/users/comp_public", json={"clearance": 1}, headers=public_admin).status_code == 403
    # nor sees, changes, disables or hands out or revokes tokens of an account above it: as if it were absent
    assert "comp_secret" not in {u["username"] for u in api.client.get("/v1/users", headers=public_admin).json()["users"]}
    assert {t["user"] for t in api.client.get("/v1/tokens", headers=public_admin).json()["tokens"]} <= {
        "comp_public", "eval_public", "admin_public"}
    secret_token = next(t["token_id"] for t in api.client.get("/v1/tokens", headers=api.auth("admin1")).json()["tokens"]
                        if t["user"] == "comp_secret")
    for method, url, body in [("POST", "/v1/tokens", {"user": "comp_secret"}),
                              ("PATCH", "/v1/users/comp_secret", {"clearance": 0}),
                              ("PATCH", "/v1/users/admin1", {"disabled": True}),
                              ("DELETE", f"/v1/tokens/{secret_token}", None)]:
        response = api.client.request(method, url, json=body, headers=public_admin)
        assert response.status_code == 404, (method, url, response.text)
    assert api.client.post("/v1/search", json={"query": "客户资产"}, headers=api.auth("comp_secret")).status_code == 200
    # the audit export at public clearance holds no secret title
    export = api.client.get("/v1/audit/export", headers=public_admin)
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as bundle:
        rows = bundle.read("audit_log.csv").decode("utf-8")
    assert "doc.add" in rows and "内部合规手册" not in rows


def test_roles_without_the_pages_are_refused_and_users_and_tokens_are_managed(api) -> None:
    for user in ("comp_secret", "mkt_internal"):
        for method, url in [("GET", "/v1/documents"), ("POST", "/v1/documents/paths"), ("POST", "/v1/index/rebuild"),
                            ("GET", "/v1/audit/verify"), ("GET", "/v1/audit/export"), ("GET", "/v1/users"),
                            ("GET", "/v1/tokens"), ("POST", "/v1/tokens")]:
            response = api.client.request(method, url, json={}, headers=api.auth(user))
            assert response.status_code == 403, (user, url)
        files = {"files": ("a.md", b"# a\n\nfirst")}
        assert api.client.post("/v1/documents", files=files, headers=api.auth(user)).status_code == 403

    admin = api.auth("admin1")
    weak = api.client.post("/v1/users", json={"username": "newbie", "password": "123", "role": "compliance", "clearance": 0},
                           headers=admin)
    assert weak.status_code == 422 and "密码" in weak.json()["detail"]
    made = api.client.post("/v1/users", json={"username": "newbie", "password": PASSWORD, "role": "compliance",
                                              "clearance": "内部", "display_name": "新同事"}, headers=admin)
    assert made.status_code == 201 and made.json()["clearance"] == 1
    users = api.client.get("/v1/users", headers=admin)
    assert "newbie" in {u["username"] for u in users.json()["users"]}
    assert "hash" not in users.text and "argon2" not in users.text
    changed = api.client.patch("/v1/users/newbie", json={"role": "marketer"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["role"] == "marketer"
    assert api.client.patch("/v1/users/nobody", json={"role": "marketer"}, headers=admin).status_code == 404
    assert api.client.patch("/v1/users/newbie", json={"role": "boss"}, headers=admin).status_code == 422
    rows = api.con.execute("SELECT actor, action FROM audit_log WHERE target = 'newbie' ORDER BY seq").fetchall()
    assert rows == [("admin1", "user.create"), ("admin1", "user.update")]

    token = api.client.post("/v1/tokens", json={"user": "newbie", "name": "newbie-api", "days": 7}, headers=admin)
    assert token.status_code == 201
    header = {"Authorization": f"Bearer {token.json()['token']}"}
    assert api.client.post("/v1/cases/search", json={"query": "承诺收益"}, headers=header).status_code == 200
    listed = api.client.get("/v1/tokens", params={"user": "newbie"}, headers=admin)
    assert [t["token_id"] for t in listed.json()["tokens"]] == [token.json()["token_id"]]
    assert token.json()["token"] not in listed.text and "sha256" not in listed.text
    assert api.client.delete(f"/v1/tokens/{token.json()['token_id']}", headers=admin).json()["active"] is False
    assert api.client.post("/v1/cases/search", json={"query": "承诺收益"}, headers=header).status_code == 401
    assert api.client.delete("/v1/tokens/no-such-token", headers=admin).status_code == 404
    # the command line on this machine names who is recorded; an API token cannot
    by_cli = api.client.post("/v1/tokens", json={"user": "newbie", "actor": "ops"}, headers=api.auth("local")).json()
    mine = api.client.post("/v1/tokens", json={"user": "newbie", "name": "mine", "actor": "ops", "days": 7}, headers=admin)
    assert mine.status_code == 201
    # a token made with a token never outlives it (admin1's lasts 30 days): a stolen one cannot renew itself
    for days in (0, 31):
        longer = api.client.post("/v1/tokens", json={"user": "newbie", "name": f"long-{days}", "days": days}, headers=admin)
        assert longer.status_code == 403 and re.search(r"最多 (29|30) 天", longer.json()["detail"])
    actors = dict(api.con.execute("SELECT target, actor FROM audit_log WHERE action = 'token.create'").fetchall())
    assert actors[by_cli["token_id"]] == "ops" and actors[token.json()["token_id"]] == "admin1"
    assert sorted(actors.values()).count("admin1") == 2

    verify = api.client.get("/v1/audit/verify", headers=admin)
    assert verify.status_code == 200 and verify.json()["ok"] is True and verify.json()["rows"] > 0
    sealed = api.client.get("/v1/audit/verify", params={"seal": "true"}, headers=admin).json()
    assert sealed["ok"] is True and sealed["checkpoints"] > verify.json()["checkpoints"]
    export = api.client.get("/v1/audit/export", headers=admin)
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(export.content)) as bundle:
        assert {"audit_log.csv", "audit_checkpoints.jsonl", "verify.json"} <= set(bundle.namelist())
        assert "token.revoke" in bundle.read("audit_log.csv").decode("utf-8")


def test_the_hold_queue_levels_deletion_and_bad_uploads(api, tmp_path: Path) -> None:
    admin = api.auth("admin1")
    flagged = ("客户回访制度.md", "# 客户回访制度\n\n第一条 回访记录严禁外传。\n".encode())
    held = api.client.post("/v1/documents", files=[("files", flagged)], headers=admin).json()["files"][0]
    assert held["status"] == "held"
    assert [d["doc_id"] for d in _documents(api, "admin1", "held")] == [held["doc_id"]]
    approved = api.client.post(f"/v1/documents/{held['doc_id']}/approve", headers=admin)
    assert approved.status_code == 200 and approved.json()["index_version"] is not None
    again = api.client.post(f"/v1/documents/{held['doc_id']}/approve", headers=admin)
    assert again.status_code == 409 and "待审" in again.json()["detail"]
    assert "客户回访制度" in _titles(api, "comp_public", "回访记录")

    raised = api.client.post(f"/v1/documents/{held['doc_id']}/level", json={"level": "秘密"}, headers=admin)
    assert raised.status_code == 200 and raised.json()["level"] == 2
    assert "客户回访制度" not in _titles(api, "comp_public", "回访记录")
    bad_level = api.client.post(f"/v1/documents/{held['doc_id']}/level", json={"level": 7}, headers=admin)
    assert bad_level.status_code == 422 and "密级" in bad_level.text
    deleted = api.client.delete(f"/v1/documents/{held['doc_id']}", headers=admin)
    assert deleted.status_code == 200 and "客户回访制度" not in _titles(api, "comp_secret", "回访记录")

    second = ("营销宣传规定.md", "# 营销宣传规定\n\n第一条 宣传材料严禁外传。\n".encode())
    doc_id = api.client.post("/v1/documents", files=[("files", second)], headers=admin).json()["files"][0]["doc_id"]
    rejected = api.client.post(f"/v1/documents/{doc_id}/reject", json={"reason": "内容不完整"}, headers=admin)
    assert rejected.status_code == 200 and _documents(api, "admin1", "rejected")[0]["doc_id"] == doc_id
    assert api.client.post("/v1/documents/doc-unknown/approve", headers=admin).status_code == 404
    rebuilt = api.client.post("/v1/index/rebuild", headers=admin)
    assert rebuilt.status_code == 200 and rebuilt.json()["index_version"] is not None

    # a hidden or path-laden name, an unknown state, an over-large file: refused, nothing ingested
    for name in (".bashrc", "../../.ssh"):
        response = api.client.post("/v1/documents", files=[("files", (name, b"# x\n\nfirst"))], headers=admin)
        assert response.status_code == 422 and "文件名" in response.text
    sneaky = api.client.post("/v1/documents", files=[("files", ("../../etc/守则.md", "# 守则\n\n第一条 测试。\n".encode()))],
                             headers=admin)
    assert sneaky.status_code == 200 and sneaky.json()["files"][0]["path"] == "守则.md"
    assert api.client.get("/v1/documents", params={"state": "gone"}, headers=admin).status_code == 422
    resources = api.client.app.state.service.resources
    resources.settings = resources.settings.model_copy(update={"max_file_mb": 0.001})
    big = api.client.post("/v1/documents", files=[("files", ("大文件.md", ("第一条 " + "长" * 2000).encode()))], headers=admin)
    assert big.status_code == 413 and "大文件.md" in big.json()["detail"]
    assert not any(d["doc_key"] == "大文件" for d in _documents(api, "admin1"))
