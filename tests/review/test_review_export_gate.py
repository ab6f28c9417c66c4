"""Review report exports under the gate: the genre, the stages that ran, and the model's hints apart from the findings."""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from pypdf import PdfReader
from support import PROJECT, SHARED

from review.export import (
    COLUMNS,
    HINT_COLUMNS,
    HINTS_TITLE,
    hint_rows,
    to_docx,
    to_markdown,
    to_pdf,
)
from review.findings import Finding
from review.gate import Hint
from review.genre import load_genres
from review.pipeline import LLM, RULES, ReviewReport
from review.stages import CASES, MODEL, NOT_NEEDED, RAN, REWRITE, Stage
from review.stages import RULES as RULES_STAGE
from review.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy(SHARED / "eval" / "taxonomy.json")
GENRES = load_genres(PROJECT / "config" / "genres.toml")
DRAFT = "本产品保本保收益。我们的投研团队实力雄厚，<b>服务</b>周到。"
HINT_SPAN = "投研团队实力雄厚，<b>服务</b>"
MD_SPAN = "投研团队实力雄厚，\\<b\\>服务\\</b\\>"  # how Markdown shows it: literally, never as markup
WHY = "仅大模型提出，规则未命中；该模型尚未校准，其单独提出的问题只作提示"


def hint(span: str, confidence: float | None) -> Hint:
    start = DRAFT.index(span)
    return Hint(span, start, start + len(span), "misleading_statement", "无法证实的实力宣传", "删除无法证实的表述",
                0.42, confidence, WHY)


def report(findings: bool = True, hints: bool = True, stages: list[Stage] | None = None, genre: str | None = "fund_promo",
           detected: bool = True) -> ReviewReport:
    found = [Finding("保本保收益", 3, 8, "guaranteed_return", "high", "承诺保本", [], "删除保本表述", "rule")] if findings else []
    ran = [Stage(RULES_STAGE, RAN), Stage(MODEL, RAN), Stage(CASES, RAN), Stage(REWRITE, NOT_NEEDED, "本次未请求改写")]
    return ReviewReport(DRAFT, LLM, found, hints=[hint(HINT_SPAN, None), hint("实力雄厚", 0.734)] if hints else [],
                        stages=ran if stages is None else stages, genre=GENRES[genre] if genre else None,
                        genre_detected=detected, model="test/tgi")


def section(md: str, title: str) -> str:
    """The Markdown under heading ``## title``, up to the next ``## `` heading."""
    rest = md.split(f"\n## {title}\n", 1)[1]
    return rest.split("\n## ", 1)[0]


def test_hint_rows_name_the_category_and_show_the_confidence_or_that_there_is_none():
    rows = hint_rows(report().hints, TAXONOMY)
    assert [tuple(r) for r in rows] == [HINT_COLUMNS] * 2
    assert rows[0] == {"片段": HINT_SPAN, "类别": "虚假/误导性陈述", "说明": "无法证实的实力宣传", "建议": "删除无法证实的表述",
                       "置信度": "未校准", "原因": WHY}
    assert rows[1]["置信度"] == "73%"


def test_markdown_lists_the_hints_after_the_findings_and_counts_none_of_them():
    md = to_markdown(report(), TAXONOMY, "粘贴文本")
    assert "- 体裁：基金宣传推介（自动识别）" in md and "- 审核方式：规则 + 大模型" in md
    assert "- 问题数：1" in md and "- 待复核提示：2 条（未计入问题数）" in md
    assert section(md, "审核环节").split() == ["-", "规则：已运行", "-", "大模型：已运行", "-", "相似案例：已运行",
                                              "-", "改写：未运行（本次未请求改写）"]
    assert md.index("## 问题清单") < md.index(f"## {HINTS_TITLE}") < md.index("## 原文")
    assert "实力雄厚" not in section(md, "问题清单"), "a hint is never listed as a finding"
    hints = section(md, HINTS_TITLE)
    assert f"### 提示 1. 【虚假/误导性陈述】“{MD_SPAN}”" in hints and "- 置信度：未校准" in hints and "- 置信度：73%" in hints
    assert f"- 原因：{WHY}" in hints and "- 建议：删除无法证实的表述" in hints


def test_markdown_without_findings_says_so_and_still_lists_the_hints():
    md = to_markdown(report(findings=False), TAXONOMY, "粘贴文本")
    assert "未发现问题。" in section(md, "问题清单") and "- 问题数：0" in md
    assert MD_SPAN in section(md, HINTS_TITLE)


def test_markdown_marks_a_stage_that_did_not_run_a_chosen_genre_and_no_hints():
    stages = [Stage(RULES_STAGE, RAN), Stage(MODEL, "timeout", "超时：大模型 120 秒内未回复")]
    md = to_markdown(report(hints=False, stages=stages, genre="holding_report", detected=False), TAXONOMY, "粘贴文本")
    assert "- 大模型：未运行（超时：大模型 120 秒内未回复）" in section(md, "审核环节")
    assert "- 体裁：客户持仓报告（人工选择）" in md
    assert HINTS_TITLE not in md and "待复核提示" not in md


def test_a_report_without_genre_or_stages_shows_neither():
    md = to_markdown(ReviewReport(DRAFT, RULES, []), TAXONOMY, "粘贴文本")
    assert "体裁" not in md and "审核环节" not in md and HINTS_TITLE not in md and "- 审核方式：仅规则" in md


def test_word_report_holds_stages_genre_and_a_separate_hints_table():
    doc = Document(io.BytesIO(to_docx(report(), TAXONOMY, "粘贴文本")))
    paragraphs = [p.text for p in doc.paragraphs]
    assert "体裁：基金宣传推介（自动识别）" in paragraphs and "待复核提示：2 条（未计入问题数）" in paragraphs
    assert paragraphs.index("审核环节") < paragraphs.index("大模型：已运行") < paragraphs.index("问题清单")
    assert paragraphs.index("问题清单") < paragraphs.index(HINTS_TITLE) < paragraphs.index("原文")
    findings, hints = doc.tables
    assert [c.text for c in findings.rows[0].cells] == list(COLUMNS) and len(findings.rows) == 2
    assert "实力雄厚" not in "".join(c.text for row in findings.rows for c in row.cells)
    assert [c.text for c in hints.rows[0].cells] == list(HINT_COLUMNS)
    assert [[c.text for c in row.cells] for row in hints.rows[1:]] == [
        [HINT_SPAN, "虚假/误导性陈述", "无法证实的实力宣传", "删除无法证实的表述", "未校准", WHY],
        ["实力雄厚", "虚假/误导性陈述", "无法证实的实力宣传", "删除无法证实的表述", "73%", WHY]]


def test_word_report_without_hints_has_no_hints_table():
    data = to_docx(report(hints=False), TAXONOMY, "粘贴文本")
    assert len(Document(io.BytesIO(data)).tables) == 1
    with zipfile.ZipFile(io.BytesIO(data)) as docx:
        assert HINTS_TITLE not in docx.read("word/document.xml").decode("utf-8")


@pytest.mark.parametrize("findings", [True, False])
def test_pdf_report_shows_the_hints_section_with_markup_as_text(findings):
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(to_pdf(report(findings), TAXONOMY, "粘贴文本"))).pages)
    flat = "".join(text.split())
    assert "审核环节" in flat and "大模型：已运行" in flat and "体裁：基金宣传推介（自动识别）" in flat
    assert flat.index("问题清单") < flat.index("待复核提示（") < flat.rindex("原文")
    assert "<b>服务</b>" in flat and "未校准" in flat and "73%" in flat, "hint text is escaped, shown literally"
