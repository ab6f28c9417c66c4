"""Deterministic rewrites (review.rewrite) re-reviewed by the real rules, and the acceptance test of a model's rewrite."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import DEV, PROJECT, make_settings

from review.findings import Finding
from review.rewrite import CLAUSE, DELETE, DISCLOSE, REPLACE, SENTENCE, RewriteTemplates, Template, check_candidate, deterministic_rewrite, load_disclosure, load_templates
from review.rules import RuleSet, apply_rules, load_default_rules
from review.taxonomy import load_taxonomy
from review.verify import new_figures

TEMPLATES_FILE = PROJECT / "config" / "rewrite_templates.toml"
DRAFTS = [json.loads(line) for line in (DEV / "review_drafts.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[RuleSet, RewriteTemplates, str, tuple[str, ...]]:
    settings = make_settings(tmp_path_factory.mktemp("rewrite"))
    categories = load_taxonomy(settings.taxonomy_file).ids
    return load_default_rules(settings), load_templates(TEMPLATES_FILE, categories), load_disclosure(settings.disclosures_file), categories


@pytest.fixture(scope="module")
def rules(setup: tuple) -> RuleSet:
    return setup[0]


@pytest.fixture(scope="module")
def templates(setup: tuple) -> RewriteTemplates:
    return setup[1]


@pytest.fixture(scope="module")
def disclosure(setup: tuple) -> str:
    return setup[2]


def _rewrite(text: str, rules: RuleSet, templates: RewriteTemplates, disclosure: str, findings: list[Finding] | None = None, **kw):
    def rereview(t: str) -> list[Finding]:
        return apply_rules(t, rules)

    return deterministic_rewrite(text, apply_rules(text, rules) if findings is None else findings, rereview, templates, disclosure, **kw)


_UNTIDY = (r"[，、；。！？]{2,}", r"(^|\n)[ \t]*[，、；。！？]", r"\n[ \t]*\n", r"“”|（）|【】")


def _assert_tidy(original: str, rewritten: str) -> None:
    """No more doubled punctuation, lines starting with a clause mark, empty lines or emptied brackets than the original had."""
    for pattern in _UNTIDY:
        assert len(re.findall(pattern, rewritten)) <= len(re.findall(pattern, original)), (pattern, rewritten)


def test_shipped_templates_cover_every_category(setup: tuple) -> None:
    _, templates, disclosure, categories = setup
    assert set(templates.by_category) == set(categories) and len(categories) == 10
    assert templates.get("missing_risk_disclosure").action == DISCLOSE
    assert templates.get("guaranteed_return").action == CLAUSE
    assert disclosure == "投资有风险，选择需谨慎。过往业绩不代表未来表现。"


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d["id"])
def test_every_dev_draft_rewrites_clean(draft: dict, rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = draft["text"]
    findings = apply_rules(text, rules)
    result = _rewrite(text, rules, templates, disclosure)
    assert result.remaining == [] and apply_rules(result.text, rules) == []
    assert new_figures(text, result.text) == []
    assert result.text.strip()
    _assert_tidy(text, result.text)
    if findings:
        assert result.text != text and result.edits and 1 <= result.rounds <= 4
    else:  # a clean draft is returned unchanged
        assert (result.text, result.edits, result.rounds) == (text, [], 0)


def test_dev_drafts_include_both_flagged_and_clean_ones(rules: RuleSet) -> None:
    flagged = sum(bool(apply_rules(d["text"], rules)) for d in DRAFTS)
    assert len(DRAFTS) == 40 and 25 <= flagged < 40


def test_clauses_go_with_their_punctuation(rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = "本基金是业内最强的债基，保本保收益，欲购从速。基金有风险，投资需谨慎。"
    result = _rewrite(text, rules, templates, disclosure)
    assert result.text == "本基金是债基。基金有风险，投资需谨慎。"
    assert [(e.before, e.after, e.category, e.action) for e in result.edits] == [
        ("业内最强的", "", "absolute_terms", DELETE),
        ("保本保收益", "", "guaranteed_return", CLAUSE),
        ("欲购从速", "", "improper_solicitation", CLAUSE),
    ]
    _assert_tidy(text, result.text)


def test_a_removed_line_leaves_no_empty_line(rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = "【稳健理财】\n持有就是赚，稳赚不赔！\n认购起点10元。\n本基金“保本保收益”。\n投资有风险，选择需谨慎。"
    result = _rewrite(text, rules, templates, disclosure)
    assert result.text == "【稳健理财】\n认购起点10元。\n投资有风险，选择需谨慎。"
    _assert_tidy(text, result.text)
    assert result.remaining == []


def test_missing_disclosure_is_appended_once(rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = "近三年累计收益率42.6%，建议逢低关注。\n本基金近一年净值增长率12.84%。"
    findings = apply_rules(text, rules)
    assert sum(f.category == "missing_risk_disclosure" for f in findings) >= 1
    doubled = findings + [f for f in findings if f.category == "missing_risk_disclosure"]
    result = _rewrite(text, rules, templates, disclosure, findings=doubled)
    assert result.text == f"{text}\n{disclosure}"
    assert [e.action for e in result.edits] == [DISCLOSE] and result.remaining == [] and result.rounds == 1


def _finding(text: str, span: str, category: str) -> Finding:
    start = text.index(span)
    return Finding(span, start, start + len(span), category, "high", "", [], "", "llm")


def test_overlapping_findings_are_merged(rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = "我们的投顾是全国最专业的团队，每年稳稳拿到8%不是问题，欢迎咨询。市场有风险，投资需谨慎。"
    findings = [
        _finding(text, "全国最专业", "absolute_terms"),         # delete
        _finding(text, "最专业的团队，每年稳稳拿到", "guaranteed_return"),  # clause, overlapping the delete
        _finding(text, "稳稳拿到8%", "performance_display"),      # clause, inside the same clauses
    ]
    result = _rewrite(text, rules, templates, disclosure, findings=findings)
    assert result.edits[0].action == CLAUSE and result.edits[0].before == "我们的投顾是全国最专业的团队，每年稳稳拿到8%不是问题"
    assert len(result.edits) == 1
    assert result.text == "欢迎咨询。市场有风险，投资需谨慎。"
    assert result.remaining == []


def test_overlapping_replace_and_delete_keep_the_larger_edit(rules: RuleSet, disclosure: str) -> None:
    templates = RewriteTemplates({"absolute_terms": Template(REPLACE, "优质"), "misleading_statement": Template(DELETE)})
    text = "本基金是顶级产品，欢迎了解。基金有风险，投资需谨慎。"
    findings = [_finding(text, "顶级", "absolute_terms"), _finding(text, "是顶级", "misleading_statement")]
    result = _rewrite(text, rules, templates, disclosure, findings=findings)
    assert [(e.before, e.action) for e in result.edits] == [("是顶级", DELETE)]
    assert result.text == "本基金产品，欢迎了解。基金有风险，投资需谨慎。"


def test_replace_uses_the_template_text(rules: RuleSet, disclosure: str) -> None:
    templates = RewriteTemplates({"absolute_terms": Template(REPLACE, "专业")})
    text = "我们拥有顶级投研团队。基金有风险，投资需谨慎。"
    result = _rewrite(text, rules, templates, disclosure)
    assert result.text == "我们拥有专业投研团队。基金有风险，投资需谨慎。"
    assert result.edits[0].after == "专业" and result.remaining == []


def test_what_the_templates_cannot_fix_loses_its_sentence(rules: RuleSet, disclosure: str) -> None:
    templates = RewriteTemplates({"absolute_terms": Template(REPLACE, "最强")})  # re-flagged every round
    text = "认购起点10元。我们是业内最强团队，服务周到。基金有风险，投资需谨慎。"
    result = _rewrite(text, rules, templates, disclosure, max_rounds=2)
    assert result.rounds == 3 and result.edits[-1].action == SENTENCE
    assert [e.before for e in result.edits] == ["业内最强", "最强", "我们是最强团队，服务周到。"]
    assert result.text == "认购起点10元。基金有风险，投资需谨慎。" and result.remaining == []


def _write_templates(tmp_path: Path, edit: tuple[str, str]) -> Path:
    path = tmp_path / "templates.toml"
    path.write_text(TEMPLATES_FILE.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (("[personal_info]", "[personal_infos]"), "“personal_infos”不是审查类别"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "erase"'), "改写模板“absolute_terms”的 action“erase”无效"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "replace"'), "改写模板“absolute_terms”的 action 为 replace，必须给出"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "replace"\ntext = "前5%"'), "改写模板“absolute_terms”的 text 含有数字（5）"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "delete"\ntext = "优质"'), "改写模板“absolute_terms”的 action 为 delete，不应给出 text"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "delete"\nwith = 1'), "改写模板“absolute_terms”有未知字段“with”"),
    (('[absolute_terms]\naction = "delete"', ""), "缺少类别“absolute_terms”"),
    (('[personal_info]\naction = "clause"', ""), "缺少类别“personal_info”"),
    (('[absolute_terms]\naction = "delete"', '[absolute_terms]\naction = "replace"\ntext = 3'), "改写模板“absolute_terms”的 text 必须是文字"),
    (("[personal_info]", "[personal_info"), "无法读取改写模板文件"),
])
def test_bad_templates_file_gives_a_clear_error(tmp_path: Path, setup: tuple, edit: tuple[str, str], message: str) -> None:
    path = _write_templates(tmp_path, edit)
    assert path.read_text(encoding="utf-8") != TEMPLATES_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_templates(path, setup[3])


def test_a_category_that_is_not_a_table_is_an_error(tmp_path: Path, setup: tuple) -> None:
    path = _write_templates(tmp_path, ('[personal_info]\naction = "clause"', ""))
    path.write_text('personal_info = "clause"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("改写模板“personal_info”必须是一个表（[personal_info]）")):
        load_templates(path, setup[3])


def test_check_candidate_accepts_a_clean_rewrite_without_new_figures(rules: RuleSet) -> None:
    original = "本基金近一年净值增长率12.84%，每年稳稳拿到5%以上不是问题。"
    verdict = check_candidate(original, "本基金近一年净值增长率12.84%。基金有风险，投资需谨慎。", lambda t: apply_rules(t, rules))
    assert verdict.accepted and verdict.findings == [] and verdict.invented == []


def test_check_candidate_rejects_remaining_problems_and_invented_figures(rules: RuleSet) -> None:
    original = "本基金近一年净值增长率12.84%，每年稳稳拿到5%以上不是问题。"

    def rereview(t: str) -> list[Finding]:
        return apply_rules(t, rules)

    still = check_candidate(original, "本基金保本保收益，稳赚不赔。", rereview)
    assert not still.accepted and still.reason == f"改写稿复审仍有 {len(still.findings)} 个问题" and still.findings
    invented = check_candidate(original, "本基金近一年净值增长率12.84%，年化约6.5%。基金有风险，投资需谨慎。", rereview)
    assert not invented.accepted and invented.invented == ["6.5"] and invented.reason == "改写稿出现原文没有的数字：6.5"
    both = check_candidate(original, "本基金保本保收益，年化约6.5%。", rereview)
    assert both.reason == f"改写稿复审仍有 {len(both.findings)} 个问题；改写稿出现原文没有的数字：6.5"
    empty = check_candidate(original, "  ", rereview)
    assert not empty.accepted and empty.reason == "改写稿为空"


def test_a_document_level_finding_can_outlive_the_fallback(rules: RuleSet, templates: RewriteTemplates, disclosure: str) -> None:
    text = "近三年累计收益率42.6%。\n现通过APP设置定投，每月最低100元起，申购费1折。"
    assert [f.category for f in apply_rules(text, rules)] == ["missing_risk_disclosure"]
    no_rounds = _rewrite(text, rules, templates, disclosure, max_rounds=0)  # the disclosure is never appended
    assert no_rounds.text == "现通过APP设置定投，每月最低100元起，申购费1折。" and no_rounds.rounds == 1
    assert [f.category for f in no_rounds.remaining] == ["missing_risk_disclosure"]
    assert _rewrite(text, rules, templates, disclosure).remaining == []
