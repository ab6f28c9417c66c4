"""Reading JSONL datasets (evaluation sets, labelled examples): one JSON object per line, each parsed into an item, errors naming the line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_jsonl(path: Path, parse: Callable[[dict, int], T]) -> list[T]:
    """Parse every non-blank line of ``path`` with ``parse(obj, line_number)``.

    Raises:
        ValueError: ``{path} 第 N 行格式错误：…`` for bad JSON or an item ``parse`` rejects
            (by raising KeyError, TypeError, AttributeError or ValueError).
    """
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(parse(json.loads(line), n))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"{path} 第 {n} 行格式错误：{exc}") from exc
    return items
