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
from kb_ingest.pipeline import CorpusChange, NewDocument, apply_change, serialised
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


def _last_level(con: duckdb.DuckDBPyConnection, doc_key: str) -> int:
    """The level of the document's latest version in any state (deleted, rejected …), 公开 for a new document."""
    row = con.execute("SELECT level FROM documents WHERE doc_key = ? ORDER BY version DESC LIMIT 1", [doc_key]).fetchone()
    return row[0] if row else 0


def _level_event(doc_key: str | None, old: int, new: int) -> dict:
    """The audit detail of a level change, tagged with the higher level so that lower readers see it redacted."""
    detail = {"from": level_name(old), "to": level_name(new), "level": level_name(max(old, new))}
    return detail if doc_key is None else {"doc_key": doc_key, **detail}


def _lowering_refused(name: str, target: str, stored: int, level: int) -> str:
    """Why an import may not lower a level, and the administrator's audited way to do it."""
    return (f"{name}：知识库中的 {target} 密级为 {level_name(stored)}，导入不能降低密级，本文件未导入。"
            f"如确需降为 {level_name(level)}，请由管理员在“知识库”页面修改密级，或执行 comply docs level {target} {level_name(level)}（记入审计日志）")


_METADATA = ("issuer", "doc_number", "status", "status_note")


def _refresh_metadata(con: duckdb.DuckDBPyConnection, change, path: Path, doc_id: str, doc, level: int) -> FileResult:
    """An unchanged file whose header now reads differently (the catalogue was updated): its 文号, issuer and status follow."""
    stored = con.execute(f"SELECT {', '.join(_METADATA)} FROM documents WHERE doc_id = ?", [doc_id]).fetchone()
    h = doc.header
    parsed = (h.issuer, h.doc_number, h.status, h.status_note)
    if tuple(stored) == parsed:
        return FileResult(str(path), "unchanged", "内容未变，跳过", doc_id=doc_id)
    update = {c: v for c, old, v in zip(_METADATA, stored, parsed) if old != v}
    change.doc_updates[doc_id] = update
    change.events.append(("doc.metadata", doc_id, {"doc_key": doc.doc_key, "level": level_name(level), **{k: v or "" for k, v in update.items()}}))
    return FileResult(str(path), "unchanged", "内容未变；文号、发布机关或效力状态已按法规目录更新", doc_id=doc_id)


def _plan_document(settings, con, path, level: int | None, clearance: int | None, screener, change, seen_keys) -> FileResult:
    try:
        doc = parse_document(path, settings)
    except ReadError as exc:
        return FileResult(str(path), "error", exc.message, exc.kind)
    if doc.doc_key in seen_keys:
        return FileResult(str(path), "error", f"{path.name}：同一批次中已有同名文档 {doc.doc_key}", "duplicate")
    seen_keys.add(doc.doc_key)
    previous = _existing(con, doc.doc_key)
    stored = previous[2] if previous else _last_level(con, doc.doc_key)  # a deleted version's level counts too
    if clearance is not None and stored > clearance:
        return FileResult(str(path), "error", f"{path.name}：无权导入该文件（同名文档的密级高于您的权限）", "forbidden")
    if level is not None and level < stored:
        target = previous[0] if previous else doc.doc_key
        return FileResult(str(path), "error", _lowering_refused(path.name, target, stored, level), "level_lowered")
    if level is None:
        level = stored
    if previous and previous[1] == doc.content_hash:
        if previous[2] == level:
            return _refresh_metadata(con, change, path, previous[0], doc, level)
        change.doc_updates[previous[0]] = {"level": level}
        change.events.append(("doc.level", previous[0], _level_event(doc.doc_key, previous[2], level)))
        return FileResult(str(path), "level_changed", f"密级改为 {level_name(level)}", doc_id=previous[0])
    hits = screener.screen(doc.text)
    flags = [{"rule": h.rule, "match": h.match, "offset": h.offset} for h in hits]
    held = bool(hits)
    change.new_docs.append(NewDocument(doc, level, held, hits, previous[0] if previous else None))
    detail = {"doc_key": doc.doc_key, "hash": doc.content_hash, "level": level_name(level), "chunks": len(doc.chunks)}
    if previous and previous[2] != level:
        change.events.append(("doc.level", doc.doc_id(), _level_event(doc.doc_key, previous[2], level)))
    if held:
        change.events.append(("doc.hold", doc.doc_id(), {**detail, "flags": flags}))
        return FileResult(str(path), "held", "命中敏感词或疑似针对大模型的指令，已进入待审队列，管理员批准后才会上线", doc_id=doc.doc_id(), chunks=len(doc.chunks), flags=flags)
    if previous:
        change.doc_updates[previous[0]] = {"state": "replaced"}
        change.events.append(("doc.replace", doc.doc_id(), {**detail, "replaces": previous[0]}))
        return FileResult(str(path), "replaced", f"替换旧版本 {previous[0]}", doc_id=doc.doc_id(), chunks=len(doc.chunks))
    change.events.append(("doc.add", doc.doc_id(), detail))
    return FileResult(str(path), "added", "", doc_id=doc.doc_id(), chunks=len(doc.chunks))


