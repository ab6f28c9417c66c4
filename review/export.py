"""Review report downloads (pure functions): the findings and the hints as tables, Markdown, Word and PDF.

Every report says which stages ran (and why any did not), the learned model that reviewed the draft, the draft's
genre and how the rewrite was made; each finding names the stage that found it (a learned one with its score). The
model's hints are listed apart from the findings: they are counted in no verdict and rewritten by nobody.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from comply.files.office import add_table, docx_bytes, word_document
from review.findings import Finding
from review.gate import Hint
from review.pipeline import LLM, ReviewReport
from review.taxonomy import Taxonomy

if TYPE_CHECKING:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Table

SEVERITY = {"high": "高", "medium": "中", "low": "低"}
COLUMNS = ("片段", "类别", "严重程度", "来源", "学习模型评分", "原因", "依据条款", "改写建议", "相似案例")
SOURCES = {"rule": "规则", "model": "学习模型", "llm": "大模型", "baseline": "关键词基线", "suitability": "适当性"}
HINTS_TITLE = "待复核提示（大模型单独提出，未计入结论，不触发改写）"
HINT_COLUMNS = ("片段", "类别", "说明", "建议", "置信度", "原因")
STAGES_TITLE = "审核环节"
UNCALIBRATED = "未校准"
NO_BASIS = "（知识库中无对应条款）"
PDF_FONT = "STSong-Light"
LEARNED_TITLE = "审核模型"
NOT_ENABLED = "未启用"


def category_name(taxonomy: Taxonomy, category: str) -> str:
    """The Chinese name of a category (its id when the taxonomy does not know it)."""
    try:
        return taxonomy.get(category).name_zh
    except KeyError:
        return category


NO_CASE = "无相关案例"  # no case shares the finding's clause or category: none is shown rather than an unrelated one


def _cases(f: Finding) -> str:
    return "；".join(c.title for c in f.cases) or NO_CASE


def source_name(source: str) -> str:
    """The Chinese name of the stage that found a finding (规则 / 学习模型 / 大模型 / …; the code when unknown)."""
    return SOURCES.get(source, source)


def score_text(score: float | None) -> str:
    """A learned finding's calibrated score as a percentage; empty for findings of other stages."""
    return "" if score is None else f"{score:.0%}"


def finding_rows(findings: list[Finding], taxonomy: Taxonomy) -> list[dict[str, str]]:
    """One row per finding with the columns of :data:`COLUMNS`."""
    return [
        dict(zip(COLUMNS, (f.span, category_name(taxonomy, f.category), SEVERITY.get(f.severity, f.severity),
                           source_name(f.source), score_text(f.score), f.explanation, f.basis_text(NO_BASIS),
                           f.suggestion, _cases(f))))
        for f in findings
    ]


def confidence_text(confidence: float | None) -> str:
    """A hint's calibrated confidence as a percentage, or 未校准 when its model has no calibration."""
    return UNCALIBRATED if confidence is None else f"{confidence:.0%}"


def hint_rows(hints: list[Hint], taxonomy: Taxonomy) -> list[dict[str, str]]:
    """One row per hint with the columns of :data:`HINT_COLUMNS`."""
    return [
        dict(zip(HINT_COLUMNS, (h.span, category_name(taxonomy, h.category), h.explanation, h.suggestion,
                                confidence_text(h.confidence), h.why)))
        for h in hints
    ]


def mode_label(report: ReviewReport) -> str:
    """Which stages counted: 规则, 学习模型 (when a learned model reviewed it), 大模型 (when the model stage ran)."""
    stages = ["规则"] + (["学习模型"] if report.learned_version else []) + (["大模型"] if report.mode == LLM else [])
    return " + ".join(stages) if len(stages) > 1 else "仅规则"


def genre_label(report: ReviewReport) -> str | None:
    """客户持仓报告（自动识别） or （人工选择）; None when the review did not settle a genre."""
    if report.genre is None:
        return None
    return f"{report.genre.name_zh}（{'自动识别' if report.genre_detected else '人工选择'}）"


def learned_label(report: ReviewReport) -> str:
    """审核模型：rm-… (the learned model that reviewed the draft), or 审核模型：未启用."""
    return f"{LEARNED_TITLE}：{report.learned_version or NOT_ENABLED}"


def rewrite_note_label(report: ReviewReport) -> str:
    """改写说明：… (how the rewrite was made); empty when the report has no note."""
    return f"改写说明：{report.rewrite_note}" if report.rewrite_note else ""


def stage_lines(report: ReviewReport) -> list[str]:
    """One line per stage of the review: 大模型：未运行（超时：…）."""
    return [stage.label() for stage in report.stages]


def _summary(report: ReviewReport, source: str, when: datetime) -> list[tuple[str, str]]:
    items = [("来源", source), ("审核方式", mode_label(report)), (LEARNED_TITLE, report.learned_version or NOT_ENABLED)]
    genre = genre_label(report)
    if genre:
        items.append(("体裁", genre))
    items.append(("问题数", str(len(report.findings))))
    if report.hints:
        items.append(("待复核提示", f"{len(report.hints)} 条（未计入问题数）"))
    items += [("生成时间", f"{when:%Y-%m-%d %H:%M}"), ("原文 SHA-256", report.draft_sha256)]
    if report.notice:
        items.append(("说明", report.notice))
    return items


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!~])")


