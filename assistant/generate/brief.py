"""The product brief a marketer (or an outside script) gives: product facts, channel, audience and length."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Channel = Literal["poster", "wechat_article", "sms", "moments"]
CHANNEL_NAMES: dict[str, str] = {"poster": "海报", "wechat_article": "公众号文章", "sms": "短信", "moments": "朋友圈"}
_RISK = re.compile(r"^[RrCc]?([1-5])$")


class BriefError(ValueError):
    """A brief that cannot be used, with a message for the user (Chinese)."""


class Performance(BaseModel):
    """One performance figure: the period, the product's return and the benchmark's return for that period.

    A number is a percentage (``12.35`` means 12.35%); a string is shown as given (``"12.35%"``).
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    period: str = Field(min_length=1)
    return_: float | str = Field(alias="return")
    benchmark_return: float | str | None = None
    source: str | None = None


class Product(BaseModel):
    """The product's facts; everything the copy may state comes from here."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    risk_level: int
    manager: str | None = None
    fees: str | None = None
    benchmark: str | None = None
    inception_date: str | None = None
    highlights: list[str] = Field(default_factory=list)
    performance: list[Performance] = Field(default_factory=list)

    @field_validator("risk_level", mode="before")
    @classmethod
    def _risk(cls, value: object) -> int:
        match = _RISK.match(str(value).strip())
        if not match:
            raise ValueError("风险等级应为 R1–R5")
        return int(match.group(1))


class Brief(BaseModel):
    """What to write: the product, the channel, and optionally the audience, length and distributor's name."""

    model_config = ConfigDict(extra="ignore")

    product: Product
    channel: Channel
    length: int | None = Field(default=None, ge=20, le=5000)
    audience: str | None = None
    institution: str | None = None


_FIELD_NAMES = {
    "product": "product（产品）", "name": "name（产品名称）", "type": "type（产品类型）", "risk_level": "risk_level（风险等级）",
    "channel": "channel（渠道：poster / wechat_article / sms / moments）", "length": "length（字数，20–5000）",
    "performance": "performance（业绩）", "period": "period（期间）", "return": "return（收益率）",
}


_MESSAGES = {
    "missing": "缺少该字段", "string_too_short": "不能为空", "string_type": "应为文字", "int_parsing": "应为整数",
    "int_type": "应为整数", "float_parsing": "应为数字", "float_type": "应为数字", "list_type": "应为列表",
    "dict_type": "应为对象", "model_type": "应为对象",
}


def _message(err: dict) -> str:
    """A validation error in Chinese."""
    if err["type"] == "literal_error":
        return f"取值无效（{err['input']!r}），可选：{err['ctx']['expected'].replace(' or ', ', ')}"
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    if err["type"] == "greater_than_equal":
        return f"不能小于 {err['ctx']['ge']}"
    if err["type"] == "less_than_equal":
        return f"不能大于 {err['ctx']['le']}"
    return _MESSAGES.get(err["type"], f"无效（{err['type']}）")


def parse_brief(data: object) -> Brief:
    """Validate a brief given as parsed JSON.

    Raises:
        BriefError: a missing or invalid field, named in Chinese.
    """
    try:
        return Brief.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = " → ".join(_FIELD_NAMES.get(str(p), str(p)) for p in err["loc"])
            problems.append(f"{where}：{_message(err)}")
        raise BriefError("产品资料不完整或有误：" + "；".join(problems)) from None


def load_brief(path: Path) -> Brief:
    """Read a brief from a JSON file (UTF-8).

    Raises:
        BriefError: unreadable file, invalid JSON or an invalid brief.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise BriefError(f"无法读取产品资料文件：{exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BriefError(f"产品资料文件不是 UTF-8 编码的 JSON：{exc}") from None
    return parse_brief(data)
