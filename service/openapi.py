"""The API's OpenAPI schema as committed (``service/openapi.json``): ``python -m service.openapi > service/openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path

from comply.config import load_settings
from service.app import create_app

COMMITTED = Path(__file__).with_name("openapi.json")


def schema_text() -> str:
    """The live schema, as stable text (keys sorted, Chinese as is, a final newline)."""
    return json.dumps(create_app(load_settings()).openapi(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
