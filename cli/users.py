"""``comply users``: add, list, update, set the password of and unlock the app's user accounts."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from cli.common import LEVEL, LEVEL_NAMES, Group, current_settings, error, print_json, print_table
from comply.db import connect
from comply.levels import level_name

if TYPE_CHECKING:
    import duckdb

ROLES = ("admin", "compliance", "marketer", "evaluator")
_ROLE_NAMES = " / ".join(ROLES)


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin with --password-stdin, otherwise typed twice (not echoed)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    from assistant.passwords import MIN_PASSWORD_LENGTH

    first = getpass.getpass(f"密码（至少 {MIN_PASSWORD_LENGTH} 个字符，不能是常见密码或包含用户名）：")
    if getpass.getpass("再次输入密码：") != first:
        raise ValueError("两次输入的密码不一致")
    return first


def _with_accounts(action: Callable[..., int]) -> Callable[..., int]:
    """Run a ``users`` action on the database; a refused change or a cancelled prompt is explained, exit code 1."""

    @functools.wraps(action)
    def run(**params: object) -> int:
        con = connect(current_settings().db_path)
        try:
            return action(con, **params)
        except ValueError as exc:
            return error(str(exc))
        except (EOFError, KeyboardInterrupt):
            return error("\n已取消")

    return run


@click.group(cls=Group, help="用户管理：add 新建 / list 列出 / update 修改 / passwd 设置密码 / unlock 解除登录限制")
def users() -> None:
    """User accounts."""


@users.command(help="新建用户（密码不写在命令行上：提示输入两次，或用 --password-stdin）\n\n"
                    "USERNAME：用户名，2–32 位字母、数字或 _ . -")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help=f"角色：{_ROLE_NAMES}（管理员 / 合规 / 营销 / 评测）")
@click.option("--clearance", type=LEVEL, required=True, help=f"密级：{LEVEL_NAMES}")
@click.option("--name", help="显示名（默认同用户名）")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读取密码")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@_with_accounts
def add(con: duckdb.DuckDBPyConnection, username: str, role: str, clearance: int, name: str | None, password_stdin: bool,
        actor: str) -> int:
    """Create a user."""
    from assistant import accounts

    if accounts.get_user(con, username) is not None:
        raise ValueError(f"用户名 {username} 已存在")
    user = accounts.create_user(con, username, _read_password(password_stdin), role, clearance, display_name=name or "",
                                actor=actor)
    click.echo(f"已创建用户 {user.username}（{user.display_name}，{user.role_name}，密级 {level_name(user.clearance)}）")
    return 0


@users.command("list", help="列出用户")
@click.option("--json", "as_json", is_flag=True)
@_with_accounts
def list_users(con: duckdb.DuckDBPyConnection, as_json: bool) -> int:
    """List the users."""
    from assistant import accounts

    rows = [{"username": u.username, "display_name": u.display_name, "role": u.role, "role_name": u.role_name,
             "clearance": level_name(u.clearance), "disabled": u.disabled} for u in accounts.list_users(con)]
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo("还没有用户。创建第一个管理员：comply users add admin --role admin --clearance 秘密")
    else:
        print_table(["用户名", "显示名", "角色", "密级", "状态"],
                    [[r["username"], r["display_name"], r["role_name"], r["clearance"], "已停用" if r["disabled"] else "启用"]
                     for r in rows])
    return 0


@users.command(help="修改用户的角色、密级、显示名，或停用 / 启用")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), help=f"新角色：{_ROLE_NAMES}")
@click.option("--clearance", type=LEVEL, help=f"新密级：{LEVEL_NAMES}")
@click.option("--name", help="新显示名")
@click.option("--disable", is_flag=True, help="停用（不能再登录）")
@click.option("--enable", is_flag=True, help="重新启用")
@click.option("--oidc-email", help="单点登录（OIDC）时身份提供方给出的邮箱；空字符串表示解除关联")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@_with_accounts
def update(con: duckdb.DuckDBPyConnection, username: str, role: str | None, clearance: int | None, name: str | None,
           disable: bool, enable: bool, oidc_email: str | None, actor: str) -> int:
    """Change a user's role, clearance or display name, disable or enable them, or link their single sign-on e-mail."""
    from assistant import accounts

    if disable and enable:
        raise click.UsageError("--disable 与 --enable 不能同时使用")
    disabled = True if disable else False if enable else None
    unchanged = role is None and clearance is None and disabled is None and name is None
    if oidc_email is not None:
        accounts.link_oidc(con, username, oidc_email or None, actor=actor)
        click.echo(f"已{'关联' if oidc_email else '解除'}用户 {username} 的单点登录邮箱 {oidc_email}")
        if unchanged:
            return 0
    if unchanged:
        return error("没有要修改的内容：请给出 --role / --clearance / --disable / --enable / --name / --oidc-email", 2)
    user = accounts.update_user(con, username, role=role, clearance=clearance, disabled=disabled, display_name=name, actor=actor)
    state = "已停用" if user.disabled else "启用"
    click.echo(f"已更新用户 {user.username}（{user.display_name}，{user.role_name}，密级 {level_name(user.clearance)}，{state}）")
    return 0


@users.command(help="设置用户的新密码（并清除失败登录记录）")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入的第一行读取密码")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@_with_accounts
def passwd(con: duckdb.DuckDBPyConnection, username: str, password_stdin: bool, actor: str) -> int:
    """Set a user's password (and clear their failed sign-ins)."""
    from assistant import accounts

    if accounts.get_user(con, username) is None:
        raise ValueError(f"用户 {username} 不存在")
    accounts.set_password(con, username, _read_password(password_stdin), actor=actor)
    click.echo(f"已为用户 {username} 设置新密码")
    return 0


@users.command(help="解除用户因登录失败过多而受到的限制（清除其失败登录记录，记入审计日志）")
@click.argument("username")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@_with_accounts
def unlock(con: duckdb.DuckDBPyConnection, username: str, actor: str) -> int:
    """End a user's sign-in back-off."""
    from assistant import accounts

    cleared = accounts.unlock_user(con, username, actor=actor)
    click.echo(f"已解除用户 {username} 的登录限制（清除失败登录 {cleared} 次）")
    return 0
