"""The JSONL batches of ``comply search --queries`` and ``comply review --drafts``: each line checked on its own.

A bad line (not UTF-8, not JSON, not an object, its text field missing, not a string or empty, a lone
surrogate anywhere) becomes one output line ``{"id", "line", "error"}`` (also told on stderr) and the
batch goes on; the command then exits with code 1 (:data:`FAILED`) so that a script notices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from cli.common import print_json

FAILED = 1
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line of a batch: its number, its item's id and text, or why it was refused."""

    line: int
    id: object = None
    text: str = ""
    error: str = ""


def batch_lines(path: Path, field: str) -> Iterator[BatchLine]:
    """The non-blank lines of a JSONL file, each an object whose ``field`` is a non-empty string.

    Raises:
        OSError: the file cannot be opened.
    """
    with path.open("rb") as lines:
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
        return BatchLine(n, error=f"应为 JSON 对象，实际是{_kind(item)}")
    if _SURROGATE.search(json.dumps(item, ensure_ascii=False)):
        return BatchLine(n, error="含无效的 Unicode 字符（孤立的代理码位）")
    item_id, value = item.get("id"), item.get(field)
    if value is None:
        return BatchLine(n, item_id, error=f"缺少 {field} 字段" if field not in item else f"{field} 字段为空（null）")
    if not isinstance(value, str):
        return BatchLine(n, item_id, error=f"{field} 字段应为字符串，实际是{_kind(value)}")
    if not value.strip():
        return BatchLine(n, item_id, error=f"{field} 字段为空")
    return BatchLine(n, item_id, value)


def _kind(value: object) -> str:
    names = {bool: "布尔值", int: "数字", float: "数字", str: "字符串", list: "数组", dict: "对象"}
    return names.get(type(value), "null")


def report_error(line: BatchLine, error: str = "") -> None:
    """Print the line's error as its output line and on stderr."""
    message = error or line.error
    print_json({"id": line.id, "line": line.line, "error": message})
    click.echo(f"第 {line.line} 行：{message}", err=True)
