"""Reading JSONL: datasets (evaluation sets, labelled examples) parsed whole, errors naming the line; and batches
(``comply review --drafts``, batch-review jobs) checked line by line, a bad line refused on its own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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


_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line of a batch: its number, its item's id and text, or why it was refused."""

    line: int
    id: object = None
    text: str = ""
    error: str = ""


def batch_lines(lines: Iterable[bytes], field: str) -> Iterator[BatchLine]:
    """The non-blank lines (raw bytes, a BOM allowed on the first), each checked on its own: UTF-8, a JSON object
    without lone surrogates, whose ``field`` is a non-empty string."""
    for n, raw in enumerate(lines, start=1):
        if n == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if raw.strip():
            yield _check(n, raw, field)


def _check(n: int, raw: bytes, field: str) -> BatchLine:
    try:
        item = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return BatchLine(n, error="不是 UTF-8 编码的文本")
    except json.JSONDecodeError as exc:
        return BatchLine(n, error=f"不是有效的 JSON（第 {exc.colno} 列：{exc.msg}）")
    if not isinstance(item, dict):
        return BatchLine(n, error=f"应为 JSON 对象，实际是{kind_name(item)}")
    if _SURROGATE.search(json.dumps(item, ensure_ascii=False)):
        return BatchLine(n, error="含无效的 Unicode 字符（孤立的代理码位）")
    item_id, value = item.get("id"), item.get(field)
    if value is None:
        return BatchLine(n, item_id, error=f"缺少 {field} 字段" if field not in item else f"{field} 字段为空（null）")
    if not isinstance(value, str):
        return BatchLine(n, item_id, error=f"{field} 字段应为字符串，实际是{kind_name(value)}")
    if not value.strip():
        return BatchLine(n, item_id, error=f"{field} 字段为空")
    return BatchLine(n, item_id, value)


def kind_name(value: object) -> str:
    """The Chinese name of a JSON value's kind (for messages)."""
    names = {bool: "布尔值", int: "数字", float: "数字", str: "字符串", list: "数组", dict: "对象"}
    return names.get(type(value), "null")
