"""The rows of client, holdings and market tables: one pydantic model per kind of table.

A column is a field whose ``AliasChoices`` are the headers it is known by, the first being its label.
Cells come in as stripped, non-blank strings keyed by label; a blank cell is left out, so a blank in a
required column is ``missing`` and in an optional one gives the default. Each validator parses the
spreadsheet form (``C3`` / ``稳健型``, ``2026/1/5``, ``1,234.5``, ``-0.42%``) and raises ``ValueError`` in
Chinese; :func:`parse_row` reports each bad cell as ``第 N 行「列」：…``.
"""

from __future__ import annotations

import math
import re
from datetime import date
from types import NoneType
from typing import Annotated, Any, get_args

from pydantic import AliasChoices, BaseModel, Field, PlainValidator, ValidationError, ValidationInfo, field_validator

from assistant.clients.profiles import PRODUCT_RISK_NAMES, RISK_TOLERANCE_NAMES

PRODUCT_TYPES = ("股票", "股票型基金", "混合型基金", "债券型基金", "货币市场基金", "指数基金", "债券", "可转债",
                 "理财产品", "资产管理计划", "私募基金", "其他")
INVESTOR_TYPES = {"普通": "普通投资者", "普通投资者": "普通投资者", "ordinary": "普通投资者",
                  "专业": "专业投资者", "专业投资者": "专业投资者", "professional": "专业投资者"}
MARKET_KINDS = {"index": "index", "指数": "index", "sector": "sector", "板块": "sector", "行业": "sector",
                "news": "news", "资讯": "news", "新闻": "news"}
_BOOLEANS = {"true": True, "1": True, "yes": True, "y": True, "是": True,
             "false": False, "0": False, "no": False, "n": False, "否": False}
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_SQL_TYPES = {str: "VARCHAR", int: "INTEGER", float: "DOUBLE", bool: "BOOLEAN"}
_REASONS = {"missing": "不能为空", "string_too_long": "超过 {max_length} 个字符"}


# ---------------------------------------------------------------- cell parsers (raise ValueError in Chinese)


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError("须为 1–32 位字母、数字或 _ . -")
    return value


def _choice(options: dict[str, Any], hint: str = "") -> PlainValidator:
    """Any key of ``options`` (case-insensitive) → its value."""
    def parse(value: str) -> Any:
        key = value.lower()
        if key not in options:
            raise ValueError(f"无法识别 {value!r}，可填 {hint or ' / '.join(options)}")
        return options[key]

    return PlainValidator(parse)


def _scale(prefix: str, names: dict[int, str]) -> PlainValidator:
    """'C3' / '3' / '稳健型' → 3 (or 'R4' / '4' / '中高风险' → 4)."""
    options = {f"{prefix.lower()}{k}": k for k in names} | {str(k): k for k in names} | {v: k for k, v in names.items()}
    return _choice(options, " / ".join(f"{prefix}{k}" for k in names) + "，或 1–5，或 " + " / ".join(names.values()))


def _product_type(value: str) -> str:
    if value not in PRODUCT_TYPES:
        raise ValueError(f"未知产品类型 {value!r}，可填 {' / '.join(PRODUCT_TYPES)}")
    return value


def _age(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 120:
        raise ValueError("须为 1–120 的整数")
    return int(value)


def _date(value: str) -> str:
    match = _DATE.fullmatch(value)
    if match:
        try:
            return date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            pass
    raise ValueError(f"日期 {value!r} 无效，须为 YYYY-MM-DD")


def _number(minimum: float, percent: bool = False) -> PlainValidator:
    def parse(value: str) -> float:
        text = value.replace(",", "").replace("，", "")
        if percent:
            text = text.removesuffix("%").removesuffix("％")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} 不是数字") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} 不是有限数字")
        if number < minimum:
            raise ValueError(f"不能小于 {minimum:g}")
        return number

    return PlainValidator(parse)


def _column(*names: str, default: Any = ...) -> Any:
    """A column known by any of ``names`` (the first is its label); required unless it has a default."""
    return Field(default, validation_alias=AliasChoices(*names))


# ---------------------------------------------------------------- rows


