"""Reading client profiles, holdings and the day's market summary; risk labels and suitability."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from assistant.clients.consent import PURPOSES

# C1..C5: the client's risk tolerance; R1..R5: the product's risk level (适当性管理). Names as in the
# Securities Association's 证券经营机构投资者适当性管理实施指引.
RISK_TOLERANCE_NAMES: dict[int, str] = {1: "保守型", 2: "谨慎型", 3: "稳健型", 4: "积极型", 5: "激进型"}
PRODUCT_RISK_NAMES: dict[int, str] = {1: "低风险", 2: "中低风险", 3: "中风险", 4: "中高风险", 5: "高风险"}


def _level(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 5:
        raise ValueError(f"风险等级须为 1–5 的整数，实际为 {n!r}")
    return n


def risk_label(n: int) -> str:
    """The client's risk tolerance as 'C1'..'C5'."""
    return f"C{_level(n)}"


def suitable(client_tolerance: int, product_risk: int) -> bool:
    """Whether a product of this risk level suits a client of this tolerance (R ≤ C)."""
    return _level(product_risk) <= _level(client_tolerance)


@dataclass(frozen=True)
class Client:
    """A client profile; name, tolerance, age and advisor are None once the client is purged."""

    client_id: str
    name: str | None
    risk_tolerance: int | None
    investor_type: str | None
    age: int | None
    advisor: str | None
    synthetic: bool
    state: str  # 'active' | 'purged'


@dataclass(frozen=True)
class Holding:
    """One position of a client on a date."""

    client_id: str
    as_of: str
    code: str
    name: str
    product_type: str
    risk_level: int
    quantity: float | None
    market_value: float
    cost: float | None


@dataclass(frozen=True)
class MarketItem:
    """One line of a day's market summary: an index, a sector or a news note."""

    date: str
    item: str
    kind: str  # 'index' | 'sector' | 'news'
    close: float | None
    change_pct: float | None
    note: str | None


_CLIENT_COLUMNS = "c.client_id, c.name, c.risk_tolerance, c.investor_type, c.age, c.advisor, c.synthetic, c.state"


def _client(row: tuple) -> Client:
    return Client(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7])


def get_client(con: duckdb.DuckDBPyConnection, client_id: str) -> Client | None:
    """The client with this id (purged or not), or None."""
    row = con.execute(f"SELECT {_CLIENT_COLUMNS} FROM clients c WHERE c.client_id = ?", [client_id]).fetchone()
    return _client(row) if row else None


def list_clients(con: duckdb.DuckDBPyConnection, include_purged: bool = False) -> list[Client]:
    """All clients by id; purged ones only when asked."""
    rows = con.execute(
        f"SELECT {_CLIENT_COLUMNS} FROM clients c WHERE ? OR c.state = 'active' ORDER BY c.client_id", [include_purged]
    ).fetchall()
    return [_client(r) for r in rows]


def holdings(con: duckdb.DuckDBPyConnection, client_id: str, as_of: str | None = None) -> list[Holding]:
    """The client's positions on the latest date not after ``as_of`` (default: the latest), largest first."""
    rows = con.execute(
        """
        SELECT client_id, as_of, code, name, product_type, risk_level, quantity, market_value, cost
        FROM holdings
        WHERE client_id = ? AND as_of = (
            SELECT max(as_of) FROM holdings WHERE client_id = ? AND (? IS NULL OR as_of <= ?))
        ORDER BY market_value DESC, code
        """,
        [client_id, client_id, as_of, as_of],
    ).fetchall()
    return [Holding(*r) for r in rows]


def market_summary(con: duckdb.DuckDBPyConnection, date: str) -> list[MarketItem]:
    """The market summary of a date: indices, then sectors, then news, each by name."""
    rows = con.execute(
        """
        SELECT date, item, kind, close, change_pct, note FROM market_summary WHERE date = ?
        ORDER BY CASE kind WHEN 'index' THEN 0 WHEN 'sector' THEN 1 ELSE 2 END, item
        """,
        [date],
    ).fetchall()
    return [MarketItem(*r) for r in rows]


def latest_market_date(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest date with a market summary, or None."""
    return con.execute("SELECT max(date) FROM market_summary").fetchone()[0]


def consented_clients(con: duckdb.DuckDBPyConnection, purpose: str) -> list[Client]:
    """Active clients with an active (unrevoked) consent for this purpose, by id."""
    if purpose not in PURPOSES:
        raise ValueError(f"未知用途 {purpose!r}，可选：{'、'.join(PURPOSES)}")
    rows = con.execute(
        f"""
        SELECT {_CLIENT_COLUMNS} FROM clients c
        WHERE c.state = 'active' AND EXISTS (
            SELECT 1 FROM consents k WHERE k.client_id = c.client_id AND k.purpose = ? AND k.revoked_at IS NULL)
        ORDER BY c.client_id
        """,
        [purpose],
    ).fetchall()
    return [_client(r) for r in rows]
