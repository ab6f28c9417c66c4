"""``comply audit``: verify and seal the audit log's hash chain, show its latest entries, or export it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click

from cli.common import (
    LEVEL,
    LEVEL_NAMES,
    Command,
    current_settings,
    print_json,
    print_table,
)
from cli.remote import refuse, remote
from comply import audit as audit_log
from comply import audit_view
from comply.audit import ChainReport
from comply.db import connect


def _say(report: ChainReport, as_json: bool) -> int:
    if as_json:
        print_json(report.__dict__)
    else:
        click.echo(report.summary())
    return 0 if report.ok else 1


@click.command(cls=Command, help="审计日志：verify 校验哈希链、签名与锚点（完整时写入新锚点），seal 封存当前链头，"
                                 "log 查看最近记录，export 导出记录、锚点和公钥（ZIP）")
@click.argument("action", type=click.Choice(("verify", "seal", "log", "export")))
@click.option("--limit", type=int, default=50, help="log 显示的条数")
@click.option("--clearance", type=LEVEL, default=0, help=f"log / export 的读者密级：{LEVEL_NAMES}（默认 公开）；高于它的详情被隐去")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("audit_export.zip"), help="export 写入的文件")
@click.option("--no-seal", is_flag=True, help="verify 只校验、不写入（例如校验数据目录的副本时）")
@click.option("--json", "as_json", is_flag=True)
def audit(action: str, limit: int, clearance: int, out: Path, no_seal: bool, as_json: bool) -> int:
    """Verify (exit 1 and the first broken entry when broken), seal, list the latest entries, or export."""
    client = remote()
    if client is not None:
        if action != "verify":
            return refuse(f"audit {action}")
        found = client.get("/v1/audit/verify", seal=str(not no_seal).lower())
        return _say(ChainReport(**{f.name: found[f.name] for f in fields(ChainReport) if f.name in found}), as_json)
    settings = current_settings()
    con = connect(settings.db_path)
    if action == "verify":
        return _say(audit_log.verify(con, settings) if no_seal else audit_log.seal(con, settings), as_json)
    if action == "seal":
        return _say(audit_log.seal(con, settings), as_json)
    if action == "export":
        report, data = audit_view.export_zip(con, settings, clearance)
        out.write_bytes(data)
        if not as_json:
            click.echo(f"已导出到 {out}")
        return _say(report, as_json)
    rows = audit_view.query(con, limit=limit, clearance=clearance)
    if as_json:
        print_json([{k: v for k, v in r.items() if k not in ("prev_hash", "hash", "sig")} for r in rows])
    else:
        print_table(["序号", "时间", "操作人", "操作", "对象", "详情"],
                    [[r["seq"], r["ts"][:19], r["actor"], r["action"], r["target"] or "", r["detail"]] for r in rows], right=("序号",))
    return 0
