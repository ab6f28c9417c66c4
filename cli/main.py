"""The ``comply`` command line: the root group, its commands (one module per group) and the console entry ``main``."""

from __future__ import annotations

from typing import NoReturn

import click

from cli import audit, clients, evaluate, gate, generate, kb, qa, remote, review, search, serve, tokens, users
from cli.common import EXIT_BUSY, Group, explain

# The commands that go through a running service (serve says itself that one already runs); every other command, and
# review's library and training sub-commands, stop with EXIT_BUSY while one runs (audit refuses all but verify itself).
THROUGH_SERVICE = frozenset({"status", "search", "cases", "ask", "ingest", "review", "docs", "reindex", "audit", "tokens", "serve"})


class _Root(Group):
    """Exits with the code its command returned; a missing index or file is explained (exit 1), and so is a database
    held or changed by another process (exit ``EXIT_BUSY``, nothing changed). While a service runs, the commands of
    :data:`THROUGH_SERVICE` call it and the others stop (``EXIT_BUSY``) before they start; its refusals are explained."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        sub = rest[0] if isinstance(command, click.Group) and rest[:1] and rest[0] in command.commands else None
        through = name in THROUGH_SERVICE and not (name == "review" and sub)  # review library / train open the files
        asks_help = any(a in ctx.help_option_names for a in rest)
        if name and not through and not asks_help and not ctx.resilient_parsing:
            remote.refuse_if_served(f"{name} {sub}" if sub else name)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> NoReturn:
        try:
            code = super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            explained = remote.explain(exc) or explain(exc)
            if explained is None:
                raise
            message, code = explained
            click.echo(message, err=True)
        ctx.exit(code)


@click.group(name="comply", cls=_Root, help="合规智能助手命令行", context_settings={"help_option_names": ["-h", "--help"]},
             epilog=f"退出码：0 成功；1 出错；2 用法错误；{EXIT_BUSY} 数据库正被其他进程占用或同时修改，或服务运行时不能执行此命令（未做任何改动，可稍后重试）",
             commands=[kb.ingest, search.search, search.cases, kb.docs, kb.reindex, kb.kb, audit.audit, kb.status, qa.ask, review.review,
                       generate.generate, clients.clients, review.points, gate.gate, qa.llm, evaluate.evaluate, evaluate.bench,
                       users.users, tokens.tokens, serve.serve])
def cli() -> None:
    """The root of every ``comply`` command."""


def main(argv: list[str] | None = None) -> int:
    """Run ``comply`` with ``argv`` (default: the process's arguments) and return its exit code; usage errors give 2."""
    try:
        return cli.main(argv, prog_name="comply", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("已取消", err=True)
        return 1
