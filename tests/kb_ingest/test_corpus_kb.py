"""The real default corpus, ingested end to end: counts, metadata, case links, re-ingest, search quality."""

from __future__ import annotations

import json
import re

import pytest
from support import CORPUS, DEV, REGULATIONS

from eval.retrieval import evaluate, load_dataset
from kb_ingest.ingest import default_sources, ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration
ARTICLE_HEADING = re.compile(r"^第[〇零一二三四五六七八九十百千]+条", re.M)


def test_every_file_and_case_ingests_without_error(corpus_kb):
    _, con, report = corpus_kb
    assert report.errors == []
    regulations = len(list(REGULATIONS.glob("*.md")))  # 39 files today
    assert sorted(f.status for f in report.files) == ["added"] * regulations + ["cases"]
    assert con.execute("SELECT count(*) FROM documents WHERE state = 'live'").fetchone()[0] == regulations
    assert con.execute("SELECT count(*) FROM cases WHERE state = 'live'").fetchone()[0] == 59


# Counts known from the published texts, for files whose layout differs from the rest (single newlines between
# paragraphs and a full-width space after 第X条): a parser that missed the layout would agree with a regex count.
KNOWN_COUNTS = {"证券期货投资者适当性管理办法": 43, "证券期货经营机构及其工作人员廉洁从业规定": 29}


@pytest.mark.parametrize("path", sorted(REGULATIONS.glob("*.md")), ids=lambda p: p.stem[:16])
def test_article_count_matches_source_headings(corpus_kb, path):
    _, con, _ = corpus_kb
    expected = len(ARTICLE_HEADING.findall(path.read_text(encoding="utf-8")))
    assert expected == KNOWN_COUNTS.get(path.stem, expected)
    stored = con.execute(
        "SELECT count(DISTINCT article_no), min(article_no), max(article_no) FROM chunks JOIN documents d USING (doc_id) "
        "WHERE d.doc_key = ? AND d.state = 'live'", [path.stem]
    ).fetchone()
    assert stored == (expected, 1, expected)


def test_chunks_carry_path_and_document_metadata(corpus_kb):
    _, con, _ = corpus_kb
    path, text, issuer, number = con.execute(
        "SELECT c.path, c.text, d.issuer, d.doc_number FROM chunks c JOIN documents d USING (doc_id) "
        "WHERE d.doc_key = '证券公司监督管理条例' AND c.article = '第三十四条'"
    ).fetchone()
    assert path.startswith("《证券公司监督管理条例》第三章")
    assert path.endswith("第三十四条")
    assert "不得对证券价格的涨跌或者市场走势做出确定性的判断" in text
    assert (issuer, number) == ("国务院", "中华人民共和国国务院令第522号")
    sec = con.execute(
        "SELECT path FROM chunks JOIN documents d USING (doc_id) WHERE d.doc_key = '中华人民共和国证券法' AND article = '第八十八条'"
    ).fetchone()[0]
    assert sec == "《中华人民共和国证券法》第六章 投资者保护 第八十八条"


def test_catalogue_fills_numbers_and_status_and_citations_say_when_a_text_is_not_current(corpus_kb):
    settings, con, _ = corpus_kb
    rows = dict((r[0], r[1:]) for r in con.execute(
        "SELECT doc_key, doc_number, issuer, status, status_note FROM documents WHERE state = 'live'").fetchall())
    assert rows["证券期货投资者适当性管理办法"][:3] == ("证监会令第130号", "中国证券监督管理委员会", "现行有效")
    assert rows["中华人民共和国证券法"][0] == "主席令第37号"
    assert rows["期货交易管理条例"][2] == "已修改" and "国务院令第676号" in rows["期货交易管理条例"][3]
    hit = next(h for h in Searcher(settings, con).search("期货交易管理条例第二十四条", k=3) if h.doc_title == "期货交易管理条例")
    assert "更新版本" in hit.notice and "更新版本" in hit.as_json()["notice"]
    current = Searcher(settings, con).search("证券法第一百三十五条", k=1)[0]
    assert current.doc_title == "中华人民共和国证券法" and current.notice == ""


def test_long_articles_are_split_by_paragraph_within_limit(corpus_kb):
    settings, con, _ = corpus_kb
    rows = con.execute("SELECT path, paragraphs, length(text) FROM chunks WHERE paragraphs IS NOT NULL").fetchall()
    assert rows, "the corpus has articles longer than the limit"
    for path, paragraphs, length in rows:
        assert re.search(r"第\d+(-\d+)?款$", path)
        assert length <= settings.article_max_chars or "-" not in paragraphs


