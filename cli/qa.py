"""``comply ask`` and ``comply llm``: compliance questions answered from verified clauses, and the LLM backend."""

from __future__ import annotations

import click

from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, open_llm, print_json
from comply.db import connect


@click.command(cls=Command, help="合规问答：依据检索到的条款作答并核验引用")
@click.argument("question")
@click.option("--clearance", type=LEVEL, default=0, help=f"提问者密级：{LEVEL_NAMES}（默认 公开）")
@click.option("--user", default="cli", help="记入审计日志的提问人")
@click.option("--no-llm", is_flag=True, help="不调用大模型，只给出检索到的条款")
@click.option("--json", "as_json", is_flag=True)
def ask(question: str, clearance: int, user: str, no_llm: bool, as_json: bool) -> int:
    """Answer a question, streaming the text, then list its citations with their verification."""
    from assistant.qa.answer import check_question, consume, stream_answer

    settings = current_settings()
    check_question(settings, question)  # before the database or the model is opened
    con = connect(settings.db_path)
    with open_llm(settings, no_llm, as_json) as backend:
        if not as_json:
            click.echo(f"大模型：{backend.label}\n", err=True)
        pieces = stream_answer(settings, con, question, client=backend.client, no_llm_reason=backend.reason,
                               clearance=clearance, user=user)
        answer = consume(pieces, None if as_json else lambda piece: click.echo(piece, nl=False))
    if as_json:
        print_json(answer.as_json())
        return 0
    click.echo("\n")
    if answer.mode == "llm":
        click.echo(f"核验后的回答：\n{answer.answer}\n")
    if answer.notice:
        click.echo(f"注意：{answer.notice}")
    for c in answer.citations:
        mark = "✓ 已核验" if c.verified else "✗ 未通过核验，已移除"
        click.echo(f"[{c.n}] {c.doc_title or '（无此条款）'} {c.article or ''}  {mark}" + (f"  ⚠ {c.notice}" if c.notice else ""))
    for case in answer.cases:
        click.echo(f"相关案例：{case['case_id']} {case['title']}")
    ttft = f"首字 {answer.ttft_s:.2f} 秒，" if answer.ttft_s is not None else ""
    click.echo(f"模式：{answer.mode}，模型：{answer.model or '无'}，{ttft}总计 {answer.total_s:.2f} 秒")
    return 0


@click.command(cls=Command, help="查看大模型后端（TGI / OpenAI 兼容服务 / 内置模型）是否可用")
@click.option("--json", "as_json", is_flag=True)
def llm(as_json: bool) -> int:
    """Report which LLM backend answers and its model; exit 1 when none does."""
    with open_llm(current_settings(), False, as_json) as backend:
        info = backend.info
        state = {"backend": backend.label, "kind": info.kind if info else None, "url": info.url if info else None,
                 "model": backend.model, "healthy": bool(info and info.healthy), "reason": backend.reason}
    if as_json:
        print_json(state)
    else:
        click.echo(f"大模型：{backend.label}")
    return 0 if backend.client is not None else 1
