"""``comply clients``: sample data, imports, the client list, consents and purging a client's data."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.clients import consent
from cli.common import Group, current_settings, error, print_json, print_table
from comply.db import connect

if TYPE_CHECKING:
    import duckdb

_KINDS = {"clients": "客户", "holdings": "持仓", "market": "行情摘要"}
_PURPOSES = " / ".join(f"{k}（{v}）" for k, v in consent.PURPOSES.items())


class _Purpose(click.ParamType):
    """A consent purpose given by key (daily_commentary) or Chinese name (每日收评)."""

    name = "purpose"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        by_name = {name: key for key, name in consent.PURPOSES.items()}
        if value in consent.PURPOSES:
            return value
        if value in by_name:
            return by_name[value]
        options = "、".join(f"{k}（{v}）" for k, v in consent.PURPOSES.items())
        self.fail(f"未知用途 {value!r}，可选：{options}", param, ctx)


def _with_clients(action: Callable[..., None]) -> Callable[..., int]:
    """Run a ``clients`` action on the database, closed afterwards; a refused action is explained, exit code 2."""

    @functools.wraps(action)
    def run(**params: object) -> int:
        con = connect(current_settings().db_path)
        try:
            action(con, **params)
        except ValueError as exc:
            return error(str(exc), 2)
        finally:
            con.close()
        return 0

    return run


def _user_option(action: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--user", default="cli", help="记入审计日志的操作人")(action)


@click.group(cls=Group, help="客户数据：samples 样例 / import 导入 / list 列出 / consent 授权 / purge 清除")
def clients() -> None:
    """Client data."""


@clients.command(help="导入合成样例客户、持仓、行情和授权（仅供演示和测试）")
@_user_option
@_with_clients
def samples(con: duckdb.DuckDBPyConnection, user: str) -> None:
    """Load the synthetic sample clients, holdings, market summary and consents."""
    from assistant.clients.demo import load_samples

    counts = load_samples(con, user)
    click.echo(f"已导入合成样例：客户 {counts['clients']}，持仓 {counts['holdings']}，行情 {counts['market']}，"
               f"新登记授权 {counts['granted']}，撤回 {counts['revoked']}（全部为合成数据，仅供演示和测试）")


@clients.command("import", help="从 CSV（UTF-8 / GBK）或 .xlsx 导入客户、持仓或行情摘要\n\n"
                                "KIND：clients 客户 / holdings 持仓 / market 行情摘要")
@click.argument("kind", type=click.Choice(tuple(_KINDS)))
@click.argument("file")
@_user_option
@_with_clients
def import_file(con: duckdb.DuckDBPyConnection, kind: str, file: str, user: str) -> None:
    """Import clients, holdings or a market summary from a CSV or Excel file."""
    from assistant.clients import importer

    load = {"clients": importer.import_clients, "holdings": importer.import_holdings, "market": importer.import_market}[kind]
    result = load(con, file, user)
    click.echo(f"已导入{_KINDS[kind]} {result.rows} 行：{result.file_name}（SHA-256 {result.sha256[:16]}…）")
    if result.skipped_purged:
        click.echo(f"已跳过数据已清除的客户的 {result.skipped_purged} 行")
    if result.ignored_columns:
        click.echo(f"已忽略未识别的列：{'、'.join(result.ignored_columns)}")


@clients.command("list", help="列出客户及其有效授权")
@click.option("--all", "include_purged", is_flag=True, help="包括已清除数据的客户")
@click.option("--json", "as_json", is_flag=True)
@_with_clients
def list_clients(con: duckdb.DuckDBPyConnection, include_purged: bool, as_json: bool) -> None:
    """List the clients with their active consents."""
    from assistant.clients import profiles

    active: dict[str, list[str]] = {}
    for c in consent.consents(con):
        if c.active:
            active.setdefault(c.client_id, []).append(c.purpose)
    found = profiles.list_clients(con, include_purged=include_purged)
    if as_json:
        print_json([asdict(c) | {"consents": active.get(c.client_id, [])} for c in found])
        return
    if not found:
        click.echo("还没有客户。导入合成样例：comply clients samples")
    rows = []
    for c in found:
        purposes = "、".join(name for key, name in consent.PURPOSES.items() if key in active.get(c.client_id, [])) or "无授权"
        rows.append([c.client_id, c.name or "—", profiles.risk_label(c.risk_tolerance) if c.risk_tolerance else "—",
                     c.investor_type or "—", purposes + ("（已清除）" if c.state == "purged" else "")])
    print_table(["客户编号", "姓名", "风险承受能力", "投资者类型", "有效授权"], rows)


@clients.group("consent", help="授权：grant 登记 / revoke 撤回 / list 列出")
def consents() -> None:
    """Consents."""


@consents.command(help="登记客户签署的授权书")
@click.argument("client_id")
@click.option("--purpose", type=_Purpose(), required=True, help=f"用途：{_PURPOSES}")
@click.option("--document", required=True, help="客户签署的授权书文件（只记录其 SHA-256）")
@_user_option
@_with_clients
def grant(con: duckdb.DuckDBPyConnection, client_id: str, purpose: str, document: str, user: str) -> None:
    """Record a consent letter the client signed (only its SHA-256 is kept)."""
    letter = Path(document)
    if not letter.is_file():
        raise ValueError(f"授权书文件不存在：{letter}")
    granted = consent.grant(con, client_id, purpose, letter.read_bytes(), letter.name, user)
    click.echo(f"已登记客户 {granted.client_id} 的「{granted.purpose_name}」授权（审计记录 seq={granted.grant_seq}）")


@consents.command(help="撤回客户的授权")
@click.argument("client_id")
@click.option("--purpose", type=_Purpose(), required=True, help=f"用途：{_PURPOSES}")
@_user_option
@_with_clients
def revoke(con: duckdb.DuckDBPyConnection, client_id: str, purpose: str, user: str) -> None:
    """Revoke a client's consent for a purpose."""
    revoked = consent.revoke(con, client_id, purpose, user)
    click.echo(f"已撤回客户 {revoked.client_id} 的「{revoked.purpose_name}」授权（审计记录 seq={revoked.revoke_seq}）")


