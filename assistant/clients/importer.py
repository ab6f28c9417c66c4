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

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from assistant.clients.rows import ClientRow, HoldingRow, MarketRow, Row, parse_row
from assistant.clients.tables import Table, read_table
from comply import audit
from comply.db import transaction

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


# ---------------------------------------------------------------- columns and rows


def _norm(header: str) -> str:
    return re.sub(r"[\s_]", "", header).lower().replace("（", "(").replace("）", ")")


def _columns(table: Table, row: type[Row]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Map each field to the file's header for it; return the map and the ignored headers."""
    columns = row.columns()
    by_alias = {_norm(name): key for key, names in columns.items() for name in names}
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for header in table.header:
        key = by_alias.get(_norm(header))
        if key is None:
            ignored.append(header)
        elif key in mapping:
            raise ImportDataError(f"文件 {table.name} 中「{mapping[key]}」和「{header}」都表示{columns[key][0]}，请只保留一列")
        else:
            mapping[key] = header
    missing = [names for key, names in columns.items() if row.model_fields[key].is_required() and key not in mapping]
    if missing:
        listed = "；".join(f"{names[0]}（可用列名：{' / '.join(names)}）" for names in missing)
        raise ImportDataError(f"文件 {table.name} 缺少必需列：{listed}")
    return mapping, tuple(ignored)


def _records(table: Table, row: type[Row]) -> tuple[list[tuple[int, dict]], list[str], tuple[str, ...]]:
    """Parse every row; return (row number, values) pairs, the problems found and the ignored headers."""
    if not table.rows:
        raise ImportDataError(f"文件 {table.name} 没有数据行")
    mapping, ignored = _columns(table, row)
    labels = row.labels()
    records, problems = [], []
    for number, cells in table.numbered():
        values, found = parse_row(row, number, {labels[key]: cells[h] for key, h in mapping.items() if cells.get(h)})
        records.append((number, values))
        problems += found
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
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- importers


def import_clients(con: duckdb.DuckDBPyConnection, path: Path | str, user: str) -> ImportResult:
    """Import (or update) client profiles; audited as ``clients.import``.

    Raises:
        TableError: the file cannot be read as a table.
        ImportDataError: a missing column, a bad or duplicate row.
    """
    table = read_table(path)
    records, problems, ignored = _records(table, ClientRow)
    problems += _duplicates(records, ("client_id",), "客户编号")
    now = _now()
    with transaction(con):
        _refuse(table, problems)
        kept = _without_purged(records, _client_states(con, records))
        select, params = _columnar(kept, ClientRow.sql_types())
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
    records, problems, ignored = _records(table, HoldingRow)
    problems += _duplicates(records, ("client_id", "as_of", "code"), "产品代码")
    with transaction(con):
        states = _client_states(con, records)
        problems += [f"第 {n} 行「客户编号」：客户 {v['client_id']} 不存在，请先导入客户"
                     for n, v in records if v.get("client_id") and v["client_id"] not in states]
        _refuse(table, problems)
        kept = _without_purged(records, states)
        select, params = _columnar(kept, HoldingRow.sql_types())
        con.execute(f"DELETE FROM holdings USING (SELECT DISTINCT client_id, as_of FROM ({select})) AS f "
                    "WHERE holdings.client_id = f.client_id AND holdings.as_of = f.as_of", params)
        con.execute(f"INSERT INTO holdings ({', '.join(HoldingRow.model_fields)}) {select}", params)
        _audit(con, user, "holdings", table, len(kept), len(records) - len(kept))
    return ImportResult("holdings", table.name, table.sha256, len(kept), ignored, len(records) - len(kept))


def _market_problems(records: list[tuple[int, dict]]) -> list[str]:
    """Indices need a close and a change, sectors a change, news a note."""
    needs = {"index": ("close", "change_pct"), "sector": ("change_pct",), "news": ("note",)}
    labels = MarketRow.labels()
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
    records, problems, ignored = _records(table, MarketRow)
    problems += _market_problems(records) + _duplicates(records, ("date", "item"), "项目")
    _refuse(table, problems)
    with transaction(con):
        select, params = _columnar(records, MarketRow.sql_types())
        con.execute(f"DELETE FROM market_summary WHERE date IN (SELECT date FROM ({select}))", params)
        con.execute(f"INSERT INTO market_summary ({', '.join(MarketRow.model_fields)}) {select}", params)
        _audit(con, user, "market", table, len(records))
    return ImportResult("market", table.name, table.sha256, len(records), ignored)
