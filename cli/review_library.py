"""``comply review library``: the library of labelled drafts that review learns from (import, export, statistics)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import LEVEL, LEVEL_NAMES, Group, current_settings, error, print_json, print_table
from comply.config import PROJECT_ROOT, Settings
from comply.db import connect


@click.group(cls=Group, help="审核样本库：已标注的文案（导入的数据集与审核人的采纳 / 驳回 / 漏报结论）")
def library() -> None:
    """The review library's commands."""


class _ReviewWithLibrary(Group):
    """``comply review``: reviews drafts exactly as the command it wraps, unless its first argument names a sub-command."""

    def __init__(self, review: click.Command) -> None:
        super().__init__(name=review.name, help=review.help, epilog="子命令：comply review library …  审核样本库（导入 / 导出 / 统计）；comply review train  训练审核学习模型",
                         commands=[library])
        self.review = review

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        ctx.meta["review.draft"] = True
        ctx.allow_interspersed_args = True  # options after FILE count, as for any command (a group would stop at FILE)
        return self.review.parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.review.format_help(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def invoke(self, ctx: click.Context) -> object:
        return self.review.invoke(ctx) if ctx.meta.get("review.draft") else super().invoke(ctx)


def with_library(review: click.Command) -> click.Group:
    """``review`` with sub-commands under it (``library``, and those added to it): what ``comply review`` is."""
    return _ReviewWithLibrary(review)


@library.command("import", help="导入已标注文案（JSONL，格式同 shared/eval/dev/review_drafts.jsonl）；正文已在库中的跳过\n\n"
                      "FILE：JSONL 文件；任何一行有误则整份不导入，并指出行号")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="数据来源名称（如 dev、2024 年人工标注）")
@click.option("--level", type=LEVEL, default=0, help=f"这些文案的密级：{LEVEL_NAMES}（默认 公开）")
@click.option("--user", default="cli", help="记入审计日志的操作人")
def import_(file: Path, source: str, level: int, user: str) -> int:
    """Import a labelled JSONL dataset into the library (all of it, or nothing)."""
    from review.library import import_jsonl
    from review.taxonomy import load_taxonomy

    settings = current_settings()
    categories = load_taxonomy(settings.taxonomy_file).ids
    con = connect(settings.db_path)
    try:
        result = import_jsonl(con, file, source, user, level, categories=categories)
    except (OSError, ValueError) as exc:
        return error(str(exc))
    click.echo(f"已导入 {result.added} 篇文案、{result.labels} 条标注；跳过重复文案 {result.duplicates} 篇")
    return 0


def shipped_sets(settings: Settings) -> list[tuple[Path, str]]:
    """The labelled sets the product ships with, as (file, source): the shared dev drafts and the project's extra drafts."""
    return [(settings.taxonomy_file.parent / "dev" / "review_drafts.jsonl", "dev"),
            (PROJECT_ROOT / "eval" / "datasets" / "review_drafts_extra.jsonl", "extra")]


@library.command(help="导入随产品提供的已标注文案（共享开发集 dev 与项目补充集 extra）；已在库中的跳过，make run 自动执行")
@click.option("--user", default="setup", help="记入审计日志的操作人")
def seed(user: str) -> int:
    """Import the shipped labelled sets (idempotent: nothing is added or audited when they are already in)."""
    from review.library import import_jsonl
    from review.taxonomy import load_taxonomy

    settings = current_settings()
    categories = load_taxonomy(settings.taxonomy_file).ids
    con = connect(settings.db_path)
    for path, source in shipped_sets(settings):
        try:
            result = import_jsonl(con, path, source, user, 0, categories=categories)
        except (OSError, ValueError) as exc:
            return error(f"无法导入 {path}：{exc}")
        click.echo(f"{source}：新增 {result.added} 篇文案、{result.labels} 条标注（已在库中 {result.duplicates} 篇）")
    return 0


@library.command(help="导出样本库为评测格式（JSONL）：labels 为违规片段，dismissed 为被驳回的发现")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="输出文件（默认打印到标准输出）")
@click.option("--level", type=LEVEL, default=0, help=f"只导出不高于此密级的文案：{LEVEL_NAMES}（默认 公开）")
def export(out: Path | None, level: int) -> int:
    """Export the drafts at or below a level in the evaluation format."""
    from review.library import export_jsonl

    con = connect(current_settings().db_path)
    if out is None:
        export_jsonl(con, sys.stdout, level)
        return 0
    with out.open("w", encoding="utf-8") as handle:
        written = export_jsonl(con, handle, level)
    click.echo(f"已导出 {written} 篇文案到 {out}", err=True)
    return 0


@library.command(help="样本库统计：各类别的采纳 / 驳回（误报）/ 漏报数，各来源的文案与标注数")
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> int:
    """Print reviewers' decisions per category and the library's drafts and labels per source."""
    from review.library import decision_stats, source_totals

    con = connect(current_settings().db_path)
    decisions, sources = decision_stats(con), source_totals(con)
    if as_json:
        print_json({"categories": decisions, "sources": sources})
        return 0
    if not sources:
        click.echo("样本库为空")
        return 0
    print_table(("来源", "文案", "标注"), [(s, t["drafts"], t["labels"]) for s, t in sources.items()], right=("文案", "标注"))
    click.echo("")
    if not decisions:
        click.echo("尚无审核人结论")
        return 0
    print_table(("类别", "采纳", "驳回", "漏报"),
                [(c, n["accepted"], n["dismissed"], n["missed"]) for c, n in decisions.items()], right=("采纳", "驳回", "漏报"))
    return 0
