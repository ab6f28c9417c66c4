"""Citation verification on hand-made clauses: markers, quotes, normalisation. A sentence citing [n] must say
something clause n says (a bare "不能[1]" asserts nothing it could be checked against)."""

from __future__ import annotations

from assistant.qa.prompt import Clause, answer_messages, clause_block
from assistant.qa.verify import verify

CLAUSES = [
    Clause(1, "sec-135", "中华人民共和国证券法", "第一百三十五条", "《证券法》第一百三十五条",
           "证券公司不得对客户证券买卖的收益或者赔偿证券买卖的损失作出承诺。", 0),
    Clause(2, "reg-46", "证券公司监督管理条例", "第四十六条", "《证券公司监督管理条例》第四十六条",
           "证券公司从事证券资产管理业务，不得有下列行为：\n(一)向客户做出保证其资产本金不受损失或者保证其取得最低收益的承诺；", 0),
]


def test_markers_in_range_verify_and_others_are_removed():
    result = verify("证券公司不得对客户的收益作出承诺[1]。资管业务不得保证客户取得最低收益[2]。见第三条[3]。", CLAUSES)
    assert result.text == "证券公司不得对客户的收益作出承诺[1]。资管业务不得保证客户取得最低收益[2]。见第三条。"
    assert [(c.n, c.verified) for c in result.citations] == [(1, True), (2, True), (3, False)]
    assert "不在检索到的条款中" in result.citations[2].reason
    bare = verify("不能[1]。", CLAUSES)
    assert bare.text == "不能。" and bare.claims[0].supported is False


def test_marker_variants_are_normalised():
    result = verify("证券公司不得对客户的收益作出承诺【1】。证券公司不得作出承诺[1，2]。", CLAUSES)
    assert result.text == "证券公司不得对客户的收益作出承诺[1]。证券公司不得作出承诺[1][2]。"
    assert all(c.verified for c in result.citations) and len(result.citations) == 2


def test_verbatim_quote_verifies_even_across_whitespace():
    result = verify("条例规定“不得有下列行为： (一)向客户做出保证其资产本金不受损失”[2]。", CLAUSES)
    assert result.citations[0].verified and result.text.endswith("[2]。")


def test_quote_not_in_the_cited_clause_fails_that_sentence():
    result = verify("法律规定“证券公司不得对客户证券买卖的收益作出承诺”[2]。证券公司不得对客户的收益作出承诺[1]。", CLAUSES)
    assert result.text == "法律规定“证券公司不得对客户证券买卖的收益作出承诺”。证券公司不得对客户的收益作出承诺[1]。"
    by_n = {c.n: c for c in result.citations}
    assert not by_n[2].verified and "逐字" in by_n[2].reason and by_n[1].verified


def test_a_sentence_is_supported_only_by_every_clause_it_cites():
    result = verify("“保证其取得最低收益的承诺”[1][2]。", CLAUSES)
    assert result.text == "“保证其取得最低收益的承诺”[2]。", "the clause that does not hold the quote loses its marker"
    assert [c.n for c in result.supported] == [2] and result.claims[0].supported is False


def test_answer_without_markers_has_no_citations():
    result = verify("不能承诺收益。", CLAUSES)
    assert result.citations == [] and result.supported == []


def test_long_clauses_are_cut_in_the_prompt():
    long = Clause(3, "x", "某法", "第一条", "《某法》第一条", "甲" * 1000, 0)
    block = clause_block([long], 50)
    assert block.endswith("……") and 40 <= block.count("甲") <= 50
    messages = answer_messages("问题", [long], 50)
    assert [m["role"] for m in messages] == ["system", "user"] and block in messages[1]["content"]


def test_marker_must_match_the_article_the_sentence_names():
    wrong = verify("[1] 《中华人民共和国证券法》第八章 证券公司 第一百三十五条禁止承诺收益。[2]《证券法》第135条也禁止。", CLAUSES)
    assert [(c.n, c.verified) for c in wrong.citations] == [(1, True), (2, False)]
    assert "不符" in wrong.citations[1].reason and "[2]" not in wrong.text
    right = verify("依据《证券公司监督管理条例》第四十六条，不得保证最低收益[2]。", CLAUSES)
    assert right.supported and right.supported[0].n == 2
    bare = verify("[1] 第四十六条：不得保证最低收益。", CLAUSES)
    assert bare.citations[0].verified is False and bare.text == " 第四十六条：不得保证最低收益。"