def _md(text: str) -> str:
    """Untrusted text (a draft, a model's explanation) as literal Markdown: syntax characters escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def to_markdown(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> str:
    """A Markdown report: summary, stages, one section per finding, then per hint, the draft and the rewrite (if any)."""
    when = when or datetime.now()
    lines = ["# 文案审核报告", ""]
    lines += [f"- {k}：{_md(v)}" for k, v in _summary(report, source, when)]
    if report.stages:
        lines += ["", f"## {STAGES_TITLE}", "", *(f"- {_md(line)}" for line in stage_lines(report))]
    lines += ["", "## 问题清单", ""]
    if not report.findings:
        lines += ["未发现问题。", ""]
    for n, row in enumerate(finding_rows(report.findings, taxonomy), start=1):
        lines += [f"### {n}. 【{row['类别']}·{row['严重程度']}】“{_md(row['片段'])}”", ""]
        lines += [f"- {k}：{_md(row[k])}" for k in COLUMNS[3:] if row[k]]
        lines.append("")
    if report.hints:
        lines += [f"## {HINTS_TITLE}", ""]
    for n, row in enumerate(hint_rows(report.hints, taxonomy), start=1):
        lines += [f"### 提示 {n}. 【{row['类别']}】“{_md(row['片段'])}”", ""]
        lines += [f"- {k}：{_md(row[k])}" for k in HINT_COLUMNS[2:] if row[k]]
        lines.append("")
    lines += ["## 原文", "", *(f"> {_md(line)}" for line in report.draft.splitlines()), ""]
    if report.rewrite:
        lines += [f"## 改写稿（{report.rounds} 轮）", ""]
        if report.rewrite_note:
            lines += [_md(rewrite_note_label(report)), ""]
        lines += [*(f"> {_md(line)}" for line in report.rewrite.splitlines()), ""]
    return "\n".join(lines).rstrip() + "\n"


def to_docx(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> bytes:
    """A Word report: summary, stages, a findings table (:data:`COLUMNS`), a hints table (:data:`HINT_COLUMNS`),
    the draft and the rewrite."""
    when = when or datetime.now()
    doc = word_document(landscape=True)
    doc.add_heading("文案审核报告", level=1)
    for key, value in _summary(report, source, when):
        doc.add_paragraph(f"{key}：{value}")
    if report.stages:
        doc.add_heading(STAGES_TITLE, level=2)
        for line in stage_lines(report):
            doc.add_paragraph(line)
    doc.add_heading("问题清单", level=2)
    rows = finding_rows(report.findings, taxonomy)
    if rows:
        add_table(doc, COLUMNS, ([row[name] for name in COLUMNS] for row in rows))
    else:
        doc.add_paragraph("未发现问题。")
    if report.hints:
        doc.add_heading(HINTS_TITLE, level=2)
        add_table(doc, HINT_COLUMNS, ([row[name] for name in HINT_COLUMNS] for row in hint_rows(report.hints, taxonomy)))
    doc.add_heading("原文", level=2)
    doc.add_paragraph(report.draft)
    if report.rewrite:
        doc.add_heading(f"改写稿（{report.rounds} 轮）", level=2)
        if report.rewrite_note:
            doc.add_paragraph(rewrite_note_label(report))
        doc.add_paragraph(report.rewrite)
    return docx_bytes(doc)


def _para_text(text: str) -> str:
    """Text for a reportlab Paragraph: XML-escaped, line breaks kept."""
    return escape(text).replace("\n", "<br/>")


def _pdf_table(columns: tuple[str, ...], rows: list[dict[str, str]], widths_mm: tuple[int, ...], cell: ParagraphStyle) -> Table:
    """A gridded reportlab table of ``rows`` (header row repeated on each page), every cell escaped."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    data = [[Paragraph(name, cell) for name in columns]]
    data += [[Paragraph(_para_text(row[name]), cell) for name in columns] for row in rows]
    table = Table(data, colWidths=[w * mm for w in widths_mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def to_pdf(report: ReviewReport, taxonomy: Taxonomy, source: str, when: datetime | None = None) -> bytes:
    """A PDF report (A4 landscape, the CJK CID font STSong-Light): summary, stages, findings and hints tables, draft, rewrite."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    when = when or datetime.now()
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=9.5, leading=14, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=body, fontSize=8.5, leading=12)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    story: list = [Paragraph("文案审核报告", h1)]
    story += [Paragraph(_para_text(f"{k}：{v}"), body) for k, v in _summary(report, source, when)]
    if report.stages:
        story += [Paragraph(STAGES_TITLE, h2), *(Paragraph(_para_text(line), body) for line in stage_lines(report))]
    story.append(Paragraph("问题清单", h2))
    rows = finding_rows(report.findings, taxonomy)
    if rows:
        story.append(_pdf_table(COLUMNS, rows, (34, 22, 12, 16, 14, 50, 42, 44, 32), cell))
    else:
        story.append(Paragraph("未发现问题。", body))
    if report.hints:
        story += [Paragraph(HINTS_TITLE, h2), _pdf_table(HINT_COLUMNS, hint_rows(report.hints, taxonomy), (40, 28, 60, 55, 16, 65), cell)]
    story += [Paragraph("原文", h2), Paragraph(_para_text(report.draft), body)]
    if report.rewrite:
        story += [Spacer(1, 4), Paragraph(f"改写稿（{report.rounds} 轮）", h2)]
        if report.rewrite_note:
            story.append(Paragraph(_para_text(rewrite_note_label(report)), body))
        story.append(Paragraph(_para_text(report.rewrite), body))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title="文案审核报告")
    doc.build(story)
    return buf.getvalue()
