"""Mandatory disclosures and rule-conforming performance display, rendered by code from ``config/disclosures.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from assistant.clients.profiles import PRODUCT_RISK_NAMES, RISK_TOLERANCE_NAMES
from assistant.generate.brief import Brief, Performance, Product

MIN_TRACK_RECORD_DAYS = 183  # a product younger than six months shows no performance
_YEAR = re.compile(r"^((?:19|20)\d{2})年?度?$")
_TRAILING_YEARS = re.compile(r"^(近|最近|过去)([1-9]|10|[一两二三四五六七八九十])年$")
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

    def kinds_of(self, product: Product) -> list[str]:
        """Every kind whose keyword occurs in the product's type or name (a 债券指数基金 is both bond and index)."""
        label = f"{product.type} {product.name}".upper()
        return [k for k, spec in self.kinds.items() if any(m.upper() in label for m in spec.get("match", []))]

    def refusal(self, product: Product) -> tuple[str, list[str]] | None:
        """Why this product may not be promoted on public channels (and the basis), or ``None`` if it may."""
        private = [self.kinds[k] for k in self.kinds_of(product) if self.kinds[k].get("public") is False]
        return (private[0]["refusal"], list(private[0].get("legal_basis", []))) if private else None

    def risk_statement(self, product: Product) -> str:
        """本产品风险等级为 R3（中风险），适合 C3（稳健型）及以上的投资者。"""
        n = product.risk_level
        return self.risk_level.format(risk=f"R{n}", risk_name=PRODUCT_RISK_NAMES[n], tolerance=f"C{n}",
                                      tolerance_name=RISK_TOLERANCE_NAMES[n])

    def full_for(self, product: Product) -> list[str]:
        """The full disclosure for the product: the general texts, the type's own, and the risk-level statement."""
        extra = [text for k in self.kinds_of(product) for text in self.kinds[k].get("full", [])]
        return [*self.full, *extra, self.risk_statement(product)]


def load_disclosures(path: Path) -> Disclosures:
    """Read and check the disclosures file (read again once an administrator has edited it).

    Raises:
        ValueError: see :func:`_load`.
    """
    return _load(Path(path), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Disclosures:
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
    texts = [*out.full, out.short, out.risk_level, out.performance_note, out.personal_note, out.sms_opt_out]
    texts += [t for spec in out.kinds.values() for t in [*spec.get("full", []), spec.get("refusal", "")]]
    with_digits = [t for t in texts if re.search(r"\d", t)]
    if with_digits:
        raise ValueError(f"信息披露配置 {path} 的文字中不得出现数字：{with_digits[0]}")
    return out


def percent(value: float | str) -> str:
    """A return as shown: numbers are percentages (12.3 → "12.3%"); strings are shown as given."""
    if isinstance(value, str):
        return value.strip()
    text = repr(float(value))
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _period_problem(period: str, today: date, inception: date | None) -> str | None:
    """Why a period may not be shown (incomplete, too short, not yet over), or ``None`` if it may."""
    text = period.strip().replace(" ", "")
    if text.startswith("成立以来") or _TRAILING_YEARS.match(text):
        return None
    if year := _YEAR.match(text):
        y = int(year.group(1))
        if y >= today.year:
            return "当年尚未结束，不是完整年度"
        if inception and (y < inception.year or (y == inception.year and (inception.month, inception.day) != (1, 1))):
            return "产品在该年度未运作满一整年"
        return None
    if span := _RANGE.search(text):
        g = [int(x) for x in span.groups()]
        try:
            start, end = date(g[0], g[1], g[2]), date(g[3], g[4], g[5])
        except ValueError:
            return "日期无效"
        if end > today or start > end:
            return "统计区间尚未结束或起止日期颠倒"
        return None if (end - start).days >= MIN_TRACK_RECORD_DAYS else "统计区间不足六个月"
    return "统计期间不完整或过短（可用完整年度、近一年及以上、成立以来或不短于六个月的起止日期）"


def _inception(product: Product) -> date | None:
    try:
        return date.fromisoformat(product.inception_date or "")
    except ValueError:
        return None


def performance_lines(product: Product, today: date) -> tuple[list[str], list[str]]:
    """Performance lines as the rules allow, and a note for every figure left out (and why).

    Shown only: complete periods, each with the benchmark's return for the same period and its source if given;
    nothing for a product younger than six months.
    """
    if not product.performance:
        return [], []
    inception = _inception(product)
    if inception and (today - inception).days < MIN_TRACK_RECORD_DAYS:
        return [], ["产品成立不满六个月，按规定不展示业绩"]
    lines, notes = [], []
    for p in product.performance:
        problem = _period_problem(p.period, today, inception)
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