class Row(BaseModel):
    """One row of a table; validate it with :func:`parse_row`."""

    @field_validator("*")
    @classmethod
    def _keep(cls, value: object, info: ValidationInfo) -> object:
        """Note each good value in the context, so that the cross-row checks still see them in a row with a bad cell."""
        if info.context is not None:
            info.context[info.field_name] = value
        return value

    @classmethod
    def columns(cls) -> dict[str, tuple[str, ...]]:
        """Each field's header names, in order; the first is the column's label."""
        return {key: tuple(field.validation_alias.choices) for key, field in cls.model_fields.items()}

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Each field's label in messages."""
        return {key: names[0] for key, names in cls.columns().items()}

    @classmethod
    def sql_types(cls) -> dict[str, str]:
        """Each field's DuckDB type, in order (``{"age": "INTEGER", …}``)."""
        types = {key: next(t for t in get_args(f.annotation) or (f.annotation,) if t is not NoneType)
                 for key, f in cls.model_fields.items()}
        return {key: _SQL_TYPES[t] for key, t in types.items()}


Date = Annotated[str, PlainValidator(_date)]  # ISO, YYYY-MM-DD
ClientId = Annotated[str, PlainValidator(_identifier), _column("客户编号", "客户号", "客户代码", "client_id")]


class ClientRow(Row):
    client_id: ClientId
    name: Annotated[str, Field(max_length=50)] = _column("姓名", "客户姓名", "客户名称", "name")
    risk_tolerance: Annotated[int, _scale("C", RISK_TOLERANCE_NAMES)] = _column(
        "风险承受能力", "风险承受能力等级", "风险等级", "risk_tolerance")
    investor_type: Annotated[str, _choice(INVESTOR_TYPES)] = _column(
        "投资者类型", "投资者分类", "investor_type", default="普通投资者")
    age: Annotated[int | None, PlainValidator(_age)] = _column("年龄", "age", default=None)
    advisor: Annotated[str | None, Field(max_length=32)] = _column("客户经理", "投资顾问", "服务人员", "advisor", default=None)
    synthetic: Annotated[bool, _choice(_BOOLEANS)] = _column("合成数据", "是否合成", "synthetic", default=False)


class HoldingRow(Row):
    client_id: ClientId
    as_of: Date = _column("持仓日期", "截至日期", "日期", "as_of")
    code: Annotated[str, PlainValidator(_identifier)] = _column("产品代码", "证券代码", "代码", "code")
    name: Annotated[str, Field(max_length=60)] = _column("产品名称", "证券名称", "名称", "name")
    product_type: Annotated[str, PlainValidator(_product_type)] = _column("产品类型", "类型", "product_type")
    risk_level: Annotated[int, _scale("R", PRODUCT_RISK_NAMES)] = _column("产品风险等级", "风险等级", "risk_level")
    quantity: Annotated[float | None, _number(0)] = _column("持有数量", "数量", "份额", "quantity", default=None)
    market_value: Annotated[float, _number(0)] = _column("市值", "持仓市值", "参考市值", "market_value")
    cost: Annotated[float | None, _number(0)] = _column("成本", "持仓成本", "cost", default=None)


class MarketRow(Row):
    date: Date = _column("日期", "交易日", "date")
    item: Annotated[str, Field(max_length=40)] = _column("项目", "名称", "item")
    kind: Annotated[str, _choice(MARKET_KINDS)] = _column("类别", "类型", "kind")
    close: Annotated[float | None, _number(0)] = _column("收盘", "收盘点位", "收盘价", "close", default=None)
    change_pct: Annotated[float | None, _number(-100, percent=True)] = _column(
        "涨跌幅", "涨跌幅(%)", "change_pct", default=None)
    note: Annotated[str | None, Field(max_length=200)] = _column("说明", "备注", "摘要", "note", default=None)


def parse_row(row: type[Row], number: int, cells: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Validate one row's non-blank cells (keyed by column label).

    Returns the row's values (for a bad row, only its good cells' values) and its problems in Chinese,
    one per bad column, in column order.
    """
    good: dict[str, Any] = {}
    try:
        return row.model_validate(cells, context=good).model_dump(), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    return good, [f"第 {number} 行「{e['loc'][0]}」：{_reason(e)}" for e in errors]


def _reason(error: Any) -> str:
    """A validator's own message, or the Chinese for pydantic's error."""
    if error["type"] in _REASONS:
        return _REASONS[error["type"]].format(**error.get("ctx", {}))
    return str(error.get("ctx", {}).get("error", error["msg"]))
