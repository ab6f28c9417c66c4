"""``comply ingest``, ``docs``, ``reindex`` and ``status``: building and administering the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import click

from cli.common import LEVEL, LEVEL_NAMES, Command, Group, current_settings, error, print_json, print_table
from cli.remote import remote
from comply.db import connect

if TYPE_CHECKING:
    from service.client import ServiceClient


@click.command(cls=Command, help="导入法规、制度文件或案例 JSONL（默认导入默认语料）\n\nPATHS：文件或目录；省略时导入默认语料")
@click.argument("paths", nargs=-1)
@click.option("--level", type=LEVEL, default=None,
              help=f"密级：{LEVEL_NAMES}（省略时：已入库的文档和案例保持原密级，新的为 公开；导入只能提高密级，降低请用 docs level）")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@click.option("--json", "as_json", is_flag=True)
def ingest(paths: tuple[str, ...], level: int | None, actor: str, as_json: bool) -> int:
    """Ingest files or folders (the default corpus when none); exit 1 when a file failed."""
    from kb_ingest.ingest import default_sources
    from kb_ingest.ingest import ingest as run_ingest

    settings = current_settings()
    sources = [Path(p) for p in paths] or default_sources(settings)
    client = remote()
    report = (_ingest_through(client, sources, level, actor) if client is not None else
              run_ingest(settings, connect(settings.db_path), sources, level=level, actor=actor, progress=not as_json).as_dict())
    files = report["files"]
    if as_json:
        print_json(report)
    else:
        counts: dict[str, int] = {}
        for f in files:
            counts[f["status"]] = counts.get(f["status"], 0) + 1
        for f in files:
            if f["status"] in ("error", "held"):
                click.echo(f"[{'错误' if f['status'] == 'error' else '待审'}] {f['message']}")
        click.echo("汇总：" + "，".join(f"{k} {v}" for k, v in sorted(counts.items())))
        click.echo(f"索引版本：v{report['index_version']}" if report["index_version"] else "没有变化，索引保持不变")
    return 1 if any(f["status"] == "error" for f in files) else 0


def _ingest_through(client: ServiceClient, sources: list[Path], level: int | None, actor: str) -> dict:
    """Ingest through the service: a local one reads the files where they are; one elsewhere gets them uploaded (folders
    expanded here). Missing paths are reported as the command reports them, and the rest ingested."""
    from dataclasses import asdict

    from kb_ingest.ingest import collect_files

    found, problems = collect_files(sources)
    report: dict = {"index_version": None, "files": []}
    if client.endpoint.pid is not None and found:  # the data folder's own service, on this machine
        existing = [str(p.resolve()) for p in sources if p.exists()]
        report = client.post("/v1/documents/paths", {"paths": existing, "level": level, "user": actor})
    elif found:
        form = {"user": actor} | ({} if level is None else {"level": str(level)})
        report = client.post("/v1/documents", files=[("files", (f.name, f.read_bytes())) for f in found], data=form)
    return {"index_version": report["index_version"], "files": [asdict(p) for p in problems] + report["files"]}


@click.command(cls=Command, help="文档管理：list / approve / reject / delete / level\n\nDOC_ID：文档编号（level 也接受案例编号）\n\nLEVEL：用于 level，新密级（降低密级只能用此命令，记入审计日志）")
@click.argument("action", type=click.Choice(("list", "approve", "reject", "delete", "level")))
@click.argument("doc_id", required=False)
@click.argument("level", type=LEVEL, required=False)
@click.option("--state", help="用于 list：按状态过滤（live / held / replaced / deleted / rejected）")
@click.option("--reason", help="用于 reject：驳回原因")
@click.option("--clearance", type=LEVEL, default=0, help=f"用于 list：读者密级：{LEVEL_NAMES}（默认 公开），只列出不高于它的文档")
@click.option("--actor", default="cli")
@click.option("--json", "as_json", is_flag=True)
def docs(action: str, doc_id: str | None, level: int | None, state: str | None, reason: str | None, clearance: int,
         actor: str, as_json: bool) -> int:
    """List documents, or approve, reject, delete one or change its level."""
    if action != "list" and not doc_id:
        return error("需要 doc_id", 2)
    if action == "level" and level is None:
        return error("需要新密级", 2)
    client = remote()
    if client is not None:
        return _docs_through(client, action, doc_id, level, state, reason, clearance, actor, as_json)
    from kb_ingest import admin, listing

    settings = current_settings()
    con = connect(settings.db_path)
    if action == "list":
        _print_documents(listing.documents(con, [state] if state else [], clearance), as_json)
        return 0
    try:
        if action == "approve":
            version = admin.approve(settings, con, doc_id, actor)
        elif action == "reject":
            admin.reject(con, doc_id, actor, reason or "")
            version = None
        elif action == "delete":
            version = admin.delete(settings, con, doc_id, actor)
        else:
            version = admin.set_level(settings, con, doc_id, level, actor)
    except admin.AdminError as exc:
        return error(str(exc))
    click.echo(f"完成{'，索引版本 v' + str(version) if version else ''}")
    return 0


def _print_documents(documents: list[dict], as_json: bool) -> None:
    keys = ("doc_id", "doc_key", "version", "level", "state", "n_chunks", "flags")
    rows = [{k: d[k] for k in keys} for d in documents]
    if as_json:
        print_json(rows)
    else:
        print_table(["编号", "版本", "状态", "密级", "段数", "文档"],
                    ([r["doc_id"], f"v{r['version']}", r["state"], r["level"], r["n_chunks"], r["doc_key"]] for r in rows),
                    right=("段数",))


def _docs_through(client: ServiceClient, action: str, doc_id: str | None, level: int | None, state: str | None,
                  reason: str | None, clearance: int, actor: str, as_json: bool) -> int:
    """``docs`` through the service (its refusals, such as an unknown document, are explained by the root)."""
    if action == "list":
        _print_documents(client.get("/v1/documents", state=state, clearance=clearance)["documents"], as_json)
        return 0
    path = f"/v1/documents/{quote(doc_id or '', safe='')}"
    if action == "delete":
        done = client.delete(f"{path}?{urlencode({'user': actor})}")
    elif action == "reject":
        done = client.post(f"{path}/reject", {"reason": reason or "", "user": actor})
    else:
        done = client.post(f"{path}/{action}", {"user": actor} | ({"level": level} if action == "level" else {}))
    version = done.get("index_version") if isinstance(done, dict) else None
    click.echo(f"完成{'，索引版本 v' + str(version) if version else ''}")
    return 0


@click.command(cls=Command, help="按数据库现状重建索引")
@click.option("--actor", default="cli")
def reindex(actor: str) -> int:
    """Rebuild the index from the database."""
    client = remote()
    if client is not None:
        version = client.post("/v1/index/rebuild", {"user": actor})["index_version"]
    else:
        from kb_ingest.admin import reindex as rebuild

        settings = current_settings()
        version = rebuild(settings, connect(settings.db_path), actor)
    click.echo(f"索引已重建：v{version}")
    return 0


@click.command(cls=Command, help="知识库与索引状态")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> int:
    """Print the state of the knowledge base and its index."""
    client = remote()
    if client is not None:
        state = client.get("/v1/status")
    else:
        from kb_ingest.listing import status as kb_status

        settings = current_settings()
        state = kb_status(settings, connect(settings.db_path))
    if as_json:
        print_json(state)
    else:
        for key, value in state.items():
            click.echo(f"{key}: {value}")
    return 0


@click.group(cls=Group, name="kb", help="知识库维护：coverage（法律依据覆盖）/ tune-embedder（嵌入模型领域适配）")
def kb() -> None:
    """Knowledge-base maintenance commands."""


@kb.command(name="coverage", help="列出审核规则、违规词表和分类表引用的每一条法律依据，以及它在知识库中能否找到对应条款")
@click.option("--clearance", type=LEVEL, default=0, help=f"读者密级：{LEVEL_NAMES}（默认 公开），只在不高于它的文档中查找")
@click.option("--missing", "only_missing", is_flag=True, help="只列出知识库中找不到的依据")
@click.option("--json", "as_json", is_flag=True)
def coverage(clearance: int, only_missing: bool, as_json: bool) -> int:
    """Print whether each legal basis named by the rules, lexicon and taxonomy resolves to a clause."""
    from corpus.catalog import load_catalog
    from review.coverage import coverage as resolve
    from review.coverage import named_bases
    from review.rules import LEXICON_PATH, load_default_rules
    from review.taxonomy import load_taxonomy

    settings = current_settings()
    rules = load_default_rules(settings)
    named = named_bases(rules, load_taxonomy(settings.taxonomy_file), settings.corpus_dir / LEXICON_PATH)
    rows = resolve(connect(settings.db_path), named, load_catalog(settings.corpus_dir), clearance)
    shown = [r for r in rows if not (only_missing and r.in_corpus)]
    if as_json:
        print_json({"total": len(rows), "in_corpus": sum(r.in_corpus for r in rows), "bases": [r.as_json() for r in shown]})
        return 0
    click.echo(f"法律依据共 {len(rows)} 条，知识库可核验 {sum(r.in_corpus for r in rows)} 条，未收录 {sum(not r.in_corpus for r in rows)} 条")
    print_table(["依据", "知识库条款", "说明", "引用方"], [
        [r.citation, "；".join(r.clauses) or "未收录（无法核验）",
         r.notice or (f"证监会法规目录：{r.catalog_status}" if r.catalog_status else ("" if r.in_corpus else "目录中也未找到")),
         "、".join(r.named_by[:3]) + (f" 等 {len(r.named_by)} 处" if len(r.named_by) > 3 else "")]
        for r in shown
    ])
    return 0


from cli.embedder import tune_embedder  # noqa: E402  (its own module; registered in this group)

kb.add_command(tune_embedder)
