"""``comply clients``: sample data, imports, the client list, consents and purging a client's data."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import duckdb

from assistant.clients import consent, profiles
from assistant.clients.demo import load_samples
from assistant.clients.importer import import_clients, import_holdings, import_market
from comply.config import Settings
from comply.db import connect

_IMPORTERS = {"clients": import_clients, "holdings": import_holdings, "market": import_market}
_KIND_NAMES = {"clients": "客户", "holdings": "持仓", "market": "行情摘要"}


def _purpose(value: str) -> str:
    """A purpose given by key (daily_commentary) or Chinese name (每日收评)."""
    by_name = {name: key for key, name in consent.PURPOSES.items()}
    if value in consent.PURPOSES:
        return value
    if value in by_name:
        return by_name[value]
    options = "、".join(f"{k}（{v}）" for k, v in consent.PURPOSES.items())
    raise argparse.ArgumentTypeError(f"未知用途 {value!r}，可选：{options}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``comply clients …`` on the top-level sub-command parsers."""
    purposes = " / ".join(f"{k}（{v}）" for k, v in consent.PURPOSES.items())
    p = sub.add_parser("clients", help="客户数据：samples 样例 / import 导入 / list 列出 / consent 授权 / purge 清除")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="clients_action", required=True)

    a = actions.add_parser("samples", help="导入合成样例客户、持仓、行情和授权（仅供演示和测试）")
    a.add_argument("--user", default="cli", help="记入审计日志的操作人")

    a = actions.add_parser("import", help="从 CSV（UTF-8 / GBK）或 .xlsx 导入客户、持仓或行情摘要")
    a.add_argument("kind", choices=tuple(_IMPORTERS), help="clients 客户 / holdings 持仓 / market 行情摘要")
    a.add_argument("file")
    a.add_argument("--user", default="cli", help="记入审计日志的操作人")

    a = actions.add_parser("list", help="列出客户及其有效授权")
    a.add_argument("--all", action="store_true", help="包括已清除数据的客户")
    a.add_argument("--json", action="store_true")

    a = actions.add_parser("consent", help="授权：grant 登记 / revoke 撤回 / list 列出")
    consent_actions = a.add_subparsers(dest="consent_action", required=True)
    c = consent_actions.add_parser("grant", help="登记客户签署的授权书")
    c.add_argument("client_id")
    c.add_argument("--purpose", type=_purpose, required=True, help=f"用途：{purposes}")
    c.add_argument("--document", required=True, help="客户签署的授权书文件（只记录其 SHA-256）")
    c.add_argument("--user", default="cli", help="记入审计日志的操作人")
    c = consent_actions.add_parser("revoke", help="撤回客户的授权")
    c.add_argument("client_id")
    c.add_argument("--purpose", type=_purpose, required=True, help=f"用途：{purposes}")
    c.add_argument("--user", default="cli", help="记入审计日志的操作人")
    c = consent_actions.add_parser("list", help="列出授权记录（含已撤回）")
    c.add_argument("client_id", nargs="?")
    c.add_argument("--json", action="store_true")

    a = actions.add_parser("purge", help="清除客户的个人数据和持仓（须先撤回全部授权）")
    a.add_argument("client_id")
    a.add_argument("--user", default="cli", help="记入审计日志的操作人")


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def _list(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    active: dict[str, list[str]] = {}
    for c in consent.consents(con):
        if c.active:
            active.setdefault(c.client_id, []).append(c.purpose)
    clients = profiles.list_clients(con, include_purged=args.all)
    if args.json:
        _print_json([asdict(c) | {"consents": active.get(c.client_id, [])} for c in clients])
        return
    if not clients:
        print("还没有客户。导入合成样例：comply clients samples")
    for c in clients:
        risk = profiles.risk_label(c.risk_tolerance) if c.risk_tolerance else "—"
        purposes = "、".join(name for key, name in consent.PURPOSES.items() if key in active.get(c.client_id, [])) or "无授权"
        state = "（已清除）" if c.state == "purged" else ""
        print(f"{c.client_id:<12} {c.name or '—':<10} {risk:<3} {c.investor_type or '—':<6} {purposes}{state}")


def _consent_list(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    if args.client_id and profiles.get_client(con, args.client_id) is None:
        raise ValueError(f"客户 {args.client_id} 不存在")
    records = consent.consents(con, args.client_id)
    if args.json:
        _print_json([asdict(c) | {"active": c.active} for c in records])
        return
    if not records:
        print("没有授权记录")
    for c in records:
        state = "有效" if c.active else f"已撤回（{c.revoked_at:%Y-%m-%d}，{c.revoked_by}）"
        print(f"{c.client_id:<12} {c.purpose_name:<6} {state}  授权书 {c.document_name}（{c.document_sha256[:12]}…），"
              f"{c.granted_at:%Y-%m-%d} 由 {c.granted_by} 登记")


def _consent(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    if args.consent_action == "list":
        _consent_list(con, args)
    elif args.consent_action == "grant":
        document = Path(args.document)
        if not document.is_file():
            raise ValueError(f"授权书文件不存在：{document}")
        granted = consent.grant(con, args.client_id, args.purpose, document.read_bytes(), document.name, args.user)
        print(f"已登记客户 {granted.client_id} 的「{granted.purpose_name}」授权（审计记录 seq={granted.grant_seq}）")
    else:
        revoked = consent.revoke(con, args.client_id, args.purpose, args.user)
        print(f"已撤回客户 {revoked.client_id} 的「{revoked.purpose_name}」授权（审计记录 seq={revoked.revoke_seq}）")


def _dispatch(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> None:
    action = args.clients_action
    if action == "samples":
        counts = load_samples(con, args.user)
        print(f"已导入合成样例：客户 {counts['clients']}，持仓 {counts['holdings']}，行情 {counts['market']}，"
              f"新登记授权 {counts['granted']}，撤回 {counts['revoked']}（全部为合成数据，仅供演示和测试）")
    elif action == "import":
        result = _IMPORTERS[args.kind](con, args.file, args.user)
        print(f"已导入{_KIND_NAMES[args.kind]} {result.rows} 行：{result.file_name}（SHA-256 {result.sha256[:16]}…）")
        if result.skipped_purged:
            print(f"已跳过数据已清除的客户的 {result.skipped_purged} 行")
        if result.ignored_columns:
            print(f"已忽略未识别的列：{'、'.join(result.ignored_columns)}")
    elif action == "list":
        _list(con, args)
    elif action == "consent":
        _consent(con, args)
    else:
        counts = consent.purge(con, args.client_id, args.user)
        print(f"已清除客户 {args.client_id} 的个人数据：删除持仓 {counts['holdings']} 行，"
              f"清除生成内容 {counts['generation_items']} 条")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``comply clients`` command; errors go to stderr in Chinese with exit code 2."""
    con = connect(settings.db_path)
    try:
        _dispatch(con, args)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        con.close()
    return 0
