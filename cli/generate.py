"""``comply generate``: product copy from a brief, one client's note, or a resumable batch for all consenting clients."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb

from assistant.clients.consent import PURPOSES
from assistant.generate.loop import Generated, Loop
from comply.config import Settings
from comply.db import connect


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("须为正整数")
    return int(value)


def add_parser(sub: argparse._SubParsersAction, level: Callable[[str], int]) -> None:
    """Register ``generate`` on the ``comply`` sub-command parser."""
    p = sub.add_parser("generate", help="生成营销物料（产品文案 / 客户个性化材料），每篇都经合规审核后输出")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--brief", help="产品资料 JSON：{\"product\": {...}, \"channel\": \"poster|wechat_article|sms|moments\", \"length\": N}")
    what.add_argument("--client", help="客户编号：为该客户生成个性化材料（须有该用途的授权）")
    what.add_argument("--batch", action="store_true", help="为所有已授权客户批量生成；中断后用 --job 续跑")
    what.add_argument("--job", help="续跑一个批量任务")
    p.add_argument("--kind", choices=tuple(PURPOSES), help="个性化材料：每日收评 / 早报 / 晚报 / 持仓诊断")
    p.add_argument("--date", help="行情日期 YYYY-MM-DD（默认最新一天）")
    p.add_argument("--rounds", type=_positive, help="生成—审核—修改的最多轮数（默认见配置 generate_rounds）")
    p.add_argument("--clearance", type=level, default=0, help="生成人密级（默认 公开）")
    p.add_argument("--user", default="cli", help="记入审计日志的生成人")
    p.add_argument("--no-llm", action="store_true", help="不调用大模型，用模板生成")
    p.add_argument("--json", action="store_true", help="输出 JSON：{\"text\", \"review\": {\"findings\": [...]}, \"rounds\"}")
    p.set_defaults(func=run)


def _print(result: Generated, as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
        return
    verdict = "审核通过" if result.clean else f"仍有 {len(result.report.findings)} 个问题"
    print(f"{title}（{'大模型' if result.mode == 'llm' else '模板'}，{result.rounds} 轮，{verdict}，{result.total_s:.1f} 秒）\n")
    print(result.text)
    for note in result.notes:
        print(f"\n注意：{note}")
    for n, f in enumerate(result.report.findings, start=1):
        print(f"\n{n}. [{f.category}·{f.severity}] “{f.span}”：{f.explanation}\n   建议：{f.suggestion}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``comply generate``; errors go to stderr in Chinese with exit code 2."""
    from assistant.generate.brief import BriefError, load_brief
    from assistant.generate.marketing import GenerationRefused, generate_marketing
    from assistant.generate.personal import PersonalError, generate_personal
    from comply.llm.backend import open_backend
    from review.pipeline import Reviewer

    rounds = args.rounds or settings.generate_rounds
    if (args.client or args.batch) and not args.kind:
        print("个性化材料需要 --kind（daily_commentary / morning_note / evening_note / holdings_diagnosis）", file=sys.stderr)
        return 2
    try:
        brief = load_brief(Path(args.brief)) if args.brief else None
    except BriefError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    con = connect(settings.db_path)
    quiet = args.json
    with open_backend(settings.model_copy(update={"llm_mode": "off"}) if args.no_llm else settings, progress=not quiet) as backend:
        if not quiet:
            print(f"大模型：{backend.label}\n", file=sys.stderr)
        loop = Loop(Reviewer(settings, con, backend.client, backend.reason), backend.client, backend.reason)
        try:
            if brief is not None:
                result = generate_marketing(loop, brief, user=args.user, clearance=args.clearance, max_rounds=rounds)
                _print(result, args.json, f"{brief.product.name} · {brief.channel}")
                return 0
            if args.client:
                result = generate_personal(loop, args.client, args.kind, market_date=args.date, user=args.user,
                                           clearance=args.clearance, max_rounds=rounds)
                _print(result, args.json, f"{args.client} · {PURPOSES[args.kind]}")
                return 0
            return _batch(args, loop, con, rounds)
        except GenerationRefused as exc:
            print(f"{exc}（依据：{'；'.join(exc.legal_basis)}）", file=sys.stderr)
        except PersonalError as exc:
            print(str(exc), file=sys.stderr)
    return 2


def _batch(args: argparse.Namespace, loop: Loop, con: duckdb.DuckDBPyConnection, rounds: int) -> int:
    """Start (or resume with ``--job``) a batch and run it with progress on stderr."""
    from assistant.generate.batch import JobStatus, job_status, run_job, start_job

    job_id = args.job or start_job(con, args.kind, args.user, args.date)
    status = job_status(con, job_id)
    print(f"批量任务 {job_id}：{PURPOSES[status.kind]}，行情日期 {status.market_date}，待生成 {status.counts.get('pending', 0)} 位客户",
          file=sys.stderr)

    def progress(s: JobStatus, client_id: str) -> None:
        print(f"[{s.finished}/{s.total}] {client_id} 完成", file=sys.stderr)

    status = run_job(loop, job_id, user=args.user, clearance=args.clearance, max_rounds=rounds, progress=progress)
    summary = {"job_id": job_id, "state": status.state, "counts": status.counts}
    print(json.dumps(summary, ensure_ascii=False) if args.json else f"任务 {job_id}：{status.state}，{status.counts}")
    return 0
