"""The rules file's schema (``config/review_rules.toml``) as pydantic models, with errors in Chinese naming the rule.

Validation needs the taxonomy (categories), the citations a rule may give as its basis, and the
file's ``[sets]`` (``@name`` in a condition stands for that list of patterns); they are passed as the
validation context. Regexes are compiled, and checked, when the rules are loaded.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, ValidationInfo, field_validator

from review.findings import SEVERITIES

KINDS = ("term", "regex")
SPANS = ("match", "clause", "sentence")
CONDITIONS = ("unless", "requires", "doc_unless", "doc_requires")

Text = Annotated[StrictStr, Field(min_length=1)]
Patterns = Annotated[tuple[Text, ...], Field(min_length=1)]


def expand(owner: str, key: str, patterns: tuple[str, ...], sets: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Patterns with each ``@name`` replaced by the named list from ``[sets]``."""
    out: list[str] = []
    for item in patterns:
        if item.startswith("@"):
            if item[1:] not in sets:
                raise ValueError(f"审查规则“{owner}”的 {key} 引用了未定义的模式集“{item}”")
            out += sets[item[1:]]
        else:
            out.append(item)
    return tuple(out)


class _Entry(BaseModel):
    """What ``[[rules]]`` and ``[[lexicon]]`` entries share: category, advice, legal basis and conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    category: Text
    severity: Literal["high", "medium", "low"]
    explanation: Text
    legal_basis: Patterns
    suggestion: Text
    unless: tuple[Text, ...] = ()
    requires: tuple[Text, ...] = ()
    doc_unless: tuple[Text, ...] = ()
    doc_requires: tuple[Text, ...] = ()
    span: Literal["match", "clause", "sentence"] = "match"

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        ids = info.context["categories"]
        if value not in ids:
            raise ValueError(f"的类别“{value}”不在分类表中（可用：{', '.join(ids)}）")
        return value

    @field_validator("legal_basis")
    @classmethod
    def _known_basis(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for citation in value:
            if citation not in info.context["bases"]:
                raise ValueError(f"的法律依据“{citation}”不在分类表或词表的依据中")
        return value

    @field_validator(*CONDITIONS)
    @classmethod
    def _expand_sets(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return expand(str(info.data.get("id", "（未命名）")), info.field_name or "", value, info.context["sets"])


class Rule(_Entry):
    """One review rule as written in the rules file (a lexicon group becomes a ``term`` rule of its terms)."""

    kind: Literal["term", "regex"]
    patterns: Patterns
    once: bool = False


class LexiconGroup(_Entry):
    """A ``[[lexicon]]`` entry: lexicon terms of ``lexicon_categories`` (only ``terms``, when given) mapped to a category."""

    lexicon_categories: Patterns
    terms: tuple[Text, ...] = ()


class Options(BaseModel):
    """``[settings]``: the condition window, and the quotation and disclaimer contexts."""

    model_config = ConfigDict(extra="forbid")

    window: StrictInt = Field(20, gt=0)
    quote_context: tuple[Text, ...] = ()
    llm_disclaimer: tuple[Text, ...] = ()


class RulesFile(BaseModel):
    """The whole file; rules and lexicon groups are validated one by one so that an error names its entry."""

    settings: Options = Options()
    sets: dict[str, tuple[Text, ...]] = {}
    llm_cues: dict[str, tuple[Text, ...]] = {}
    rules: list[dict] = []
    lexicon: list[dict] = []


def _choices(field: str) -> str:
    return {"kind": " 或 ".join(KINDS), "severity": "/".join(SEVERITIES), "span": "/".join(SPANS)}.get(field, "")


def message(owner: str, exc: ValidationError) -> str:
    """The Chinese message for the first problem of an entry (unknown fields first, then fields in file order)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return f"{owner}含未知字段：{', '.join(unknown)}"
    error = errors[0]
    if not error["loc"]:
        return f"{owner}必须是一张表（键 = 值）"
    field = str(error["loc"][0])
    if error["type"] in ("missing", "string_too_short", "too_short") and len(error["loc"]) == 1:
        return f"{owner}缺少必填字段：{field}"
    if error["type"] == "literal_error":
        return f"{owner}的 {field} 必须是 {_choices(field)} 之一，而不是“{error['input']}”"
    if error["type"] == "value_error":
        detail = str(error["ctx"]["error"])
        return detail if detail.startswith("审查规则") else f"{owner}{detail}"
    return f"{owner}的 {field} 必须是非空字符串列表"


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], item: object, owner: str, context: dict) -> M:
    """``model`` validated from one entry of the file, or a ``ValueError`` in Chinese naming ``owner``."""
    try:
        return model.model_validate(item, context=context)
    except ValidationError as exc:
        raise ValueError(message(owner, exc)) from None
