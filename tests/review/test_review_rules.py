"""The deterministic review stage: real taxonomy, real lexicon, real rules file; span scoring; rules vs keyword baseline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import PROJECT

from comply.config import load_settings
from eval.review import evaluate, load_dataset, main, predictor
from review.baseline import apply_baseline
from review.rules import LEXICON_PATH, RuleSet, apply_rules, load_rules
from review.taxonomy import Taxonomy, load_taxonomy

SETTINGS = load_settings()
LEXICON = SETTINGS.corpus_dir / LEXICON_PATH
DEV_DRAFTS = SETTINGS.taxonomy_file.parent / "dev" / "review_drafts.jsonl"
EXTRA_DRAFTS = PROJECT / "eval" / "datasets" / "review_drafts_extra.jsonl"
RISK_NOTE = "投资有风险，入市需谨慎。"

# Fresh examples (not from the dev set), one or more per category.
VIOLATIONS = [
    ("guaranteed_return", "这只理财每年稳稳拿到6%，万一亏了，损失由我们公司承担。"),
    ("guaranteed_return", "明年开春前肯定能回本，您放心拿着。"),
    ("absolute_terms", "我们拥有全国最专业的投研团队，服务品质没有之一。"),
    ("performance_display", "该基金成立才三个月，收益率已达18.5%。"),
    ("performance_display", "预计这只基金明年收益有望达到20%。"),
    ("missing_risk_disclosure", "新品推荐：近一年收益率7.2%，欢迎申购。"),
    ("misleading_statement", "买这款产品和存定期一样，资金还由国家兜底。"),
    ("improper_solicitation", "认购本基金满5万元即送品牌电饭煲，欲购从速。"),
    ("improper_solicitation", "老人小孩都适合，不用做风险测评也能买。"),
    ("illegal_stock_tips", "据内部消息，这只股票下周必涨。"),
    ("discretionary_trading", "您把交易密码告诉我，我替您全权操作，赚了利润三七分成。"),
    ("disparaging_competitors", "某些小券商只会乱收费，把客户当韭菜。"),
    ("personal_info", "恭喜客户赵女士（手机139****5521）本月盈利。"),
    ("improper_solicitation", "资产不够开通两融？可以用网贷先垫一下，满了门槛再还。"),
    ("misleading_statement", "这只基金是证监会官方认证的明星产品。"),
    ("illegal_stock_tips", "市场底已经确认，下周沪指必将重回3200点。"),
    ("disparaging_competitors", "有些基金公司的经理一拿到规模就躺平，收着管理费混日子。"),
]

COMPLIANT = [
    "基金管理人不保证基金一定盈利，也不保证最低收益。基金有风险，投资需谨慎。",
    "本基金不保本，可能发生亏损。",
    "谨防“保本高收益”诈骗，凡是承诺稳赚不赔的都是骗局。",
    "过往业绩不代表未来表现，投资有风险。",
    "货币市场基金不等同于银行存款，不能保证一定盈利。",
    "期货交易实行保证金制度，请投资者注意风险。",
    "请妥善保管交易密码，切勿告知他人，我司工作人员不会向您索要密码。",
    "我司不会代客理财，也不会与客户约定收益分成。投资有风险。",
    "本基金的预期风险和预期收益高于债券型基金。基金有风险，投资需谨慎。",
    "最大回撤是衡量基金风险的重要指标。投资需谨慎。",
    "未经您的单独同意，我们不会向任何第三方提供您的个人信息。",
    "定期定额投资不能保证投资者获得收益，也不是替代储蓄的等效理财方式。",
    "本公司持有中国证监会颁发的经营证券期货业务许可证。市场有风险，投资需谨慎。",
    "无风险利率下行背景下，权益资产估值有望修复。以上仅供参考，不构成投资建议。",
    "产品风险等级分为R1至R5，投资者风险承受能力分为C1至C5，C1型投资者只能购买R1产品。投资有风险。",
]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(SETTINGS.taxonomy_file)


@pytest.fixture(scope="module")
def rules(taxonomy: Taxonomy) -> RuleSet:
    return load_rules(SETTINGS.review_rules_file, taxonomy, LEXICON)


def test_taxonomy_has_exactly_the_file_ids(taxonomy: Taxonomy) -> None:
    raw = json.loads(SETTINGS.taxonomy_file.read_text(encoding="utf-8"))
    assert taxonomy.ids == tuple(c["id"] for c in raw["categories"])
    assert taxonomy.get("personal_info").name_zh == "个人信息不当使用"
    assert all(c.legal_basis for c in taxonomy.categories)
    with pytest.raises(KeyError):
        taxonomy.get("no_such_category")


def test_every_category_is_covered_and_every_lexicon_entry_mapped(rules: RuleSet, taxonomy: Taxonomy) -> None:
    assert {r.category for r in rules.rules} == set(taxonomy.ids)
    assert {c for c, _ in VIOLATIONS} == set(taxonomy.ids)
    lexicon = json.loads(LEXICON.read_text(encoding="utf-8"))["entries"]
    mapped = {t.term for t in rules.lexicon_terms}
    assert {e["term"] for e in lexicon} == mapped
    assert all(t.rule.category in taxonomy.ids for t in rules.lexicon_terms)
    allowed = taxonomy.citations()
    assert all(set(r.legal_basis) <= allowed for r in rules.rules)


@pytest.mark.parametrize(("category", "text"), VIOLATIONS)
def test_a_rule_fires_for_each_category(rules: RuleSet, category: str, text: str) -> None:
    findings = apply_rules(text, rules)
    assert category in {f.category for f in findings}, findings
    hit = next(f for f in findings if f.category == category)
    assert hit.explanation and hit.suggestion and hit.legal_basis and hit.severity in ("high", "medium", "low")


@pytest.mark.parametrize("text", COMPLIANT)
def test_compliant_and_negated_uses_do_not_fire(rules: RuleSet, text: str) -> None:
    assert apply_rules(text, rules) == []


def test_risk_warning_anywhere_silences_missing_disclosure(rules: RuleSet) -> None:
    text = "新品推荐：近一年收益率7.2%，欢迎申购。"
    assert "missing_risk_disclosure" in {f.category for f in apply_rules(text, rules)}
    assert "missing_risk_disclosure" not in {f.category for f in apply_rules(text + "\n" + RISK_NOTE, rules)}


def test_quotations_in_an_anti_fraud_notice_are_not_claims(rules: RuleSet) -> None:
    quoted = "“年化收益保底20%”“内部消息天天有”"
    notice = f"【澄清公告】近期有人在短视频平台开设直播间，主播自称我司员工，宣传{quoted}。\n请通过官方渠道核实，谨防诈骗。"
    assert apply_rules(notice, rules) == []
    claim = f"我们的固收产品主打{quoted}。投资有风险。"
    assert {f.category for f in apply_rules(claim, rules)} == {"guaranteed_return", "illegal_stock_tips"}


def test_spans_are_verbatim_sorted_and_merged(rules: RuleSet) -> None:
    texts = [d.text for d in load_dataset(DEV_DRAFTS)] + [t for _, t in VIOLATIONS]
    for text in texts:
        findings = apply_rules(text, rules)
        assert [f.start for f in findings] == sorted(f.start for f in findings)
        for f in findings:
            assert f.span and text[f.start:f.end] == f.span
        for a in findings:
            for b in findings:
                if a is not b and a.category == b.category:
                    assert a.end <= b.start or b.end <= a.start, (a, b)
    merged = apply_rules("首发额度有限，售完即止，欲购从速！" + RISK_NOTE, rules)
    assert [(f.category, f.span) for f in merged] == [("improper_solicitation", "额度有限，售完即止，欲购从速")]


def test_baseline_is_plain_substring_matching(rules: RuleSet) -> None:
    text = "本基金不保本。业绩名列前茅，欲购从速。"
    found = {(f.span, f.category) for f in apply_baseline(text, rules)}
    assert found == {("保本", "guaranteed_return"), ("名列前茅", "absolute_terms"), ("欲购从速", "improper_solicitation")}
    assert all(text[f.start:f.end] == f.span for f in apply_baseline(text, rules))


def test_rules_beat_the_keyword_baseline_on_dev(rules: RuleSet, taxonomy: Taxonomy) -> None:
    drafts = load_dataset(DEV_DRAFTS)
    by_rules = evaluate(drafts, predictor("rules", rules), taxonomy.ids)
    by_baseline = evaluate(drafts, predictor("baseline", rules), taxonomy.ids)
    assert by_rules["overall"]["f1"] >= 0.65
    assert by_rules["overall"]["f1"] > by_baseline["overall"]["f1"]
    assert by_rules["clean_fp_rate"] <= 0.10
    assert by_baseline["clean_fp_rate"] > by_rules["clean_fp_rate"]


def test_rules_hold_on_the_extra_drafts(rules: RuleSet, taxonomy: Taxonomy) -> None:
    """A regression guard: the 360 extra drafts the rules were generalised on (eval/datasets/README.md)."""
    report = evaluate(load_dataset(EXTRA_DRAFTS), predictor("rules", rules), taxonomy.ids)
    assert report["overall"]["f1"] >= 0.90 and report["overall"]["recall"] >= 0.90
    assert report["clean_fp_rate"] <= 0.05


@dataclass(frozen=True)
class _Pred:
    start: int
    end: int
    category: str


def test_scoring_on_a_hand_made_dataset(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in [
        {"id": "a", "genre": "poster", "text": "甲乙丙丁戊己庚辛", "clean": False,
         "labels": [{"span": "乙丙", "category": "x"}, {"span": "庚辛", "category": "y"}]},
        {"id": "b", "genre": "poster", "text": "子丑寅卯", "clean": True, "labels": []},
    ]) + "\n", encoding="utf-8")
    preds = {
        "甲乙丙丁戊己庚辛": [_Pred(1, 2, "x"), _Pred(4, 5, "x"), _Pred(6, 8, "x")],  # TP, FP, right place wrong category
        "子丑寅卯": [_Pred(0, 1, "z")],
    }
    report = evaluate(load_dataset(path), lambda text: preds[text])
    assert report["overall"] == {"precision": 0.25, "recall": 0.5, "f1": 0.3333,
                                 "n_pred": 4, "tp_pred": 1, "n_label": 2, "tp_label": 1}
    assert report["per_category"]["x"]["precision"] == 0.3333 and report["per_category"]["x"]["recall"] == 1.0
    assert report["per_category"]["y"]["recall"] == 0.0
    assert report["clean_fp_rate"] == 1.0
    assert report["items"][0]["misses"] == [{"category": "y", "span": "庚辛"}]


def test_dataset_with_a_span_not_in_its_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "甲乙", "labels": [{"span": "丙", "category": "x"}]}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="第 1 行"):
        load_dataset(path)


def test_cli_prints_a_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dataset", str(DEV_DRAFTS), "--mode", "baseline", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "baseline" and report["n_drafts"] == 40


_GOOD_RULE = """
[[rules]]
id = "r1"
category = "absolute_terms"
severity = "medium"
kind = "regex"
patterns = ['最强']
explanation = "夸大"
legal_basis = ["《中华人民共和国广告法》第九条第（三）项"]
suggestion = "删除"
"""


@pytest.mark.parametrize(("edit", "message"), [
    (('"absolute_terms"', '"made_up"'), "审查规则“r1”的类别“made_up”不在分类表中"),
    (("'最强'", "'最(强'"), "审查规则“r1”的正则表达式无效"),
    (('severity = "medium"\n', ""), "审查规则“r1”缺少必填字段：severity"),
    (('"medium"', '"urgent"'), "审查规则“r1”的 severity"),
    (("第九条第（三）项", "第九十九条"), "审查规则“r1”的法律依据"),
    (("kind = \"regex\"", "kind = \"regex\"\nunless = ['@nothing']"), "未定义的模式集“@nothing”"),
    (("suggestion = ", "colour = \"red\"\nsuggestion = "), "审查规则“r1”含未知字段：colour"),
    (("\n[[rules]]", "[llm_cues]\nmade_up = ['x']\n\n[[rules]]"), "llm_cues 使用了未知类别“made_up”"),
    (("\n[[rules]]", "[llm_cues]\nabsolute_terms = ['最(']\n\n[[rules]]"), "审查规则“llm_cues.absolute_terms”的正则表达式无效"),
])
def test_bad_rules_file_gives_a_clear_error(tmp_path: Path, taxonomy: Taxonomy, edit: tuple[str, str], message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(_GOOD_RULE.replace(*edit), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_rules(path, taxonomy, None)


def test_unmapped_lexicon_entry_is_an_error(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(_GOOD_RULE, encoding="utf-8")
    with pytest.raises(ValueError, match="没有映射到审查类别"):
        load_rules(path, taxonomy, LEXICON)
    assert load_rules(path, taxonomy, None).rules[0].id == "r1"


def test_the_claim_of_a_passage_leaves_out_disclaimers_and_quotations(rules: RuleSet) -> None:
    """What the learned stage may flag: a claim that ends with a risk warning keeps its claim; a disclaimer alone or a
    quotation in an anti-fraud notice has none."""
    text = "跟着我们买，稳稳拿到8%，亏了算我的，当然投资有风险。"
    claim = rules.claim_span(text, 0, len(text))
    assert claim is not None and text[claim[0]:claim[1]] == "跟着我们买，稳稳拿到8%，亏了算我的"
    disclaimer = "基金有风险，投资需谨慎。"
    assert rules.claim_span(disclaimer, 0, len(disclaimer)) is None
    notice = "【防骗提示】不法分子以“保本保收益、稳赚不赔”为诱饵拉人进群。"
    a = notice.index("“")
    b = notice.index("”") + 1
    assert rules.claim_span(notice, a, b) is None
