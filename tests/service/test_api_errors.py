"""The API's refusals are in Chinese and name the field; a refused value is never sent back."""

from __future__ import annotations


def test_validation_errors_name_the_field_in_chinese_without_echoing_the_value(api) -> None:
    response = api.client.post("/v1/search", json={"query": 12, "k": "many"}, headers=api.auth("comp_public"))
    assert response.status_code == 422
    detail = {tuple(d["loc"]): d for d in response.json()["detail"]}
    assert detail[("body", "query")]["msg"] == "应为字符串" and detail[("body", "k")]["msg"] == "应为整数"
    secret = "Very-secret-password-2031" * 20
    weak = api.client.post("/v1/users", json={"username": "x", "password": secret, "role": "compliance", "clearance": 9},
                           headers=api.auth("admin1"))
    assert weak.status_code == 422 and secret not in weak.text and "input" not in weak.json()["detail"][0]
    broken = api.client.post("/v1/search", content=b"{not json", headers={**api.auth("comp_public"), "content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["detail"][0]["msg"] == "不是合法的 JSON"


def test_unknown_routes_and_methods_are_answered_in_chinese(api) -> None:
    assert api.client.get("/v1/nothing-here", headers=api.auth("admin1")).json() == {"detail": "没有这个接口或对象"}
    assert api.client.get("/v1/search", headers=api.auth("admin1")).json() == {"detail": "此接口不支持该请求方法"}
    missing = api.client.get("/v1/jobs/job-none", headers=api.auth("admin1"))
    assert missing.status_code == 404 and missing.json()["detail"] == "没有任务 job-none"
