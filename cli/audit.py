"""``comply audit``: verify the audit log's hash chain, or show its latest entries."""

from __future__ import annotations

import click

from cli.common import Command, current_settings, print_json, print_table
from comply import audit as audit_log
from comply.db import connect


@click.command(cls=Command, help="审计日志：verify 校验哈希链，log 查看最近记录")
@click.argument("action", type=click.Choice(("verify", "log")))
@click.option("--limit", type=int, default=50)
@click.option("--json", "as_json", is_flag=True)
def audit(action: str, limit: int, as_json: bool) -> int:
    """Verify the hash chain (exit 1 and the first broken entry when it is broken), or list the latest entries."""
    con = connect(current_settings().db_path)
    if action == "verify":
        report = audit_log.verify(con)
        if as_json:
            print_json(report.__dict__)
        elif report.ok:
            click.echo(f"审计链完整：共 {report.rows} 条记录")
        else:
            click.echo(f"审计链断裂：第一条异常记录 seq={report.first_broken_seq}，{report.reason}")
        return 0 if report.ok else 1
    rows = [{k: v for k, v in r.items() if k != "hash"} for r in audit_log.query(con, limit=limit)]
    if as_json:
        print_json(rows)
    else:
        print_table(["序号", "时间", "操作人", "操作", "对象", "详情"],
                    [[r["seq"], r["ts"][:19], r["actor"], r["action"], r["target"] or "", r["detail"]] for r in rows], right=("序号",))
    return 0
