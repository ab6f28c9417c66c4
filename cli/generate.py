"""``comply generate``: product copy from a brief, one client's note, or a resumable batch for all consenting clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.clients.consent import PURPOSES
from cli.common import LEVEL, Command, current_settings, error, open_llm
from comply.db import connect

if TYPE_CHECKING:
    import duckdb

    from assistant.generate.loop import Generated, Loop

_SOURCES = ("brief", "client", "batch", "job")


class _Positive(click.ParamType):
    """A positive whole number."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if not str(value).isdigit() or int(value) < 1:
            self.fail("须为正整数", param, ctx)
        return int(value)


def _print(result: Generated, as_json: bool, title: str) -> None:
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    verdict = "审核通过" if result.clean else f"仍有 {len(result.report.findings)} 个问题"
    click.echo(f"{title}（{'大模型' if result.mode == 'llm' else '模板'}，{result.rounds} 轮，{verdict}，{result.total_s:.1f} 秒）\n")
    click.echo(result.text)
    for note in result.notes:
        click.echo(f"\n注意：{note}")
    for n, f in enumerate(result.report.findings, start=1):
        click.echo(f"\n{n}. [{f.category}·{f.severity}] “{f.span}”：{f.explanation}\n   建议：{f.suggestion}")


@click.command(cls=Command, help="生成营销物料（产品文案 / 客户个性化材料），每篇都经合规审核后输出\n\n"
                    "--brief、--client、--batch、--job 必须且只能给出其中一个")
@click.option("--brief", help="产品资料 JSON：{\"product\": {...}, \"channel\": \"poster|wechat_article|sms|moments\", \"length\": N}")
@click.option("--client", help="客户编号：为该客户生成个性化材料（须有该用途的授权）")
@click.option("--batch", is_flag=True, help="为所有已授权客户批量生成；中断后用 --job 续跑")
@click.option("--job", help="续跑一个批量任务")
@click.option("--kind", type=click.Choice(tuple(PURPOSES)), help="个性化材料：每日收评 / 早报 / 晚报 / 持仓诊断")
@click.option("--date", help="行情日期 YYYY-MM-DD（默认最新一天）")
@click.option("--rounds", type=_Positive(), help="生成—审核—修改的最多轮数（默认见配置 generate_rounds）")
@click.option("--clearance", type=LEVEL, default=0, help="生成人密级（默认 公开）")
@click.option("--user", default="cli", help="记入审计日志的生成人")
@click.option("--no-llm", is_flag=True, help="不调用大模型，用模板生成")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON：{\"text\", \"review\": {\"findings\": [...]}, \"rounds\"}")
def generate(brief: str | None, client: str | None, batch: bool, job: str | None, kind: str | None, date: str | None,
             rounds: int | None, clearance: int, user: str, no_llm: bool, as_json: bool) -> int:
    """Generate reviewed marketing material; errors go to stderr in Chinese with exit code 2."""
    from assistant.generate.brief import BriefError, load_brief
    from assistant.generate.loop import Loop
    from assistant.generate.marketing import GenerationRefused, generate_marketing
    from assistant.generate.personal import PersonalError, generate_personal
    from review.pipeline import Reviewer

    given = [f"--{name}" for name, value in zip(_SOURCES, (brief, client, batch or None, job), strict=True)
             if value is not None]
    if len(given) != 1:
        raise click.UsageError(f"{' 与 '.join(given)} 不能同时使用" if given else "需要 --brief、--client、--batch 或 --job 之一")
    settings = current_settings()
    rounds = rounds or settings.generate_rounds
    if (client or batch) and not kind:
        return error("个性化材料需要 --kind（daily_commentary / morning_note / evening_note / holdings_diagnosis）", 2)
    try:
        product = load_brief(Path(brief)) if brief else None
    except BriefError as exc:
        return error(str(exc), 2)
    con = connect(settings.db_path)
    with open_llm(settings, no_llm, as_json) as backend:
        if not as_json:
            click.echo(f"大模型：{backend.label}\n", err=True)
        loop = Loop(Reviewer(settings, con, backend.client, backend.reason), backend.client, backend.reason)
        try:
            if product is not None:
                result = generate_marketing(loop, product, user=user, clearance=clearance, max_rounds=rounds)
                _print(result, as_json, f"{product.product.name} · {product.channel}")
                return 0
            if client:
                result = generate_personal(loop, client, kind, market_date=date, user=user, clearance=clearance, max_rounds=rounds)
                _print(result, as_json, f"{client} · {PURPOSES[kind]}")
                return 0
            return _batch(loop, con, job, kind, date, user, clearance, rounds, as_json)
        except GenerationRefused as exc:
            return error(f"{exc}（依据：{'；'.join(exc.legal_basis)}）", 2)
        except PersonalError as exc:
            return error(str(exc), 2)


def _batch(loop: Loop, con: duckdb.DuckDBPyConnection, job: str | None, kind: str | None, date: str | None, user: str,
           clearance: int, rounds: int, as_json: bool) -> int:
    """Start (or resume with ``--job``) a batch and run it with progress on stderr."""
    from assistant.generate.batch import JobStatus, job_status, run_job, start_job

    job_id = job or start_job(con, kind, user, date)
    status = job_status(con, job_id)
    click.echo(f"批量任务 {job_id}：{PURPOSES[status.kind]}，行情日期 {status.market_date}，"
               f"待生成 {status.counts.get('pending', 0)} 位客户", err=True)

    def progress(s: JobStatus, client_id: str) -> None:
        click.echo(f"[{s.finished}/{s.total}] {client_id} 完成", err=True)

    status = run_job(loop, job_id, user=user, clearance=clearance, max_rounds=rounds, progress=progress)
    summary = {"job_id": job_id, "state": status.state, "counts": status.counts}
    click.echo(json.dumps(summary, ensure_ascii=False) if as_json else f"任务 {job_id}：{status.state}，{status.counts}")
    return 0
