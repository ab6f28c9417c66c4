"""The command line through a running service: the client for this run (None when no service runs, so the command
opens the files itself), the refusal of commands that cannot go through it, and the service's refusals turned into
the command line's messages and exit codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli.common import EXIT_BUSY, current_settings

if TYPE_CHECKING:
    from service.client import ServiceClient
    from service.locate import Endpoint

_CLIENT = "comply.remote"


def _endpoint() -> Endpoint | None:
    from service.locate import find_service

    return find_service(current_settings())


def remote() -> ServiceClient | None:
    """The client of the service this run goes through (``COMPLY_SERVICE_URL``, or the local ``comply serve`` of the data
    folder), made once per run and closed with it; None when no service runs."""
    root = click.get_current_context().find_root()
    if _CLIENT not in root.meta:
        endpoint = _endpoint()
        client = None
        if endpoint is not None:
            from service.client import ServiceClient

            client = ServiceClient(endpoint)
            root.call_on_close(client.close)
        root.meta[_CLIENT] = client
    return root.meta[_CLIENT]


def busy_message(url: str, command: str) -> str:
    """Why ``command`` does not run while the service at ``url`` owns the database."""
    return (f"服务 {url} 正在运行并独占数据库，服务运行时不能执行“comply {command}”。"
            "请先停止服务（在运行 comply serve 的终端按 Ctrl-C）后重试；本次没有做任何改动。")


def refuse(command: str) -> int:
    """Print why ``command`` cannot run while the service runs and return ``EXIT_BUSY`` (call only when one runs)."""
    client = remote()
    assert client is not None
    click.echo(busy_message(client.endpoint.url, command), err=True)
    return EXIT_BUSY


def refuse_if_served(command: str) -> None:
    """Stop the run with ``EXIT_BUSY`` and the reason when a service runs (``command`` cannot go through it)."""
    if remote() is not None:
        click.get_current_context().exit(refuse(command))


def explain(exc: Exception) -> tuple[str, int] | None:
    """The message and exit code of a failed call to the service: its own message (exit 1; ``EXIT_BUSY`` when it is
    busy, 503), or that it does not answer (exit 1); None for anything else."""
    import httpx2

    from service.client import ServiceError

    if isinstance(exc, ServiceError):
        if exc.status == 503:
            return str(exc), EXIT_BUSY
        if exc.status == 401:
            return f"服务拒绝了访问令牌：{exc}", 1
        return (str(exc) if exc.status < 500 else f"服务出错（{exc.status}）：{exc}"), 1
    if isinstance(exc, httpx2.TransportError):
        client = click.get_current_context().find_root().meta.get(_CLIENT)
        url = client.endpoint.url if client is not None else "服务"
        return f"服务 {url} 没有响应（{type(exc).__name__}：{exc}）。请确认 comply serve 仍在运行，或停止它后重试。", 1
    return None
