"""Review report exports with the learned stage: each finding's source (a learned one with its score), the learned
model version and how the rewrite was made, in the table, Markdown, Word and PDF; untrusted text stays literal."""

from __future__ import annotations

import io

from docx import Document
from pypdf import PdfReader
from support import SHARED

from review.examples import Example
from review.export import COLUMNS, finding_rows, to_docx, to_markdown, to_pdf
from review.findings import Finding
from review.pipeline import RULES, ReviewReport
from review.stages import LEARNED, RAN, REWRITE, Stage
from review.stages import RULES as RULES_STAGE
from review.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy(SHARED / "eval" / "taxonomy.json")
DRAFT = "本基金保本保收益。收益<b>稳稳</b>的，稳赚不赔。"
LEARNED_SPAN = "收益<b>稳稳</b>的"
VERSION = "rm-20261206-abc123"
NOTE = "未配置大模型，按模板改写：删除<i>承诺</i>收益的表述"
REWRITE_TEXT = "本基金不保本，投资有风险。"


def report(learned: bool = True) -> ReviewReport:
    start = DRAFT.index(LEARNED_SPAN)
    evidence = (Example("<img src=x>保证收益翻倍", "guaranteed_return", "rev-1", 0.91),)
    findings = [
        Finding("保本保收益", 3, 8, "guaranteed_return", "high", "承诺保本", [], "删除保本表述", "rule", rule_id="R001"),
        Finding(LEARNED_SPAN, start, start + len(LEARNED_SPAN), "guaranteed_return", "medium", "学习模型认为暗示收益",
                [], "删除该表述", "model", score=0.873, evidence=evidence),
    ]
    stages = [Stage(RULES_STAGE, RAN), Stage(LEARNED, RAN), Stage(REWRITE, RAN)]
    return ReviewReport(DRAFT, RULES, findings if learned else findings[:1], rewrite=REWRITE_TEXT, rounds=1, stages=stages,
                        learned_version=VERSION if learned else None, rewrite_note=NOTE)


def test_finding_rows_name_the_source_and_give_a_learned_findings_score():
    rows = finding_rows(report().findings, TAXONOMY)
    assert [tuple(r) for r in rows] == [COLUMNS] * 2 and COLUMNS.index("来源") == 3
    assert (rows[0]["来源"], rows[0]["学习模型评分"]) == ("规则", "")
    assert (rows[1]["来源"], rows[1]["学习模型评分"]) == ("学习模型", "87%")
    assert rows[1]["片段"] == LEARNED_SPAN, "a table cell shows the span as is"


def test_markdown_names_the_learned_model_and_the_rewrite_note_escaped():
    md = to_markdown(report(), TAXONOMY, "粘贴文本")
    assert f"- 审核模型：{VERSION}" in md and "- 学习模型：已运行" in md
    assert "- 来源：规则" in md and "- 来源：学习模型" in md and "- 学习模型评分：87%" in md
    assert "### 2. 【承诺收益/保本保收益·中】“收益\\<b\\>稳稳\\</b\\>的”" in md
    rewrite = md.split("## 改写稿（1 轮）\n", 1)[1]
    assert rewrite.lstrip().startswith("改写说明：未配置大模型，按模板改写：删除\\<i\\>承诺\\</i\\>收益的表述")
    assert f"> {REWRITE_TEXT}" in rewrite
    assert "<i>" not in md and "<b>" not in md and "<img" not in md, "no untrusted markup survives"


def test_markdown_without_the_learned_stage_says_it_was_not_enabled():
    md = to_markdown(report(learned=False), TAXONOMY, "粘贴文本")
    assert "- 审核模型：未启用" in md and "学习模型评分" not in md


def test_word_report_has_the_source_column_the_model_version_and_the_rewrite_note():
    doc = Document(io.BytesIO(to_docx(report(), TAXONOMY, "粘贴文本")))
    paragraphs = [p.text for p in doc.paragraphs]
    assert f"审核模型：{VERSION}" in paragraphs
    assert paragraphs.index("改写稿（1 轮）") < paragraphs.index(f"改写说明：{NOTE}") < paragraphs.index(REWRITE_TEXT)
    (findings,) = doc.tables
    assert [c.text for c in findings.rows[0].cells] == list(COLUMNS)
    learned = [c.text for c in findings.rows[2].cells]
    assert learned[:5] == [LEARNED_SPAN, "承诺收益/保本保收益", "中", "学习模型", "87%"]


def test_pdf_report_names_the_learned_model_and_the_rewrite_note_as_text():
    pdf = PdfReader(io.BytesIO(to_pdf(report(), TAXONOMY, "粘贴文本")))
    flat = "".join("".join(page.extract_text() for page in pdf.pages).split())
    assert f"审核模型：{VERSION}" in flat and "学习模型：已运行" in flat
    assert "学习模型" in flat.split("问题清单", 1)[1] and "87%" in flat
    assert flat.index("改写稿（1轮）") < flat.index("改写说明：未配置大模型，按模板改写：删除<i>承诺</i>收益的表述")
