"""``comply search`` and ``comply cases``: clauses and penalty cases from the live index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.batch_lines import FAILED, batch_lines, report_error
from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, error, print_json
from comply.db import connect
from comply.levels import level_name

if TYPE_CHECKING:
    from retrieval.search import Hit, Searcher

_HIT_KEYS = ("chunk_id", "doc_title", "article", "path", "text", "score", "level", "notice")


def _searcher() -> Searcher:
    from retrieval.search import Searcher

    settings = current_settings()
    return Searcher(settings, connect(settings.db_path))


def _hit_json(hit: Hit) -> dict:
    full = hit.as_json()
    return {k: full[k] for k in _HIT_KEYS}


def too_long(query: str) -> str:
    """Why a query is refused for its length (the ``max_question_chars`` setting), or '' when it is not."""
    cap = current_settings().max_question_chars
    return f"查询过长：共 {len(query)} 字，最多 {cap} 字" if len(query) > cap else ""


@click.command(cls=Command, help="检索条款")
@click.argument("query", required=False)
@click.option("--queries", help="批量：JSONL，每行 {\"id\", \"query\"}，每行输出一个 JSON；"
              "格式不对的行输出 {\"id\", \"line\", \"error\"} 并继续，有这样的行时退出码为 1")
@click.option("-k", "k", type=int, default=10)
@click.option("--clearance", type=LEVEL, default=0, help=f"调用者密级：{LEVEL_NAMES}（默认 公开）")
@click.option("--mode", type=click.Choice(("hybrid", "bm25", "dense")), default="hybrid")
@click.option("--json", "as_json", is_flag=True)
def search(query: str | None, queries: str | None, k: int, clearance: int, mode: str, as_json: bool) -> int:
    """Search clauses for one query, or for each line of a JSONL file (one JSON line out per query)."""
    searcher = _searcher()
    if queries:
        failed = False
        for line in batch_lines(Path(queries), "query"):
            if line.error or too_long(line.text):
                report_error(line, line.error or too_long(line.text))
                failed = True
                continue
            hits = searcher.search(line.text, k=k, clearance=clearance, mode=mode)
            print_json({"id": line.id, "hits": [_hit_json(h) for h in hits]})
        return FAILED if failed else 0
    if not query:
        return error("请给出查询语句，或用 --queries FILE.jsonl", 2)
    if too_long(query):
        return error(too_long(query), 2)
    hits = searcher.search(query, k=k, clearance=clearance, mode=mode)
    if as_json:
        print_json({"query": query, "hits": [_hit_json(h) for h in hits]})
        return 0
    if not hits:
        from assistant.qa.answer import NO_MATCH

        click.echo(NO_MATCH)
    for n, h in enumerate(hits, start=1):
        notice = f"\n    ⚠ {h.notice}" if h.notice else ""
        click.echo(f"[{n}] {h.path}（{level_name(h.level)}，{h.match}，{h.score:.4f}）{notice}\n    {h.text[:160]}")
    return 0


@click.command(cls=Command, help="检索相似处罚案例")
@click.argument("query")
@click.option("-k", "k", type=int, default=5)
@click.option("--clearance", type=LEVEL, default=0)
@click.option("--json", "as_json", is_flag=True)
def cases(query: str, k: int, clearance: int, as_json: bool) -> int:
    """Search penalty cases similar to the query."""
    if too_long(query):
        return error(too_long(query), 2)
    hits = _searcher().search_cases(query, k=k, clearance=clearance)
    if as_json:
        print_json({"query": query, "cases": [h.as_json() for h in hits]})
        return 0
    if not hits:
        click.echo("未找到相似案例")
    for h in hits:
        click.echo(f"{h.case_id} {h.title}\n    {h.authority or ''} {h.date or ''} {h.measure_type or ''}：{h.snippet[:100]}")
    return 0
