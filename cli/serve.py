"""``comply serve``: the one process that owns the database, the indexes and the LLM backend."""

from __future__ import annotations

import click

from cli.common import Command, current_settings, error


@click.command(cls=Command, help="启动服务：唯一持有数据库、索引和大模型的进程，提供 HTTP 接口（/v1，文档见 /docs）；"
                    "服务运行时，本机的 comply 命令经由它执行")
@click.option("--host", default=None, help="监听地址（默认 127.0.0.1，只接受本机连接）")
@click.option("--port", type=int, default=None, help="端口（默认 8600；0 表示任选空闲端口）")
@click.option("--no-llm", is_flag=True, help="不启动大模型")
@click.option("--with-app", is_flag=True, help="同一进程中同时启动 Streamlit 应用（make run 所用），Ctrl-C 同时停止")
@click.option("--app-port", type=int, default=8501, show_default=True, help="应用端口（用于 --with-app）")
def serve(host: str | None, port: int | None, no_llm: bool, with_app: bool, app_port: int) -> int:
    """Serve the API (and the app with ``--with-app``) until interrupted."""
    from service.server import AlreadyRunning
    from service.server import serve as run_service

    settings = current_settings()
    try:
        run_service(settings, host or settings.service_host, settings.service_port if port is None else port,
                    llm=not no_llm, with_app=with_app, app_port=app_port,
                    on_ready=lambda url: click.echo(f"服务已启动：{url}（接口文档 {url}/docs），Ctrl-C 停止", err=True))
    except AlreadyRunning as exc:
        return error(str(exc))
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled after a clean shutdown
        pass
    click.echo("服务已停止", err=True)
    return 0