@consents.command("list", help="列出授权记录（含已撤回）")
@click.argument("client_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@_with_clients
def list_consents(con: duckdb.DuckDBPyConnection, client_id: str | None, as_json: bool) -> None:
    """List consent records, revoked ones included, of one client or of all."""
    from assistant.clients import profiles

    if client_id and profiles.get_client(con, client_id) is None:
        raise ValueError(f"客户 {client_id} 不存在")
    records = consent.consents(con, client_id)
    if as_json:
        print_json([asdict(c) | {"active": c.active} for c in records])
        return
    if not records:
        click.echo("没有授权记录")
    print_table(["客户编号", "用途", "状态", "授权书", "登记"],
                [[c.client_id, c.purpose_name, "有效" if c.active else f"已撤回（{c.revoked_at:%Y-%m-%d}，{c.revoked_by}）",
                  f"{c.document_name}（{c.document_sha256[:12]}…）", f"{c.granted_at:%Y-%m-%d} 由 {c.granted_by} 登记"]
                 for c in records])


@clients.command(help="清除客户的个人数据和持仓（须先撤回全部授权）")
@click.argument("client_id")
@_user_option
@_with_clients
def purge(con: duckdb.DuckDBPyConnection, client_id: str, user: str) -> None:
    """Purge a client's personal data and holdings (every consent must be revoked first)."""
    counts = consent.purge(con, client_id, user)
    click.echo(f"已清除客户 {client_id} 的个人数据：删除持仓 {counts['holdings']} 行，"
               f"清除生成内容 {counts['generation_items']} 条")
