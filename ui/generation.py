"""Helpers of the 营销物料 page: the brief from the form, tables of clients and batch items, saving uploads."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from assistant.clients.consent import PURPOSES, consents
from assistant.clients.profiles import list_clients
from assistant.generate.brief import Brief, parse_brief

STATE_NAMES = {"pending": "待生成", "done": "已生成", "skipped": "已跳过", "failed": "失败", "purged": "已清除"}
MARKDOWN_CHANNELS = frozenset({"wechat_article"})  # channels whose drafts are Markdown (assistant.generate.channels)
PRODUCT_TYPES = ["混合型基金", "股票型基金", "债券型基金", "指数基金", "货币市场基金", "FOF", "QDII基金", "私募基金", "集合资产管理计划"]


def _number(value: object) -> float | str | None:
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except ValueError:
        return str(value).strip()


def brief_from_form(fields: dict, performance: list[dict], channel: str) -> Brief:
    """A brief from the form's fields and the performance table (returns in %; blank rows ignored).

    Raises:
        BriefError: as :func:`assistant.generate.brief.parse_brief`.
    """
    rows = [
        {"period": str(r.get("期间") or "").strip(), "return": _number(r.get("收益率(%)")),
         "benchmark_return": _number(r.get("基准收益率(%)")), "source": (str(r.get("数据来源") or "").strip() or None)}
        for r in performance if str(r.get("期间") or "").strip()
    ]
    product = {k: v for k, v in fields.items() if k in ("name", "type", "risk_level", "manager", "benchmark", "fees") and v}
    product["highlights"] = [line.strip() for line in (fields.get("highlights") or "").splitlines() if line.strip()]
    product["performance"] = rows
    extra = {k: fields[k] for k in ("audience", "institution", "length") if fields.get(k)}
    return parse_brief({"product": product, "channel": channel, **extra})


def brief_from_json(raw: bytes) -> dict:
    """An uploaded brief file as JSON (validated later, per channel).

    Raises:
        ValueError: not UTF-8 JSON, or not an object.
    """
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"产品资料文件不是 UTF-8 编码的 JSON（{exc.__class__.__name__}）") from None
    if not isinstance(data, dict):
        raise ValueError("产品资料 JSON 应为一个对象")
    return data


def client_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Clients with their risk tolerance and the uses they have consented to (active consents)."""
    active: dict[str, list[str]] = {}
    for c in consents(con):
        if c.revoked_at is None:
            active.setdefault(c.client_id, []).append(PURPOSES[c.purpose])
    return [
        {"客户编号": c.client_id, "姓名": c.name, "风险承受能力": f"C{c.risk_tolerance}" if c.risk_tolerance else "",
         "投资者类型": c.investor_type, "已授权用途": "、".join(active.get(c.client_id, [])) or "未授权",
         "合成数据": "是" if c.synthetic else "否"}
        for c in list_clients(con)
    ]


def item_rows(items: list[dict]) -> list[dict]:
    """A batch's items as a table: client, state, rounds, findings left, why skipped."""
    rows = []
    for item in items:
        review = json.loads(item["review"]) if item.get("review") else {}
        rows.append({"客户编号": item["client_id"], "状态": STATE_NAMES.get(item["state"], item["state"]),
                     "轮数": item.get("rounds"), "遗留问题": len(review.get("findings", [])) if review else None,
                     "说明": item.get("reason") or ""})
    return rows


@contextmanager
def saved_upload(name: str, data: bytes) -> Iterator[Path]:
    """An uploaded file written to a temporary folder under its own name (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="comply-upload-") as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(data)
        yield path
