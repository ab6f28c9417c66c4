"""Datasets of the 评测 page: only JSONL files in the evaluation folders, or an upload, each size-limited and
checked line by line (messages in Chinese, naming the line) before a suite reads it.

The page never opens a path typed by the user: the choice is among the files listed here.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comply.config import Settings
from eval import retrieval as retrieval_suite
from eval import review as review_suite

MAX_DATASET_MB = 10
MAX_DATASET_LINES = 20_000
_MAX_BYTES = int(MAX_DATASET_MB * 1024 * 1024)
_FOLDERS = ("dev", "external")  # beside the taxonomy file (shared/eval by default)


class DatasetError(ValueError):
    """A dataset that cannot be used; ``str(e)`` says why in Chinese (and on which line)."""


def folders(settings: Settings) -> list[Path]:
    """The evaluation folders whose JSONL files the page offers."""
    root = settings.taxonomy_file.parent
    return [root / name for name in _FOLDERS]


def choices(settings: Settings) -> dict[str, Path]:
    """``{"dev/retrieval_questions.jsonl": path, …}``: the regular ``*.jsonl`` files directly in the evaluation
    folders (links leading elsewhere are left out)."""
    found: dict[str, Path] = {}
    for folder in folders(settings):
        if not folder.is_dir():
            continue
        real = folder.resolve()
        for path in sorted(folder.glob("*.jsonl")):
            if path.is_file() and path.resolve().parent == real:
                found[f"{folder.name}/{path.name}"] = path
    return found


def default_choice(suite: str) -> str:
    """The label of a suite's dev set (``retrieval`` or ``review``)."""
    return f"dev/{'retrieval_questions.jsonl' if suite == 'retrieval' else 'review_drafts.jsonl'}"


def read_listed(settings: Settings, label: str) -> bytes:
    """The bytes of a listed dataset, refused before reading when it is too large.

    Raises:
        DatasetError: not a listed file, or larger than :data:`MAX_DATASET_MB`.
    """
    path = choices(settings).get(label)
    if path is None:
        raise DatasetError(f"数据集 {label} 不在评测目录中")
    _check_size(label, path.stat().st_size)
    return path.read_bytes()


def _check_size(name: str, size: int) -> None:
    if size > _MAX_BYTES:
        raise DatasetError(f"数据集 {name} 过大（{size / 1024 / 1024:.1f} MB），上限为 {MAX_DATASET_MB} MB")


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_retrieval(obj: dict) -> str | None:
    if not _is_text(obj.get("query")):
        return "缺少 query（问题文本，非空字符串）"
    relevant = obj.get("relevant")
    if relevant is not None and not (isinstance(relevant, list) and all(
            isinstance(r, dict) and _is_text(r.get("doc")) and _is_text(r.get("article")) for r in relevant)):
        return 'relevant 应为 [{"doc": 文档名, "article": 条号}, …] 形式的列表'
    if not relevant and not _is_text(obj.get("answer_text")):
        return "需要 relevant（文档与条号）或 answer_text（参考条文）"
    return None


def _check_review(obj: dict) -> str | None:
    text = obj.get("text")
    if not _is_text(text):
        return "缺少 text（文案正文，非空字符串）"
    labels = obj.get("labels")
    if labels is not None and not isinstance(labels, list):
        return 'labels 应为 [{"span": 片段, "category": 类别}, …] 形式的列表'
    for label in labels or []:
        if not (isinstance(label, dict) and _is_text(label.get("span")) and _is_text(label.get("category"))):
            return 'labels 的每一项应为 {"span": 片段, "category": 类别}'
        if label["span"] not in text:
            return f"标注片段“{label['span']}”不在正文中"
    if "clean" in obj and not isinstance(obj["clean"], bool):
        return "clean 应为 true 或 false"
    return None


_CHECKS: dict[str, Callable[[dict], str | None]] = {"retrieval": _check_retrieval, "review": _check_review}
_LOADERS: dict[str, Callable[[Path], list]] = {"retrieval": retrieval_suite.load_dataset, "review": review_suite.load_dataset}


def validate(name: str, data: bytes, suite: str) -> int:
    """Check a dataset for a suite; return its number of items.

    Raises:
        DatasetError: too large, not UTF-8, too many lines, a line that is not a JSON object or lacks what the
            suite needs (the message names the line), or no item at all.
    """
    _check_size(name, len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"{name} 第 {line} 行：不是 UTF-8 编码的文本") from None
    lines = text.splitlines()
    if len(lines) > MAX_DATASET_LINES:
        raise DatasetError(f"{name} 行数过多（{len(lines)} 行），上限为 {MAX_DATASET_LINES} 行")
    count = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{name} 第 {n} 行：不是合法的 JSON（第 {exc.colno} 列：{exc.msg}）") from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{name} 第 {n} 行：应为一个 JSON 对象 {{…}}，实际是 {type(obj).__name__}")
        problem = _CHECKS[suite](obj)
        if problem:
            raise DatasetError(f"{name} 第 {n} 行：{problem}")
        count += 1
    if not count:
        raise DatasetError(f"{name} 中没有任何条目")
    return count


def load_items(name: str, data: bytes, suite: str) -> list:
    """A checked dataset parsed by the suite's own reader (``RetrievalItem`` or ``Draft`` items).

    Raises:
        DatasetError: as :func:`validate`.
    """
    validate(name, data, suite)
    with tempfile.TemporaryDirectory(prefix="comply-eval-") as folder:
        path = Path(folder) / "dataset.jsonl"
        path.write_bytes(data)
        try:
            return _LOADERS[suite](path)
        except ValueError as exc:  # the suite's own checks, should they go further than ours
            raise DatasetError(f"{name}：{str(exc).replace(str(path), '').strip()}") from None
