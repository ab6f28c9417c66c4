"""Clearance on the API: a 公开 token never receives 秘密 (or 内部) text through any endpoint, whatever it asks for.

Random queries cut from every chunk (secret ones included) go to every read endpoint, each asking for the highest
clearance; no answer may hold a sentence of a document or case above the token's clearance that the caller did
not send itself.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from support import INTERNAL_POLICY, SECRET_POLICY

pytestmark = pytest.mark.integration

SECRET_CASE = ["内部调查：营销人员违规承诺收益（青鸾计划）", "违反青鸾计划复核要求"]


def _sentences(policy: str) -> list[str]:
    """The policy's clauses as fragments long enough to be unmistakable."""
    body = [line.split(" ", 1)[-1] for line in policy.splitlines() if line.startswith("第")]
    return [p for line in body for p in re.split(r"[，。；]", line) if len(p) >= 8]


def _leaks(answer: str, sent: str, fragments: list[str]) -> list[str]:
    return [f for f in fragments if f in answer and f not in sent]


def _queries(api, n: int) -> list[str]:
    texts = [r[0] for r in api.con.execute("SELECT text FROM chunks").fetchall()]
    rng = random.Random(17)
    out = ["青鸾计划", "白鹭条款", "内部合规手册第二条", "员工执业行为守则第二条", "营销人员承诺保本保收益 青鸾计划"]
    for _ in range(n):
        text = rng.choice(texts)
        start = rng.randrange(max(1, len(text) - 20))
        out.append(text[start: start + rng.randint(4, 24)])
    return out


def _calls(query: str) -> list[tuple[str, dict]]:
    top = {"clearance": 2}
    return [
        ("/v1/search", {"query": query, "k": 10, "mode": "hybrid", **top}),
        ("/v1/search", {"query": query, "k": 10, "mode": "bm25", **top}),
        ("/v1/search/batch", {"queries": [{"id": "q", "query": query}], "k": 10, **top}),
        ("/v1/cases/search", {"query": query, "k": 10, **top}),
        ("/v1/ask", {"question": query, "no_llm": True, **top}),
        ("/v1/review", {"text": f"本产品保本保收益，稳赚不赔。{query}", "no_llm": True, **top}),
    ]


@pytest.mark.parametrize("user, above", [("comp_public", "secret+internal"), ("mkt_internal", "secret")])
def test_no_endpoint_returns_text_above_the_tokens_clearance(api, user: str, above: str) -> None:
    fragments = _sentences(SECRET_POLICY) + SECRET_CASE + (_sentences(INTERNAL_POLICY) if "internal" in above else [])
    headers = api.auth(user)
    checked = 0
    for query in _queries(api, 25):
        for path, body in _calls(query):
            response = api.client.post(path, json=body, headers=headers)
            if response.status_code == 403:  # the role has no such page (a marketer has no Q&A)
                continue
            assert response.status_code == 200, (path, response.text)
            assert not _leaks(response.text, json.dumps(body, ensure_ascii=False), fragments), (path, query)
            checked += 1
    # the streamed answer, too
    for query in ("青鸾计划的复核要求是什么？", "白鹭条款如何处理？"):
        with api.client.stream("POST", "/v1/ask", json={"question": query, "no_llm": True, "clearance": 2},
                               headers={**headers, "Accept": "text/event-stream"}) as response:
            text = response.read().decode("utf-8")
        if response.status_code != 403:
            assert response.status_code == 200 and not _leaks(text, query, fragments)
            checked += 1
    assert checked > 100


def test_the_secret_is_there_for_a_secret_token(api) -> None:
    """The check above is not vacuous: the same calls at 秘密 do return the secret clause and case."""
    hits = api.client.post("/v1/search", json={"query": "青鸾计划 复核代号", "k": 3}, headers=api.auth("comp_secret")).json()["hits"]
    assert any("双人复核" in h["text"] for h in hits)
    cases = api.client.post("/v1/cases/search", json={"query": "营销人员承诺保本保收益 青鸾计划"}, headers=api.auth("comp_secret"))
    assert "case-secret-1" in [c["case_id"] for c in cases.json()["cases"]]
    public = api.client.post("/v1/cases/search", json={"query": "营销人员承诺保本保收益 青鸾计划", "clearance": 2},
                             headers=api.auth("comp_public"))
    assert "case-secret-1" not in [c["case_id"] for c in public.json()["cases"]]
