"""Importing client lists, holdings and the day's market summary from CSV or .xlsx files.

Headers may be Chinese or English (``客户编号`` or ``client_id``); columns not listed here are ignored
and never stored. Every row is checked first: a file with any bad row imports nothing, and the error
names each bad row and column. A good file is written in one transaction with one audit row whose
detail holds only the file's SHA-256, name and row count. Re-importing updates: clients by id; a
client's positions on a date, and a date's market summary, are replaced by the file's. Rows of a
client whose data was purged are skipped (counted, never stored), so a purge is not undone by the
next routine export of the full client list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from assistant.clients.profiles import PRODUCT_RISK_NAMES, RISK_TOLERANCE_NAMES
from assistant.clients.tables import Table, read_table
from comply import audit
from comply.db import transaction

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
_MAX_SHOWN = 20


class ImportDataError(ValueError):
    """A file refused as a whole; ``problems`` lists each bad row and column in Chinese."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class ImportResult:
    """What one import wrote."""

    kind: str  # 'clients' | 'holdings' | 'market'
    file_name: str
    sha256: str
    rows: int  # rows written
    ignored_columns: tuple[str, ...] = ()
    skipped_purged: int = 0  # rows of purged clients, left out


# ---------------------------------------------------------------- value parsers (raise ValueError in Chinese)


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError("须为 1–32 位字母、数字或 _ . -")
    return value


def _text(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"超过 {limit} 个字符")
        return value

    return parse


def _scale(prefix: str, names: dict[int, str]) -> Callable[[str], int]:
    """'C3' / '3' / '稳健型' → 3 (or 'R4' / '4' / '中高风险' → 4)."""
    by_name = {name: level for level, name in names.items()}

    def parse(value: str) -> int:
        text = value.upper().removeprefix(prefix)
        if text in {"1", "2", "3", "4", "5"}:
            return int(text)
        if value in by_name:
            return by_name[value]
        options = " / ".join(f"{prefix}{k}" for k in names) + "，或 1–5，或 " + " / ".join(names.values())
        raise ValueError(f"无法识别 {value!r}，可填 {options}")

    return parse


