"""Exports of an audit-point checklist: Markdown grouped by chapter and article, CSV, and Word."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from comply.files.office import add_table, csv_text, docx_bytes, word_document
from review.audit_points import AuditPoint


def _chapters(points: Iterable[AuditPoint]) -> Iterator[tuple[str, list[AuditPoint]]]:
    """Points grouped by the hierarchy in their path (编/章/节), in order."""
    group: list[AuditPoint] = []
    current: str | None = None
    for p in points:
        head = p.path.split("》", 1)[-1]
        head = head.split(p.article, 1)[0].strip() if p.article else ""
        if group and head != current:
            yield current or "", group
            group = []
        current = head
        group.append(p)
    if group:
        yield current or "", group


def to_markdown(points: list[AuditPoint], title: str) -> str:
    """A Markdown checklist grouped by chapter and article: "- [ ]" items, each with its 依据条款 and 原文."""
    counts = Counter(p.kind for p in points)
    lines = [f"# {title} 审核要点清单", "",
             f"共 {len(points)} 项（禁止性 {counts['prohibition']} 项，义务性 {counts['obligation']} 项）。", ""]
    for chapter, group in _chapters(points):
        if chapter:
            lines += [f"## {chapter}", ""]
        article = object()
        for p in group:
            if p.article != article:
                article = p.article
                lines += ([""] if lines[-1] else []) + [f"### {p.article or p.path}", ""]
            who = f"{p.subject}：" if p.subject else ""
            lines.append(f"- [ ] {p.n}. 【{p.kind_label}】{who}{p.requirement}（依据：{p.reference}）")
            lines.append(f"  > 原文：{p.source_text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


COLUMNS = ("序号", "类型", "主体", "审核要点", "依据条款", "原文", "文档", "路径", "chunk_id")


def _row(p: AuditPoint) -> list[str]:
    return [str(p.n), p.kind_label, p.subject, p.requirement, p.reference, p.source_text, p.doc_title, p.path, p.chunk_id]


def to_csv(points: list[AuditPoint]) -> str:
    """CSV text starting with a BOM (write it as UTF-8 and Excel opens it correctly)."""
    return csv_text(COLUMNS, (_row(p) for p in points))


def to_docx(points: list[AuditPoint], title: str) -> bytes:
    """A Word document: the title, a summary line and a table 序号/类型/主体/审核要点/依据条款/原文."""
    doc = word_document()
    doc.add_heading(f"{title} 审核要点清单", level=1)
    counts = Counter(p.kind for p in points)
    doc.add_paragraph(f"共 {len(points)} 项（禁止性 {counts['prohibition']} 项，义务性 {counts['obligation']} 项）。")
    add_table(doc, COLUMNS[:6], (_row(p)[:6] for p in points))
    return docx_bytes(doc)