def _plan_cases(settings, con, path, level: int | None, clearance: int | None, change) -> list[FileResult]:
    try:
        records, problems = read_cases(path, int(settings.max_file_mb * 2**20))
    except ReadError as exc:
        return [FileResult(str(path), "error", exc.message, exc.kind)]
    if clearance is not None:  # any version of a case above the uploader's clearance: refuse the file, naming nothing
        above = con.execute("SELECT count(*) FROM cases WHERE case_id IN (SELECT unnest(?)) AND level > ?",
                            [[r.case_id for r in records], clearance]).fetchone()[0]
        if above:
            return [FileResult(str(path), "error", f"{path.name}：无权导入该文件（其中有案例的密级高于您的权限）", "forbidden")]
    stored = {r[0]: (r[1], r[2]) for r in con.execute("SELECT case_id, content_hash, level FROM cases WHERE state = 'live'").fetchall()}
    if level is not None:
        lowered = [r.case_id for r in records if r.case_id in stored and level < stored[r.case_id][1]]
        if lowered:
            first = lowered[0]
            message = _lowering_refused(path.name, first, stored[first][1], level)
            return [FileResult(str(path), "error", message + (f"（另有 {len(lowered) - 1} 条案例同样如此）" if len(lowered) > 1 else ""),
                               "level_lowered")]
    changed = 0
    for record in records:
        old = stored.get(record.case_id)
        record_level = level if level is not None else (old[1] if old else 0)
        if old == (record.content_hash, record_level):
            continue
        change.case_upserts.append((record, record_level))
        action = "case.replace" if old else "case.add"
        change.events.append((action, record.case_id, {"hash": record.content_hash, "level": level_name(record_level), "title": record.title}))
        if old and old[1] != record_level:
            change.events.append(("case.level", record.case_id, _level_event(None, old[1], record_level)))
        changed += 1
    results = [FileResult(str(path), "cases", f"{len(records)} 条案例，其中 {changed} 条新增或更新")]
    results += [FileResult(str(path), "error", msg, "invalid") for msg in problems]
    return results


@serialised
def ingest(
    settings: Settings, con: duckdb.DuckDBPyConnection, paths: list[Path], level: int | None = None, actor: str = "system",
    progress: bool = False, clearance: int | None = None,
) -> IngestReport:
    """Ingest files and folders; bad files are reported and skipped, the rest go live together.

    ``level`` None keeps the stored level of a document (or case) already in the knowledge base, and gives a new
    one 公开. An explicit level may raise a stored level (audited) but never lower it: that file is refused, since
    lowering is an administrator's audited decision (:func:`kb_ingest.admin.set_level`). ``clearance`` is the
    uploader's (None: the command line's operator, who holds the files): a document whose stored level is above it
    is refused without saying more, so an upload can neither overwrite nor probe it; so is a case file holding a case
    above it.
    """
    files, results = collect_files(paths)
    screener = Screener.from_file(settings.sensitive_words_file)
    change, seen_keys = CorpusChange(), set()
    for path in tqdm(files, desc="解析", unit="个文件", disable=not progress or len(files) < 5, file=sys.stderr):
        if path.suffix.lower() in CASE_SUFFIXES:
            results += _plan_cases(settings, con, path, level, clearance, change)
        else:
            results.append(_plan_document(settings, con, path, level, clearance, screener, change, seen_keys))
    version = apply_change(settings, con, change, actor, progress)
    return IngestReport(results, version)