def _choice(options: dict[str, str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        key = value.lower()
        if key not in options:
            raise ValueError(f"无法识别 {value!r}，可填 {' / '.join(options)}")
        return options[key]

    return parse


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


def _number(minimum: float | None = None, percent: bool = False) -> Callable[[str], float]:
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
        if minimum is not None and number < minimum:
            raise ValueError(f"不能小于 {minimum:g}")
        return number

    return parse


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class _Field:
    key: str
    label: str
    aliases: tuple[str, ...]
    parse: Callable[[str], object]
    required: bool = True  # the column must be present and each value non-blank
    default: object = None  # an optional field's value when the cell is blank or the column absent


def _norm(header: str) -> str:
    return re.sub(r"[\s_]", "", header).lower().replace("（", "(").replace("）", ")")


_CLIENT_ID = _Field("client_id", "客户编号", ("客户编号", "客户号", "客户代码", "client_id"), _identifier)

CLIENT_FIELDS = (
    _CLIENT_ID,
    _Field("name", "姓名", ("姓名", "客户姓名", "客户名称", "name"), _text(50)),
    _Field("risk_tolerance", "风险承受能力", ("风险承受能力", "风险承受能力等级", "风险等级", "risk_tolerance"),
           _scale("C", RISK_TOLERANCE_NAMES)),
    _Field("investor_type", "投资者类型", ("投资者类型", "投资者分类", "investor_type"), _choice(INVESTOR_TYPES),
           False, "普通投资者"),
    _Field("age", "年龄", ("年龄", "age"), _age, False),
    _Field("advisor", "客户经理", ("客户经理", "投资顾问", "服务人员", "advisor"), _text(32), False),
    _Field("synthetic", "合成数据", ("合成数据", "是否合成", "synthetic"), _choice(_BOOLEANS), False, False),
)
HOLDING_FIELDS = (
    _CLIENT_ID,
    _Field("as_of", "持仓日期", ("持仓日期", "截至日期", "日期", "as_of"), _date),
    _Field("code", "产品代码", ("产品代码", "证券代码", "代码", "code"), _identifier),
    _Field("name", "产品名称", ("产品名称", "证券名称", "名称", "name"), _text(60)),
    _Field("product_type", "产品类型", ("产品类型", "类型", "product_type"), _product_type),
    _Field("risk_level", "产品风险等级", ("产品风险等级", "风险等级", "risk_level"), _scale("R", PRODUCT_RISK_NAMES)),
    _Field("quantity", "持有数量", ("持有数量", "数量", "份额", "quantity"), _number(0), False),
    _Field("market_value", "市值", ("市值", "持仓市值", "参考市值", "market_value"), _number(0)),
    _Field("cost", "成本", ("成本", "持仓成本", "cost"), _number(0), False),
)
MARKET_FIELDS = (
    _Field("date", "日期", ("日期", "交易日", "date"), _date),
    _Field("item", "项目", ("项目", "名称", "item"), _text(40)),
    _Field("kind", "类别", ("类别", "类型", "kind"), _choice(MARKET_KINDS)),
    _Field("close", "收盘", ("收盘", "收盘点位", "收盘价", "close"), _number(0), False),
    _Field("change_pct", "涨跌幅", ("涨跌幅", "涨跌幅(%)", "change_pct"), _number(-100, percent=True), False),
    _Field("note", "说明", ("说明", "备注", "摘要", "note"), _text(200), False),
)


_CLIENT_COLUMNS = {"client_id": "VARCHAR", "name": "VARCHAR", "risk_tolerance": "INTEGER", "investor_type": "VARCHAR",
                   "age": "INTEGER", "advisor": "VARCHAR", "synthetic": "BOOLEAN"}
_HOLDING_COLUMNS = {"client_id": "VARCHAR", "as_of": "VARCHAR", "code": "VARCHAR", "name": "VARCHAR",
                    "product_type": "VARCHAR", "risk_level": "INTEGER", "quantity": "DOUBLE", "market_value": "DOUBLE",
                    "cost": "DOUBLE"}
_MARKET_COLUMNS = {"date": "VARCHAR", "item": "VARCHAR", "kind": "VARCHAR", "close": "DOUBLE", "change_pct": "DOUBLE",
                   "note": "VARCHAR"}


def _columns(table: Table, fields: tuple[_Field, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Map each field key to the file's header for it; return the map and the ignored headers."""
    by_alias = {_norm(a): f for f in fields for a in f.aliases}
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for header in table.header:
        field = by_alias.get(_norm(header))
        if field is None:
            ignored.append(header)
        elif field.key in mapping:
            raise ImportDataError(f"文件 {table.name} 中「{mapping[field.key]}」和「{header}」都表示{field.label}，请只保留一列")
        else:
            mapping[field.key] = header
    missing = [f for f in fields if f.required and f.key not in mapping]
    if missing:
        names = "；".join(f"{f.label}（可用列名：{' / '.join(f.aliases)}）" for f in missing)
        raise ImportDataError(f"文件 {table.name} 缺少必需列：{names}")
    return mapping, tuple(ignored)


def _records(table: Table, fields: tuple[_Field, ...]) -> tuple[list[tuple[int, dict]], list[str], tuple[str, ...]]:
    """Parse every row; return (row number, values) pairs, the problems found and the ignored headers."""
    if not table.rows:
        raise ImportDataError(f"文件 {table.name} 没有数据行")
    mapping, ignored = _columns(table, fields)
    records, problems = [], []
    for number, row in table.numbered():
        values: dict[str, object] = {}
        for field in fields:
            raw = row.get(mapping.get(field.key, ""), "")
            if not raw:
                if field.required:
                    problems.append(f"第 {number} 行「{field.label}」：不能为空")
                values[field.key] = field.default
                continue
            try:
                values[field.key] = field.parse(raw)
            except ValueError as exc:
                problems.append(f"第 {number} 行「{field.label}」：{exc}")
        records.append((number, values))
    return records, problems, ignored


def _duplicates(records: list[tuple[int, dict]], keys: tuple[str, ...], label: str) -> list[str]:
    first: dict[tuple, int] = {}
    problems = []
    for number, values in records:
        key = tuple(values.get(k) for k in keys)
        if None in key:
            continue
        if key in first:
            problems.append(f"第 {number} 行「{label}」：与第 {first[key]} 行重复（{' / '.join(map(str, key))}）")
        else:
            first[key] = number
    return problems


def _refuse(table: Table, problems: list[str]) -> None:
    if problems:
        shown = problems[:_MAX_SHOWN]
        more = f"\n……另有 {len(problems) - len(shown)} 处" if len(problems) > len(shown) else ""
        raise ImportDataError(f"文件 {table.name} 有 {len(problems)} 处错误，未导入任何数据：\n" + "\n".join(shown) + more,
                              problems)


def _client_states(con: duckdb.DuckDBPyConnection, records: list[tuple[int, dict]]) -> dict[str, str]:
    """The state ('active' | 'purged') of each client of the records that is on record."""
    ids = sorted({v["client_id"] for _n, v in records if v.get("client_id")})
    rows = con.execute("SELECT client_id, state FROM clients WHERE list_contains(?::VARCHAR[], client_id)", [ids])
    return dict(rows.fetchall())


def _columnar(records: list[tuple[int, dict]], columns: dict[str, str]) -> tuple[str, list[list]]:
    """A SELECT over one list parameter per column (typed, e.g. ``{"age": "INTEGER"}``), and those lists.

    One statement with column lists is orders of magnitude faster than a statement per row.
    """
    select = ", ".join(f"unnest(?::{kind}[]) AS {name}" for name, kind in columns.items())
    return f"SELECT {select}", [[values[name] for _n, values in records] for name in columns]


def _audit(con: duckdb.DuckDBPyConnection, user: str, kind: str, table: Table, rows: int, skipped: int = 0) -> None:
    detail = {"sha256": table.sha256, "file": table.name, "rows": rows} | ({"skipped_purged": skipped} if skipped else {})
    audit.append(con, user, f"{kind}.import", None, detail)


def _without_purged(records: list[tuple[int, dict]], states: dict[str, str]) -> list[tuple[int, dict]]:
    return [(n, v) for n, v in records if states.get(v["client_id"]) != "purged"]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- importers


def import_clients(con: duckdb.DuckDBPyConnection, path: Path | str, user: str) -> ImportResult:
    """Import (or update) client profiles; audited as ``clients.import``.

    Raises:
        TableError: the file cannot be read as a table.
        ImportDataError: a missing column, a bad or duplicate row.
    """
    table = read_table(path)
    records, problems, ignored = _records(table, CLIENT_FIELDS)
    problems += _duplicates(records, ("client_id",), "客户编号")
    now = _now()
    with transaction(con):
        _refuse(table, problems)
        kept = _without_purged(records, _client_states(con, records))
        select, params = _columnar(kept, _CLIENT_COLUMNS)
        con.execute(
            f"""
            INSERT INTO clients (client_id, name, risk_tolerance, investor_type, age, advisor, synthetic, state,
                                 source_sha256, imported_at)
            SELECT client_id, name, risk_tolerance, investor_type, age, advisor, synthetic, 'active', ?, ? FROM ({select})
            ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, risk_tolerance = excluded.risk_tolerance,
                investor_type = excluded.investor_type, age = excluded.age, advisor = excluded.advisor,
                synthetic = excluded.synthetic, source_sha256 = excluded.source_sha256, imported_at = excluded.imported_at
            """,
            [table.sha256, now, *params],
        )
        _audit(con, user, "clients", table, len(kept), len(records) - len(kept))
    return ImportResult("clients", table.name, table.sha256, len(kept), ignored, len(records) - len(kept))


def import_holdings(con: duckdb.DuckDBPyConnection, path: Path | str, user: str) -> ImportResult:
    """Import positions; each client's positions on a date in the file replace those on record (``holdings.import``).

    Raises:
        TableError: the file cannot be read as a table.
        ImportDataError: a missing column, a bad or duplicate row, or an unknown client.
    """
    table = read_table(path)
    records, problems, ignored = _records(table, HOLDING_FIELDS)
    problems += _duplicates(records, ("client_id", "as_of", "code"), "产品代码")
    with transaction(con):
        states = _client_states(con, records)
        problems += [f"第 {n} 行「客户编号」：客户 {v['client_id']} 不存在，请先导入客户"
                     for n, v in records if v.get("client_id") and v["client_id"] not in states]
        _refuse(table, problems)
        kept = _without_purged(records, states)
        select, params = _columnar(kept, _HOLDING_COLUMNS)
        con.execute(f"DELETE FROM holdings USING (SELECT DISTINCT client_id, as_of FROM ({select})) AS f "
                    "WHERE holdings.client_id = f.client_id AND holdings.as_of = f.as_of", params)
        con.execute(f"INSERT INTO holdings ({', '.join(_HOLDING_COLUMNS)}) {select}", params)
        _audit(con, user, "holdings", table, len(kept), len(records) - len(kept))
    return ImportResult("holdings", table.name, table.sha256, len(kept), ignored, len(records) - len(kept))


def _market_problems(records: list[tuple[int, dict]]) -> list[str]:
    """Indices need a close and a change, sectors a change, news a note."""
    needs = {"index": ("close", "change_pct"), "sector": ("change_pct",), "news": ("note",)}
    labels = {f.key: f.label for f in MARKET_FIELDS}
    return [f"第 {n} 行「{labels[key]}」：{v['item']} 须填写{labels[key]}"
            for n, v in records if v.get("kind") in needs and v.get("item")
            for key in needs[v["kind"]] if v.get(key) is None]


def import_market(con: duckdb.DuckDBPyConnection, path: Path | str, user: str) -> ImportResult:
    """Import a market summary; each date in the file replaces that date's summary (``market.import``).

    Raises:
        TableError: the file cannot be read as a table.
        ImportDataError: a missing column, a bad, incomplete or duplicate row.
    """
    table = read_table(path)
    records, problems, ignored = _records(table, MARKET_FIELDS)
    problems += _market_problems(records) + _duplicates(records, ("date", "item"), "项目")
    _refuse(table, problems)
    with transaction(con):
        select, params = _columnar(records, _MARKET_COLUMNS)
        con.execute(f"DELETE FROM market_summary WHERE date IN (SELECT date FROM ({select}))", params)
        con.execute(f"INSERT INTO market_summary ({', '.join(_MARKET_COLUMNS)}) {select}", params)
        _audit(con, user, "market", table, len(records))
    return ImportResult("market", table.name, table.sha256, len(records), ignored)
