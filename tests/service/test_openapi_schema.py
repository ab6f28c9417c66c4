"""The API's OpenAPI schema is committed (``service/openapi.json``): a change to the API is a reviewed change to it."""

from __future__ import annotations

import json

from service.openapi import COMMITTED, schema_text


def test_the_live_schema_is_the_committed_one() -> None:
    live = schema_text()
    assert live == COMMITTED.read_text(encoding="utf-8"), (
        "the API changed: review the difference and regenerate with `.venv/bin/python -m service.openapi > service/openapi.json`")


def test_every_v1_operation_is_authenticated_and_documented() -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    v1 = [(p, m, op) for p, m, op in operations if p.startswith("/v1/")]
    assert len(v1) >= 25
    for path, method, op in v1:
        assert op.get("summary") and op.get("security") == [{"bearerToken": []}], (method, path)
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert {p for p, _, _ in operations} >= {"/healthz", "/readyz", "/v1/search", "/v1/ask", "/v1/review", "/v1/jobs/review",
                                               "/v1/documents", "/v1/audit/verify", "/v1/tokens", "/v1/users"}
