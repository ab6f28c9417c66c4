"""``comply tokens``: API tokens that act as a user (create shows the token once; only its hash is kept)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import click

from cli.common import Group, current_settings, error, print_json, print_table
from cli.remote import remote
from comply.db import connect


@click.group(cls=Group, help="接口令牌：create 新建（只显示一次）/ list 列出 / revoke 吊销")
def tokens() -> None:
    """API tokens."""


@tokens.command(help="为用户新建接口令牌；令牌以该用户的角色和密级调用接口，只显示这一次\n\nUSER：用户名")
@click.argument("user")
@click.option("--name", default="", help="令牌名称（记入每次调用的审计日志），默认 <用户名>-token")
@click.option("--expires", "days", type=int, default=90, show_default=True, help="有效天数，0 表示不过期")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@click.option("--json", "as_json", is_flag=True)
def create(user: str, name: str, days: int, actor: str, as_json: bool) -> int:
    """Create a token and print it once."""
    client = remote()
    if client is not None:
        created = client.post("/v1/tokens", {"user": user, "name": name, "days": days, "actor": actor})
    else:
        from assistant.tokens import create_token

        try:
            token, info = create_token(connect(current_settings().db_path), user, name, days, actor)
        except ValueError as exc:
            return error(str(exc))
        created = {"token": token, **info.as_json()}
    if as_json:
        print_json(created)
    else:
        click.echo(f"令牌（只显示这一次，请妥善保存）：{created['token']}\n编号 {created['token_id']}，用户 {created['user']}，"
                   f"到期 {created['expires_at'] or '不过期'}")
    return 0


@tokens.command(name="list", help="列出接口令牌（不含令牌本身）")
@click.option("--user", default=None, help="只列出此用户的令牌")
@click.option("--json", "as_json", is_flag=True)
def list_(user: str | None, as_json: bool) -> int:
    """List tokens, newest first."""
    client = remote()
    if client is not None:
        found = client.get("/v1/tokens", user=user)
        rows = found["tokens"] if isinstance(found, dict) else found
    else:
        from assistant.tokens import list_tokens

        rows = [t.as_json() for t in list_tokens(connect(current_settings().db_path), user)]
    if as_json:
        print_json(rows)
        return 0
    print_table(["编号", "用户", "名称", "创建", "到期", "状态"],
                ([r["token_id"], r["user"], r["name"], r["created_at"], r["expires_at"] or "不过期",
                  "有效" if r["active"] else ("已吊销" if r["revoked_at"] else "已过期")] for r in rows))
    return 0


@tokens.command(help="吊销接口令牌\n\nTOKEN_ID：令牌编号（见 list）")
@click.argument("token_id")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
def revoke(token_id: str, actor: str) -> int:
    """Revoke a token."""
    client = remote()
    if client is not None:
        info = client.delete(f"/v1/tokens/{quote(token_id, safe='')}?{urlencode({'actor': actor})}")
    else:
        from assistant.tokens import revoke_token

        try:
            info = revoke_token(connect(current_settings().db_path), token_id, actor).as_json()
        except LookupError as exc:
            return error(str(exc))
    click.echo(f"已吊销令牌 {info['token_id']}（{info['user']} / {info['name']}）")
    return 0
