"""Review report downloads (pure functions): the findings as a table, Markdown, Word and PDF."""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from comply.files.office import add_table, docx_bytes, word_document
from review.findings import Finding
from review.pipeline import LLM, ReviewReport
from review.taxonomy import Taxonomy

SEVERITY = {"high": "高", "medium": "中", "low": "低"}
COLUMNS = ("片段", "类别", "严重程度", "原因", "依据条款", "改写建议", "相似案例")
NO_BASIS = "（知识库中无对应条款）"
PDF_FONT = "STSong-Light"


def category_name(taxonomy: Taxonomy, category: str) -> str:
    """The Chinese name of a category (its id when the taxonomy does not know it)."""
    try:
        return taxonomy.get(category).name_zh
    except KeyError:
        return category


def _basis(f: Finding) -> str:
    return "；".join(f"《{c.doc_title}》{c.article or ''}" for c in f.citations) or NO_BASIS


def _cases(f: Finding) -> str:
    return "；".join(c.title for c in f.cases)


def finding_rows(findings: list[Finding], taxonomy: Taxonomy) -> list[dict[str, str]]:
    """One row per finding with the columns of :data:`COLUMNS`."""
    return [
        dict(zip(COLUMNS, (f.span, category_name(taxonomy, f.category), SEVERITY.get(f.severity, f.severity),
                           f.explanation, _basis(f), f.suggestion, _cases(f))))
        for f in findings
    ]


def mode_label(report: ReviewReport) -> str:
    """规则 + 大模型 or 仅规则."""
    return "规则 + 大模型" if report.mode == LLM else "仅规则"


def _summary(report: ReviewReport, source: str, when: datetime) -> list[tuple[str, str]]:
    items = [("来源", source), ("审核方式", mode_label(report)), ("问题数", str(len(report.findings))),
             ("生成时间", f"{when:%Y-%m-%d %H:%M}"), ("原文 SHA-256", report.draft_sha256)]
    if report.notice:
        items.append(("说明", report.notice))
    return items


def to_markdown(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> str:
    """A Markdown report: summary, one section per finding, the draft and the rewrite (if any)."""
    when = when or datetime.now()
    lines = ["# 文案审核报告", ""]
    lines += [f"- {k}：{v}" for k, v in _summary(report, source, when)]
    lines += ["", "## 问题清单", ""]
    if not report.findings:
        lines += ["未发现问题。", ""]
    for n, row in enumerate(finding_rows(report.findings, taxonomy), start=1):
        lines += [f"### {n}. 【{row['类别']}·{row['严重程度']}】“{row['片段']}”", ""]
        lines += [f"- {k}：{row[k]}" for k in COLUMNS[3:] if row[k]]
        lines.append("")
    lines += ["## 原文", "", *(f"> {line}" for line in report.draft.splitlines()), ""]
    if report.rewrite:
        lines += [f"## 改写稿（{report.rounds} 轮）", "", *(f"> {line}" for line in report.rewrite.splitlines()), ""]
    return "\n".join(lines).rstrip() + "\n"


def to_docx(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> bytes:
    """A Word report: summary, a findings table with the columns of :data:`COLUMNS`, the draft and the rewrite."""
    when = when or datetime.now()
    doc = word_document(landscape=True)
    doc.add_heading("文案审核报告", level=1)
    for key, value in _summary(report, source, when):
        doc.add_paragraph(f"{key}：{value}")
    doc.add_heading("问题清单", level=2)
    rows = finding_rows(report.findings, taxonomy)
    if rows:
        add_table(doc, COLUMNS, ([row[name] for name in COLUMNS] for row in rows))
    else:
        doc.add_paragraph("未发现问题。")
    doc.add_heading("原文", level=2)
    doc.add_paragraph(report.draft)
    if report.rewrite:
        doc.add_heading(f"改写稿（{report.rounds} 轮）", level=2)
        doc.add_paragraph(report.rewrite)
    return docx_bytes(doc)


def _para_text(text: str) -> str:
    """Text for a reportlab Paragraph: XML-escaped, line breaks kept."""
    return escape(text).replace("\n", "<br/>")


def to_pdf(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> bytes:
    """A PDF report (A4 landscape, the CJK CID font STSong-Light): summary, findings table, draft, rewrite."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    when = when or datetime.now()
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=9.5, leading=14, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=12)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    story: list = [Paragraph("文案审核报告", h1)]
    story += [Paragraph(_para_text(f"{k}：{v}"), body) for k, v in _summary(report, source, when)]
    story.append(Paragraph("问题清单", h2))
    rows = finding_rows(report.findings, taxonomy)
    if rows:
        data = [[Paragraph(name, cell) for name in COLUMNS]]
        data += [[Paragraph(_para_text(row[name]), cell) for name in COLUMNS] for row in rows]
        widths = [w * mm for w in (38, 26, 14, 55, 45, 50, 38)]
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story.append(table)
    else:
        story.append(Paragraph("未发现问题。", body))
    story += [Paragraph("原文", h2), Paragraph(_para_text(report.draft), body)]
    if report.rewrite:
        story += [Spacer(1, 4), Paragraph(f"改写稿（{report.rounds} 轮）", h2), Paragraph(_para_text(report.rewrite), body)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title="文案审核报告")
    doc.build(story)
    return buf.getvalue()
