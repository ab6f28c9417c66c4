"""Mandatory disclosures and rule-conforming performance display, rendered by code from ``config/disclosures.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from comply.clients.profiles import PRODUCT_RISK_NAMES, RISK_TOLERANCE_NAMES
from comply.generate.brief import Brief, Performance, Product

MIN_TRACK_RECORD_DAYS = 183  # a product younger than six months shows no performance
_YEAR = re.compile(r"^((?:19|20)\d{2})年?度?$")
_TRAILING_YEARS = re.compile(r"^(近|最近|过去)([1-9]|10|[一二三五十])年$")
_DATE = r"((?:19|20)\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
_RANGE = re.compile(rf"{_DATE}\s*(?:至|到|—|-|~|～)\s*{_DATE}")


@dataclass(frozen=True)
class Disclosures:
    """The disclosure texts of ``config/disclosures.toml``."""

    full: tuple[str, ...]
    short: str
    risk_level: str
    performance_note: str
    personal_note: str
    sms_opt_out: str
    kinds: dict[str, dict] = field(default_factory=dict)

    def kind(self, product_type: str) -> str | None:
        """The first kind (in file order) whose keyword occurs in the product type."""
        upper = product_type.upper()
        return next((k for k, spec in self.kinds.items() if any(m.upper() in upper for m in spec.get("match", []))), None)

    def refusal(self, product: Product) -> tuple[str, list[str]] | None:
        """Why this product may not be promoted on public channels (and the basis), or ``None`` if it may."""
        spec = self.kinds.get(self.kind(product.type) or "", {})
        return (spec["refusal"], list(spec.get("legal_basis", []))) if spec.get("public") is False else None

    def risk_statement(self, product: Product) -> str:
        """本产品风险等级为 R3（中风险），适合 C3（稳健型）及以上的投资者。"""
        n = product.risk_level
        return self.risk_level.format(risk=f"R{n}", risk_name=PRODUCT_RISK_NAMES[n], tolerance=f"C{n}",
                                      tolerance_name=RISK_TOLERANCE_NAMES[n])

    def full_for(self, product: Product) -> list[str]:
        """The full disclosure for the product: the general texts, the type's own, and the risk-level statement."""
        extra = self.kinds.get(self.kind(product.type) or "", {}).get("full", [])
        return [*self.full, *extra, self.risk_statement(product)]


@lru_cache(maxsize=4)
def load_disclosures(path: Path) -> Disclosures:
    """Read and check the disclosures file.

    Raises:
        ValueError: a missing text, or a digit in a text (every figure in generated copy must come from the inputs).
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        general = raw["general"]
        out = Disclosures(
            tuple(general["full"]), general["short"], general["risk_level"], general["performance_note"],
            general["personal_note"], general["sms_opt_out"], dict(raw.get("kinds", {})),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"信息披露配置 {path} 无效：{exc!r}") from None
    texts = [*out.full, out.short, out.performance_note, out.personal_note, out.sms_opt_out]
    texts += [t for spec in out.kinds.values() for t in [*spec.get("full", []), spec.get("refusal", "")]]
    with_digits = [t for t in texts if re.search(r"\d", t)]
    if with_digits:
        raise ValueError(f"信息披露配置 {path} 的文字中不得出现数字：{with_digits[0]}")
    return out


def percent(value: float | str) -> str:
    """A return as shown: numbers are percentages (12.3 → "12.3%"); strings are shown as given."""
    if isinstance(value, str):
        return value.strip()
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _period_problem(period: str, today: date) -> str | None:
    """Why a period may not be shown (incomplete or too short), or ``None`` if it may."""
    text = period.strip().replace(" ", "")
    if text.startswith("成立以来") or _TRAILING_YEARS.match(text):
        return None
    if year := _YEAR.match(text):
        return None if int(year.group(1)) < today.year else "当年尚未结束，不是完整年度"
    if span := _RANGE.search(text):
        g = [int(x) for x in span.groups()]
        try:
            days = (date(g[3], g[4], g[5]) - date(g[0], g[1], g[2])).days
        except ValueError:
            return "日期无效"
        return None if days >= MIN_TRACK_RECORD_DAYS else "统计区间不足六个月"
    return "统计期间不完整或过短（可用完整年度、近一年及以上、成立以来或不短于六个月的起止日期）"


def _young(product: Product, today: date) -> bool:
    try:
        return (today - date.fromisoformat(product.inception_date or "")).days < MIN_TRACK_RECORD_DAYS
    except ValueError:
        return False


def performance_lines(product: Product, today: date) -> tuple[list[str], list[str]]:
    """Performance lines as the rules allow, and a note for every figure left out (and why).

    Shown only: complete periods, each with the benchmark's return for the same period and its source if given;
    nothing for a product younger than six months.
    """
    if not product.performance:
        return [], []
    if _young(product, today):
        return [], ["产品成立不满六个月，按规定不展示业绩"]
    lines, notes = [], []
    for p in product.performance:
        problem = _period_problem(p.period, today)
        if problem is None and p.benchmark_return is None:
            problem = "缺少同期业绩比较基准收益率"
        if problem:
            notes.append(f"未展示“{p.period}”的业绩：{problem}")
            continue
        lines.append(_line(p))
    return lines, notes


def _line(p: Performance) -> str:
    source = f"（数据来源：{p.source}）" if p.source else ""
    return f"{p.period}：本产品净值增长率{percent(p.return_)}，同期业绩比较基准收益率{percent(p.benchmark_return)}{source}"  # type: ignore[arg-type]


def facts_lines(brief: Brief) -> list[str]:
    """The product's key facts as code renders them (name, type, risk level, manager, benchmark, fees)."""
    p = brief.product
    pairs = [("产品名称", p.name), ("产品类型", p.type), ("风险等级", f"R{p.risk_level}（{PRODUCT_RISK_NAMES[p.risk_level]}）"),
             ("管理人", p.manager), ("业绩比较基准", p.benchmark), ("费率", p.fees)]
    return [f"{label}：{value}" for label, value in pairs if value]
