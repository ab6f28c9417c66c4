"""Ingest files into the knowledge base: plan the change per file, then apply it atomically."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from tqdm import tqdm

from comply.config import Settings
from comply.files.errors import ReadError
from comply.levels import level_name
from corpus import describe
from kb_ingest.cases import read_cases
from kb_ingest.documents import parse_document
from kb_ingest.pipeline import CorpusChange, NewDocument, apply_change
from kb_ingest.screening import Screener

CASE_SUFFIXES = {".jsonl"}


@dataclass
class FileResult:
    """What happened to one input: added, replaced, unchanged, held, level_changed, cases or error."""

    path: str
    status: str
    message: str = ""
    kind: str | None = None
    doc_id: str | None = None
    chunks: int = 0
    flags: list[dict] = field(default_factory=list)


@dataclass
class IngestReport:
    """The per-file results and the index version that went live (None when nothing changed)."""

    files: list[FileResult]
    index_version: int | None

    @property
    def errors(self) -> list[FileResult]:
        """The inputs that failed."""
        return [f for f in self.files if f.status == "error"]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"index_version": self.index_version, "files": [asdict(f) for f in self.files]}


def default_sources(settings: Settings) -> list[Path]:
    """The default corpus: every regulation file and the case JSONL files."""
    found = describe(settings)
    return found.regulations + found.case_files


def collect_files(paths: list[Path]) -> tuple[list[Path], list[FileResult]]:
    """Expand folders into their files (sorted, hidden ones skipped); missing paths become error results.

    Unsupported files found in a folder are kept, so that the report names them instead of dropping them silently.
    """
    files, problems = [], []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(FileResult(str(path), "error", f"{path}：文件不存在", "missing"))
    return files, problems


def _existing(con: duckdb.DuckDBPyConnection, doc_key: str) -> tuple[str, str, int, str] | None:
    return con.execute(
        "SELECT doc_id, content_hash, level, state FROM documents WHERE doc_key = ? AND state IN ('live', 'held') "
        "ORDER BY version DESC LIMIT 1", [doc_key]
    ).fetchone()


def _plan_document(settings, con, path, level, screener, change, seen_keys) -> FileResult:
    try:
        doc = parse_document(path, settings)
    except ReadError as exc:
        return FileResult(str(path), "error", exc.message, exc.kind)
    if doc.doc_key in seen_keys:
        return FileResult(str(path), "error", f"{path.name}：同一批次中已有同名文档 {doc.doc_key}", "duplicate")
    seen_keys.add(doc.doc_key)
    previous = _existing(con, doc.doc_key)
    if previous and previous[1] == doc.content_hash:
        if previous[2] == level:
            return FileResult(str(path), "unchanged", "内容未变，跳过", doc_id=previous[0])
        change.doc_updates[previous[0]] = {"level": level}
        change.events.append(("doc.level", previous[0], {"doc_key": doc.doc_key, "from": level_name(previous[2]), "to": level_name(level)}))
        return FileResult(str(path), "level_changed", f"密级改为 {level_name(level)}", doc_id=previous[0])
    hits = screener.screen(doc.text)
    flags = [{"rule": h.rule, "match": h.match, "offset": h.offset} for h in hits]
    held = bool(hits)
    change.new_docs.append(NewDocument(doc, level, held, hits, previous[0] if previous else None))
    detail = {"doc_key": doc.doc_key, "hash": doc.content_hash, "level": level_name(level), "chunks": len(doc.chunks)}
    if held:
        change.events.append(("doc.hold", doc.doc_id(), {**detail, "flags": flags}))
        return FileResult(str(path), "held", "命中敏感词，已进入待审队列，管理员批准后才会上线", doc_id=doc.doc_id(), chunks=len(doc.chunks), flags=flags)
    if previous:
        change.doc_updates[previous[0]] = {"state": "replaced"}
        change.events.append(("doc.replace", doc.doc_id(), {**detail, "replaces": previous[0]}))
        return FileResult(str(path), "replaced", f"替换旧版本 {previous[0]}", doc_id=doc.doc_id(), chunks=len(doc.chunks))
    change.events.append(("doc.add", doc.doc_id(), detail))
    return FileResult(str(path), "added", "", doc_id=doc.doc_id(), chunks=len(doc.chunks))


def _plan_cases(settings, con, path, level, change) -> list[FileResult]:
    try:
        records, problems = read_cases(path, int(settings.max_file_mb * 2**20))
    except ReadError as exc:
        return [FileResult(str(path), "error", exc.message, exc.kind)]
    stored = dict(((r[0], (r[1], r[2])) for r in con.execute("SELECT case_id, content_hash, level FROM cases WHERE state = 'live'").fetchall()))
    changed = 0
    for record in records:
        if stored.get(record.case_id) == (record.content_hash, level):
            continue
        change.case_upserts.append((record, level))
        action = "case.replace" if record.case_id in stored else "case.add"
        change.events.append((action, record.case_id, {"hash": record.content_hash, "level": level_name(level), "title": record.title}))
        changed += 1
    results = [FileResult(str(path), "cases", f"{len(records)} 条案例，其中 {changed} 条新增或更新")]
    results += [FileResult(str(path), "error", msg, "invalid") for msg in problems]
    return results


def ingest(
    settings: Settings, con: duckdb.DuckDBPyConnection, paths: list[Path], level: int = 0, actor: str = "system", progress: bool = False
) -> IngestReport:
    """Ingest files and folders; bad files are reported and skipped, the rest go live together."""
    files, results = collect_files(paths)
    screener = Screener.from_file(settings.sensitive_words_file)
    change, seen_keys = CorpusChange(), set()
    for path in tqdm(files, desc="解析", unit="个文件", disable=not progress or len(files) < 5, file=sys.stderr):
        if path.suffix.lower() in CASE_SUFFIXES:
            results += _plan_cases(settings, con, path, level, change)
        else:
            results.append(_plan_document(settings, con, path, level, screener, change, seen_keys))
    version = apply_change(settings, con, change, actor, progress)
    return IngestReport(results, version)
