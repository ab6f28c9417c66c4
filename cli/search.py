"""``comply search`` and ``comply cases``: clauses and penalty cases from the live index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.batch_lines import FAILED, BatchLine, batch_lines, report_error
from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, error, print_json
from cli.remote import remote
from comply.db import connect

if TYPE_CHECKING:
    from collections.abc import Callable

    from retrieval.search import Searcher

_HIT_KEYS = ("chunk_id", "doc_title", "article", "path", "text", "score", "level", "notice")
_SERVICE_BATCH = 100  # queries per call of /v1/search/batch


def _searcher() -> Searcher:
    from retrieval.search import Searcher

    settings = current_settings()
    return Searcher(settings, connect(settings.db_path))


def _hit_json(hit: dict) -> dict:
    return {k: hit[k] for k in _HIT_KEYS}


def too_long(query: str) -> str:
    """Why a query is refused for its length (the ``max_question_chars`` setting), or '' when it is not."""
    cap = current_settings().max_question_chars
    return f"查询过长：共 {len(query)} 字，最多 {cap} 字" if len(query) > cap else ""


Found = list[dict] | str  # a query's hits (their JSON shape), or why the service refused it


def _finder(k: int, clearance: int, mode: str) -> tuple[Callable[[list[str]], list[Found]], int]:
    """Searches several queries at once (through the service when one runs, else here) and how many to give it at once."""
    client = remote()
    if client is not None:
        def through(texts: list[str]) -> list[Found]:
            body = {"queries": [{"id": str(n), "query": t} for n, t in enumerate(texts)], "k": k, "mode": mode, "clearance": clearance}
            return [r.get("error") or r["hits"] for r in client.post("/v1/search/batch", body)["results"]]

        return through, _SERVICE_BATCH
    searcher = _searcher()
    return lambda texts: [[h.as_json() for h in searcher.search(t, k=k, clearance=clearance, mode=mode)] for t in texts], 1


def _batch(path: Path, find: Callable[[list[str]], list[Found]], size: int) -> int:
    """One JSON line per line of the batch, in its order, ``size`` queries searched at a time."""
    failed = False
    pending: list[BatchLine] = []

    def flush() -> None:
        nonlocal failed
        good = [line for line in pending if not (line.error or too_long(line.text))]
        found = dict(zip((line.line for line in good), find([line.text for line in good]) if good else []))
        for line in pending:
            result = found.get(line.line, line.error or too_long(line.text))
            if isinstance(result, str):
                report_error(line, result)
                failed = True
            else:
                print_json({"id": line.id, "hits": [_hit_json(h) for h in result]})
        pending.clear()

    for line in batch_lines(path, "query"):
        pending.append(line)
        if sum(not (p.error or too_long(p.text)) for p in pending) >= size:
            flush()
    flush()
    return FAILED if failed else 0


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
    if not queries and not query:
        return error("请给出查询语句，或用 --queries FILE.jsonl", 2)
    if not queries and too_long(query):
        return error(too_long(query), 2)
    find, size = _finder(k, clearance, mode)
    if queries:
        return _batch(Path(queries), find, size)
    hits = find([query])[0]
    assert not isinstance(hits, str)  # the length was checked above
    if as_json:
        print_json({"query": query, "hits": [_hit_json(h) for h in hits]})
        return 0
    if not hits:
        from assistant.qa.answer import NO_MATCH

        click.echo(NO_MATCH)
    for n, h in enumerate(hits, start=1):
        notice = f"\n    ⚠ {h['notice']}" if h["notice"] else ""
        click.echo(f"[{n}] {h['path']}（{h['level']}，{h.get('match', mode)}，{h['score']:.4f}）{notice}\n    {h['text'][:160]}")
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
    client = remote()
    hits = (client.post("/v1/cases/search", {"query": query, "k": k, "clearance": clearance})["cases"] if client is not None
            else [h.as_json() for h in _searcher().search_cases(query, k=k, clearance=clearance)])
    if as_json:
        print_json({"query": query, "cases": hits})
        return 0
    if not hits:
        click.echo("未找到相似案例")
    for h in hits:
        click.echo(f"{h['case_id']} {h['title']}\n    {h['authority'] or ''} {h['date'] or ''} {h['measure_type'] or ''}：{h['snippet'][:100]}")
    return 0
