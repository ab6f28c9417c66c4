"""The service's ASGI app on a knowledge base of its own (two public regulations, an internal and a secret policy, a
secret case), driven in-process by Starlette's TestClient, with one API token per kind of user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest
from fastapi.testclient import TestClient

from assistant.accounts import create_user
from assistant.tokens import create_token
from comply.config import Settings
from service.app import create_app

LOCAL_TOKEN = "cml_test-local-token"
PASSWORD = "Unusual-pass-2031!"
# user name → (role, clearance)
USERS = {"admin1": ("admin", 2), "comp_public": ("compliance", 0), "comp_secret": ("compliance", 2),
         "mkt_internal": ("marketer", 1), "eval_public": ("evaluator", 0)}


@dataclass
class Api:
    """A started service app, its settings and database, and a token per user of :data:`USERS`."""

    client: TestClient
    settings: Settings
    con: duckdb.DuckDBPyConnection
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        """The Authorization header of a user's token (``local``: the service's own token for the command line)."""
        token = LOCAL_TOKEN if user == "local" else self.tokens[user]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def api(leveled_kb: tuple[Settings, duckdb.DuckDBPyConnection]) -> Iterator[Api]:
    """The service (no LLM, no practical rate limit) over ``leveled_kb``, with the users of :data:`USERS` and a token each."""
    settings, con = leveled_kb
    settings = settings.model_copy(update={"llm_mode": "off", "service_rate_per_min": 100_000})  # tests call in bursts
    tokens = {}
    for name, (role, clearance) in USERS.items():
        create_user(con, name, PASSWORD, role, clearance, actor="test")
        tokens[name] = create_token(con, name, f"{name}-test", 30, actor="test")[0]
    with TestClient(create_app(settings, LOCAL_TOKEN, llm=False)) as client:
        yield Api(client, settings, con, tokens)
