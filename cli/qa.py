"""``comply ask`` and ``comply llm``: compliance questions answered from verified clauses, and the LLM backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, open_llm, print_json
from cli.remote import remote
from comply.db import connect

if TYPE_CHECKING:
    from collections.abc import Callable

    from service.client import ServiceClient


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
    show = None if as_json else lambda piece: click.echo(piece, nl=False)
    client = remote()
    if client is not None:
        answer = _ask_through(client, question, clearance, user, no_llm, show)
    else:
        con = connect(settings.db_path)
        with open_llm(settings, no_llm, as_json) as backend:
            if not as_json:
                click.echo(f"大模型：{backend.label}\n", err=True)
            pieces = stream_answer(settings, con, question, client=backend.client, no_llm_reason=backend.reason,
                                   clearance=clearance, user=user)
            found = consume(pieces, show)
        answer = found.as_json() | {"notice": found.notice}
    if as_json:
        print_json({k: v for k, v in answer.items() if k != "notice"})
        return 0
    click.echo("\n")
    if answer["mode"] == "llm":
        click.echo(f"核验后的回答：\n{answer['answer']}\n")
    if answer.get("notice"):
        click.echo(f"注意：{answer['notice']}")
    conclusion = answer.get("conclusion")
    if conclusion and answer["answer"] != "未找到依据":
        click.echo(f"结论核验：{'✓ 与所引条款一致' if conclusion['supported'] else '✗ ' + conclusion['reason']}")
    for claim in answer.get("claims", []):
        if claim["supported"] is False:
            click.echo(f"✗ 未通过核验：{claim['text'].strip()}（{claim['reason']}）")
    for c in answer["citations"]:
        mark = "✓ 已核验" if c["verified"] else "✗ 未通过核验，已移除"
        click.echo(f"[{c['n']}] {c['doc_title'] or '（无此条款）'} {c['article'] or ''}  {mark}" + (f"  ⚠ {c['notice']}" if c.get("notice") else ""))
    for c in answer.get("other_clauses", []):
        click.echo(f"其他相关条款：[{c['n']}] {c['doc_title']} {c['article'] or ''}")
    for case in answer["cases"]:
        click.echo(f"相关案例：{case['case_id']} {case['title']}")
    ttft = f"首字 {answer['ttft_s']:.2f} 秒，" if answer["ttft_s"] is not None else ""
    click.echo(f"模式：{answer['mode']}，模型：{answer['model'] or '无'}，{ttft}总计 {answer['total_s']:.2f} 秒")
    return 0


def _ask_through(client: ServiceClient, question: str, clearance: int, user: str, no_llm: bool,
                 show: Callable[[str], None] | None) -> dict:
    """The answer from the service, its text streamed to ``show`` as it comes (JSON in one piece when there is none)."""
    from service.client import ServiceError

    body = {"question": question, "no_llm": no_llm, "clearance": clearance, "user": user}
    if show is None:
        return client.post("/v1/ask", body)
    label = open_llm(current_settings(), True, True).label if no_llm else client.get("/readyz")["llm"]["label"]
    click.echo(f"大模型：{label}\n", err=True)
    for event, data in client.events("/v1/ask", body):
        if event == "delta":
            show(data["text"])
        elif event == "answer":
            return data
        elif event == "error":
            raise ServiceError(400, data.get("detail", ""))  # the service's own message, shown as is (exit 1)
    raise ServiceError(502, "服务没有给出回答就结束了连接")


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