def test_case_fields_and_links_resolve_to_clauses(corpus_kb):
    _, con, _ = corpus_kb
    case = con.execute("SELECT authority, date, measure_type, penalty FROM cases WHERE case_id = 'case-0037'").fetchone()
    assert case[0].startswith("中国证券监督管理委员会海南监管局") and case[2] == "行政处罚"
    linked = con.execute(
        "SELECT ch.article, d.doc_key FROM case_citations l JOIN chunks ch USING (chunk_id) JOIN documents d USING (doc_id) "
        "WHERE l.case_id = 'case-0037' ORDER BY ch.article_no"
    ).fetchall()
    assert ("第一百三十六条", "中华人民共和国证券法") in linked
    # The clause knows its cases too.
    searcher_cases = con.execute(
        "SELECT DISTINCT case_id FROM case_citations l JOIN chunks ch USING (chunk_id) JOIN documents d USING (doc_id) "
        "WHERE d.doc_key = '中华人民共和国证券投资基金法' AND ch.article = '第二十条'"
    ).fetchall()
    assert {"case-0048", "case-0049"} <= {r[0] for r in searcher_cases}


def test_citations_of_an_older_version_are_not_linked_to_the_current_text(corpus_kb):
    _, con, _ = corpus_kb
    rows = con.execute(
        "SELECT chunk_id, note FROM case_citations WHERE case_id = 'case-0033' AND law = '证券法'"
    ).fetchall()
    assert rows and all(chunk is None for chunk, _ in rows)
    assert all("版本" in note for _, note in rows)


def test_reingesting_unchanged_corpus_is_a_no_op(corpus_kb):
    settings, con, _ = corpus_kb
    before = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    report = ingest(settings, con, default_sources(settings), actor="test")
    assert report.index_version is None
    assert {f.status for f in report.files} == {"unchanged", "cases"}
    assert con.execute("SELECT max(seq) FROM audit_log").fetchone()[0] == before


def test_direct_lookup_returns_the_named_provision_first(corpus_kb):
    settings, con, _ = corpus_kb
    searcher = Searcher(settings, con)
    hit = searcher.search("证券法第八十条", k=3)[0]
    assert (hit.doc_title, hit.article, hit.match) == ("中华人民共和国证券法", "第八十条", "lookup")
    hit = searcher.search("《广告法》第九条第三项是怎么规定的", k=3)[0]
    assert (hit.doc_title, hit.article) == ("中华人民共和国广告法", "第九条")
    assert "最佳" in hit.text


def test_unrelated_question_finds_no_basis(corpus_kb):
    settings, con, _ = corpus_kb
    searcher = Searcher(settings, con)
    for query in ("今天天气怎么样", "红烧肉怎么做才好吃", "足球世界杯冠军是谁"):
        assert searcher.search(query, k=5) == []


def test_similar_cases_and_clause_cases(corpus_kb):
    settings, con, _ = corpus_kb
    searcher = Searcher(settings, con)
    ids = [c.case_id for c in searcher.search_cases("财富经理拿到客户交易密码，长期替客户买卖股票", k=5)]
    assert {"case-0032", "case-0037", "case-0040"} & set(ids)
    hit = searcher.search("证券法第一百三十六条", k=1)[0]
    assert "case-0037" in [c["case_id"] for c in searcher.cases_for_chunks([hit.chunk_id])[hit.chunk_id]]


def test_hybrid_beats_bm25_only_and_dense_only_on_dev_questions(corpus_kb):
    settings, con, _ = corpus_kb
    report = evaluate(Searcher(settings, con), load_dataset(DEV / "retrieval_questions.jsonl"))
    hybrid, bm25, dense = (report["modes"][m]["overall"] for m in ("hybrid", "bm25", "dense"))
    for metric in ("hit@5", "mrr"):
        assert hybrid[metric] > bm25[metric], metric
        assert hybrid[metric] > dense[metric], metric
    assert hybrid["hit@5"] >= 0.7
    print(json.dumps({m: report["modes"][m]["overall"] for m in report["modes"]}, ensure_ascii=False))


def test_corpus_is_read_from_shared_not_copied(corpus_kb):
    settings, con, _ = corpus_kb
    sources = [r[0] for r in con.execute("SELECT source_path FROM documents").fetchall()]
    assert all(s.startswith(str(CORPUS.resolve())) for s in sources)
