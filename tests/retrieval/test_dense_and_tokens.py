"""Dense backends (exact and HNSW) never return rows beyond the clearance prefix; tokens match sub-words."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.collection import order_by_level, read_collection, write_collection
from retrieval.dense import CpuIndex
from retrieval.expansion import _entries, expansion_terms
from retrieval.tokenize import Tokenizer, legal_terms


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("approximate", [False, True])
def test_search_is_confined_to_the_visible_prefix(approximate):
    vectors = _unit(2000, 32, 1)
    index = CpuIndex.build(vectors, approximate=approximate)
    assert index.kind == ("cpu-hnsw" if approximate else "cpu-flat")
    queries = vectors[1500:1520]  # each query's exact twin lies beyond the limit
    scores, rows = index.search(queries, 10, limit=1000)
    assert (rows < 1000).all() and (rows >= 0).all()
    assert (scores < 0.999).all()
    _, rows = index.search(queries, 1, limit=2000)
    assert (rows[:, 0] == np.arange(1500, 1520)).mean() >= 0.9
    assert np.allclose(index.score_rows(vectors[3], [3, 4]), vectors[[3, 4]] @ vectors[3])


def test_no_rows_visible_means_no_results():
    index = CpuIndex.build(_unit(10, 8, 2), approximate=False)
    scores, rows = index.search(_unit(1, 8, 3), 5, limit=0)
    assert rows.shape == (1, 0)


def test_collection_orders_rows_by_level_and_round_trips(tmp_path):
    levels = [2, 0, 1, 0, 2, 1]
    order, bounds = order_by_level(levels)
    assert [levels[i] for i in order] == [0, 0, 1, 1, 2, 2] and bounds == [2, 4, 6]
    tok = Tokenizer()
    texts = ["证券公司不得承诺收益", "广告不得使用最佳用语", "内部制度一", "公开制度二", "秘密制度三", "内部制度四"]
    meta = write_collection(tmp_path / "c", [f"id{i}" for i in range(6)], levels, _unit(6, 8, 4),
                            [tok.tokens(t) for t in texts], ann_threshold=3)
    assert meta["dense_kind"] == "cpu-hnsw"
    coll = read_collection(tmp_path / "c")
    assert coll.ids[:2] == ["id1", "id3"] and coll.visible(0) == 2
    rows = coll.bm25_search(tok.tokens("秘密制度"), 10, clearance=1)
    assert all(r < 4 for r, _ in rows)
    assert [coll.ids[r] for r, _ in coll.bm25_search(tok.tokens("秘密制度"), 10, clearance=2)][0] == "id4"


def test_subwords_match_inside_longer_words():
    tok = Tokenizer(legal_terms(["中华人民共和国证券法"]))
    bank = tok.tokens("中国农业发展银行")
    assert "农业" in bank and "农业" in tok.tokens("农业")
    law = tok.tokens("违反证券法的规定")
    assert "证券法" in law and "的" not in law


def test_colloquial_words_expand_to_statutory_terms():
    assert expansion_terms("券商员工能不能用父母的账户炒股？")[:5] == ["证券公司", "从业人员", "工作人员", "买卖股票", "证券交易"]
    assert "商业性信息" in expansion_terms("能不能给客户群发营销短信")
    assert "非公开发行" in expansion_terms("定向发行的时候能不能登广告")
    assert {"商业信誉", "客户尽职调查"} <= set(expansion_terms("说隔壁券商要爆雷了；客户不肯说资金来源"))
    # terms already in the question are not added again; a question with no cue gets nothing
    assert "证券公司" not in expansion_terms("证券公司的券商牌照")
    assert expansion_terms("今天天气怎么样") == [] and expansion_terms("") == []
    # every entry has cues and terms, and no term is repeated within an entry
    assert all(cues and terms and len(set(terms)) == len(terms) for cues, terms in _entries())


def test_statutory_terms_of_the_expansion_occur_in_the_corpus():
    """An expansion term that no provision uses could never match: every term must occur in some regulation."""
    from support import REGULATIONS

    text = "".join(p.read_text(encoding="utf-8") for p in REGULATIONS.glob("*.md"))
    missing = sorted({t for _, terms in _entries() for t in terms if t not in text})
    assert missing == []
