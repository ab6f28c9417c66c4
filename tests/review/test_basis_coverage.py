"""Legal bases outside the corpus: listed by ``comply kb coverage``, and shown in findings as unverifiable, never as verified."""

from __future__ import annotations

import json

import pytest
from support import CORPUS

from assistant.qa.answer import ask
from cli.main import main
from kb_ingest.ingest import ingest
from corpus.catalog import load_catalog
from review.coverage import coverage, named_bases
from review.export import finding_rows
from review.pipeline import Reviewer
from review.rules import LEXICON_PATH, load_default_rules
from review.taxonomy import load_taxonomy

pytestmark = pytest.mark.integration


def test_every_named_basis_is_listed_with_whether_the_corpus_holds_it(corpus_kb):
    settings, con, _ = corpus_kb
    rules = load_default_rules(settings)
    named = named_bases(rules, load_taxonomy(settings.taxonomy_file), CORPUS / LEXICON_PATH)
    assert all(c.legal_basis[0] in named for c in load_taxonomy(settings.taxonomy_file).categories)
    rows = {r.citation: r for r in coverage(con, named, load_catalog(CORPUS), clearance=0)}
    assert set(rows) == set(named)
    held = rows["《中华人民共和国证券法》第一百三十五条"]
    assert held.in_corpus and held.clauses[0].endswith("第一百三十五条") and held.catalog_status is None
    missing = rows["《证券投资顾问业务暂行规定》第十九条"]
    assert not missing.in_corpus and missing.clauses == () and missing.catalog_status == "现行有效"
    assert any(s.startswith("taxonomy:") for s in missing.named_by)
    assert any(r.named_by[0].startswith("lexicon:") or any(s.startswith("lexicon:") for s in r.named_by) for r in rows.values())


def test_the_command_lists_unresolved_bases_first(small_kb, tmp_path, monkeypatch, capsys):
    settings, con = small_kb
    law = tmp_path / "中华人民共和国广告法.md"
    law.write_text("# 中华人民共和国广告法\n\n" + "\n\n".join(f"第{n}条　第{n}条的内容。" for n in "一二三四") + "\n", encoding="utf-8")
    ingest(settings, con, [law], actor="test")
    con.close()  # the command opens the database itself
    monkeypatch.setenv("COMPLY_DATA", str(settings.data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(CORPUS))
    assert main(["kb", "coverage", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == len(out["bases"]) and out["in_corpus"] == 1
    assert out["bases"][-1]["citation"] == "《中华人民共和国广告法》第四条" and out["bases"][-1]["in_corpus"] is True
    assert out["bases"][0]["in_corpus"] is False
    assert main(["kb", "coverage", "--missing"]) == 0
    text = capsys.readouterr().out
    assert "未收录（无法核验）" in text and "《中华人民共和国广告法》第四条" not in text


def test_a_finding_shows_bases_outside_the_corpus_as_unverifiable(corpus_kb):
    settings, con, _ = corpus_kb
    report = Reviewer(settings, con).review("本基金成立仅3个月，收益率达25%，欢迎认购。", audit=False, rewrite=False)
    finding = next(f for f in report.findings if f.rule_id == "performance_short_period")
    shown = finding.as_json()["unverified_basis"]
    assert any(b.startswith("《公开募集证券投资基金宣传推介材料管理暂行规定》") and "知识库未收录，无法核验" in b for b in shown)
    assert all(c["doc_title"] != "公开募集证券投资基金宣传推介材料管理暂行规定" for c in finding.as_json()["citations"])
    row = finding_rows([finding], load_taxonomy(settings.taxonomy_file))[0]
    assert "无法核验" in row["依据条款"]


def test_an_answer_citing_an_amended_text_says_so(corpus_kb):
    settings, con, _ = corpus_kb
    answer = ask(settings, con, "期货交易管理条例第二十四条是怎么规定的？", client=None)
    cited = [c for c in answer.citations if c.doc_title == "期货交易管理条例"]
    assert cited and all("更新版本" in c.notice and c.as_json()["notice"] == c.notice for c in cited)
