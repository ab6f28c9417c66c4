"""External benchmarks (issue 15, part 4): LawBench reference-text retrieval and CFLUE exam questions in letters."""

from __future__ import annotations

import json
import re

import pytest
from support import SHARED, tgi_client
from support.tgi_double import Reply

from cli.main import main
from eval import qa, retrieval
from retrieval.search import Searcher

pytestmark = pytest.mark.integration

EXTERNAL = SHARED / "eval" / "external"
LAWBENCH = EXTERNAL / "lawbench_retrieval.jsonl"
CFLUE = EXTERNAL / "cflue_securities_fund_futures_regulation.jsonl"


def _write_jsonl(path, records: list[dict]):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ LawBench retrieval


def test_bigram_coverage_ignores_whitespace_and_punctuation_and_counts_distinct_pairs():
    chunk = "第四条 广告不得含有虚假或者引人误解的内容，\n不得欺骗、误导消费者。"
    assert retrieval.bigram_coverage(chunk, "广告不得含有虚假或者引人误解的内容,不得欺骗 误导消费者") == 1.0
    assert retrieval.reference_bigrams("不得、不得。") == {"不得", "得不"}  # distinct pairs, punctuation gone
    assert retrieval.bigram_coverage(chunk, "不得得不") == pytest.approx(1 / 3)  # 不得 yes; 得不, 得得 no
    assert retrieval.bigram_coverage(chunk, "。，") == 0.0


def test_lawbench_and_dev_formats_are_told_apart_by_their_fields(tmp_path):
    items = retrieval.load_dataset(LAWBENCH)
    assert len(items) == 73 and all(not i.relevant and i.answer_text for i in items)
    assert {i.group for i in items} >= {"中华人民共和国证券法", "中华人民共和国证券投资基金法"}
    dev = retrieval.load_dataset(SHARED / "eval" / "dev" / "retrieval_questions.jsonl")
    assert dev and all(i.relevant and i.group == i.relevant[0][0] for i in dev)
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "query": "问", "relevant": [], "answer_text": "，。 "}])
    with pytest.raises(ValueError, match="第 1 行.*answer_text"):
        retrieval.load_dataset(bad)


def _article(con, doc_like: str, article: str) -> str:
    return con.execute("SELECT c.text FROM chunks c JOIN documents d USING (doc_id) WHERE d.doc_key LIKE ? AND c.article = ? "
                       "ORDER BY length(c.text) DESC LIMIT 1", [doc_like, article]).fetchone()[0]


@pytest.fixture()
def lawbench_items(leveled_kb, tmp_path):
    """A LawBench-format file over the leveled knowledge base: a public article (re-punctuated), a secret one, and a
    reference text the knowledge base does not hold."""
    settings, con = leveled_kb
    public = re.sub(r"[，。；、\s]+", ",", _article(con, "%广告法", "第四条"))
    secret = _article(con, "内部合规手册", "第二条")
    absent = "上市公司持有百分之五以上股份的股东，将其持有的该公司的股票在买入后六个月内卖出，由此所得收益归该公司所有。"
    path = _write_jsonl(tmp_path / "lawbench.jsonl", [
        {"id": "lb-public", "query": "广告法第四条的内容是什么？", "relevant": [], "answer_text": public,
         "laws_mentioned": ["中华人民共和国广告法"]},
        {"id": "lb-secret", "query": "营销人员推介私募产品前须经合规部双人复核，复核代号是什么？", "relevant": [], "answer_text": secret},
        {"id": "lb-absent", "query": "短线交易的收益归谁所有？", "relevant": [], "answer_text": absent},
    ])
    return settings, con, path


def test_retrieval_suite_and_cli_score_reference_texts_at_the_clearance(lawbench_items, monkeypatch, capsys):
    settings, con, path = lawbench_items
    items = retrieval.load_dataset(path)
    public = retrieval.evaluate(Searcher(settings, con), items, clearance=0)
    assert public["relevance"] == "reference_text" and public["n"] == 3
    for mode, report in public["modes"].items():
        ranks = {row["id"]: row["rank"] for row in report["items"]}
        assert ranks["lb-secret"] is None and ranks["lb-absent"] is None, mode
        assert set(report["overall"]) == set(retrieval.METRICS) and "hit@3" in report["overall"]
        assert report["overall"]["hit@1"] <= report["overall"]["hit@3"] <= report["overall"]["hit@5"] <= 1 / 3
    hybrid = public["modes"]["hybrid"]
    assert {row["id"]: row["rank"] for row in hybrid["items"]}["lb-public"] == 1
    assert hybrid["overall"]["mrr"] == pytest.approx(1 / 3, abs=1e-4)
    assert hybrid["per_doc"]["中华人民共和国广告法"]["hit@1"] == 1.0 and hybrid["per_doc"][""]["n"] == 2
    secret = retrieval.evaluate(Searcher(settings, con), items, modes=("bm25",), clearance=2)
    assert {row["id"]: row["hit@5"] for row in secret["modes"]["bm25"]["items"]}["lb-secret"] == 1.0
    # the same file through `comply eval retrieval` (one knowledge base for both: building it takes most of the time)
    con.close()  # the command opens the database itself
    monkeypatch.setenv("COMPLY_DATA", str(settings.data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(settings.corpus_dir))
    assert main(["eval", "retrieval", "--dataset", str(path), "--mode", "hybrid"]) == 0
    out = capsys.readouterr().out
    assert "3 题；命中：片段含参考条文 ≥60% 的二元字组" in out and "hit@3" in out
    assert main(["eval", "retrieval", "--dataset", str(path), "--sample", "2"]) == 2  # --sample is for qa only


# ------------------------------------------------------------------------------------------ CFLUE exam questions


def test_cflue_records_load_with_their_letter_answers(tmp_path):
    items = qa.load_dataset(CFLUE)
    assert len(items) == 537 and all(i.task and i.exam for i in items)
    multiple = [i for i in items if i.multiple]
    assert len(multiple) == 122 and all(i.task == "多项选择题" for i in multiple)
    assert all(set(i.answer) <= set(i.choices) and list(i.answer) == [k for k in i.choices if k in i.answer] for i in items)
    judge = next(i for i in items if i.task == "判断题")
    assert judge.choices == {"A": "对", "B": "错"}
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"task": "单项选择题", "question": "问？", "choices": "{'A': '是', 'B': '否'}",
                                                 "answer": "C"}])
    with pytest.raises(ValueError, match="第 1 行"):
        qa.load_dataset(bad)


@pytest.mark.parametrize(("reply", "expected"), [
    ("B", "B"), ("b", "B"), ("Ｂ", "B"), ("ACD", "ACD"), ("A、C、D", "ACD"), ("D，A", "AD"), ("答案：AC", "AC"),
    ("答案是 B，因为……", "B"), ("B\n解析：A选项错误", "B"), ("正确答案为A和C", "AC"), ("B选项正确", "B"),
    ("答案：\nC", "C"), ("对。", "A"), ("我不知道", None), ("", None), ("E", None), ("ETF", None),
])
def test_parse_letters(reply, expected):
    choices = {"A": "对", "B": "错"} if reply.startswith("对") else {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}
    assert qa.parse_letters(reply, choices) == expected


def test_sample_is_reproducible_and_keeps_dataset_order():
    items = qa.load_dataset(CFLUE)
    first, again, other = (qa.sample(items, 20, seed) for seed in (7, 7, 8))
    assert [i.id for i in first] == [i.id for i in again] != [i.id for i in other]
    assert [int(i.id) for i in first] == sorted(int(i.id) for i in first) and len(first) == 20
    assert qa.sample(items, None, 0) is items and qa.sample(items, 10_000, 0) is items


def _exam_items(tmp_path):
    """Three exam questions: one single-answer about the secret policy, one multiple-answer, one true/false."""
    return qa.load_dataset(_write_jsonl(tmp_path / "exam.jsonl", [
        {"名称": "证券从业资格", "task": "单项选择题", "question": "营销人员向高净值客户推介私募产品前，须经合规部双人复核，其复核代号是（）。",
         "choices": "{'A': '白鹭条款', 'B': '青鸾计划', 'C': '天鹅行动', 'D': '蓝鲸方案'}", "answer": "B", "analysis": ""},
        {"名称": "基金从业资格", "task": "多项选择题", "question": "广告不得含有下列哪些内容（）。",
         "choices": "{'A': '虚假内容', 'B': '引人误解的内容', 'C': '真实的价格信息', 'D': '欺骗消费者的内容'}", "answer": "ABD",
         "analysis": ""},
        {"名称": "期货从业资格", "task": "判断题", "question": "证券公司可以向客户承诺保本保收益。",
         "choices": "{'A': '对', 'B': '错'}", "answer": "B", "analysis": ""},
    ]))


def _replier(items: list[qa.QaItem], closed: dict[str, str], open_book: dict[str, str]):
    """A content_fn answering each question (found by its text) with the scripted reply of its condition."""

    def reply(body: dict) -> str:
        user = body["messages"][-1]["content"]
        item = next(i for i in items if i.question in user)
        return (open_book if "【参考条款】" in user else closed)[item.id]

    return reply


def test_exam_questions_in_letters_with_and_without_retrieval(leveled_kb, tgi, tmp_path):
    settings, con = leveled_kb
    items = _exam_items(tmp_path)
    single, multiple, judge = (i.id for i in items)
    closed = {single: "A", multiple: "A、B", judge: "我认为不可以"}  # wrong, wrong (a subset is not the set), malformed
    open_book = {single: "答案：B", multiple: "ABD", judge: "B"}
    tgi.default_reply = Reply(content_fn=_replier(items, closed, open_book))
    report = qa.evaluate(tgi_client(tgi), Searcher(settings, con), items, settings, clearance=2)
    with_ret, without = report["conditions"]["retrieval"], report["conditions"]["closed"]
    assert (with_ret["accuracy"], with_ret["correct"], with_ret["malformed"], with_ret["errors"]) == (1.0, 3, 0, 0)
    assert (without["accuracy"], without["correct"], without["malformed"], without["errors"]) == (0.0, 0, 1, 0)
    assert "citation_validity" not in with_ret  # letters carry no citations
    assert without["per_task"]["多项选择题"] == {"n": 1, "correct": 0, "accuracy": 0.0}
    assert set(with_ret["per_exam"]) == {"证券从业资格", "基金从业资格", "期货从业资格"}
    rows = {row["id"]: row for row in report["items"]}
    assert rows[multiple]["closed"]["choice"] == "AB" and rows[judge]["closed"]["malformed"] is True
    assert rows[judge]["closed"]["choice"] is None and rows[single]["retrieval"]["choice"] == "B"
    chats = [r.body for r in tgi.chat_requests]
    assert len(chats) == 6 and all(b["max_tokens"] == qa.LETTERS_MAX_TOKENS and "response_format" not in b for b in chats)
    prompts = [b["messages"][-1]["content"] for b in chats]
    assert all("只输出字母" in p for p in prompts) and sum("【参考条款】" in p for p in prompts) == 3
    assert any("多项选择题" in p and "按字母顺序连写" in p for p in prompts)
    # the question and its choices are the query, searched at the evaluator's clearance: the secret clause comes in at 秘密
    secret_prompt = next(p for p in prompts if "【参考条款】" in p and "复核代号" in p)
    assert "复核代号为" in secret_prompt.split("【题目】")[0]
    # ... and at 公开 it is not among the clauses
    report = qa.evaluate(tgi_client(tgi), Searcher(settings, con), items[:1], settings, conditions=("retrieval",), clearance=0)
    assert "复核代号为" not in tgi.chat_requests[-1].body["messages"][-1]["content"].split("【题目】")[0]
    assert report["conditions"]["retrieval"]["correct"] == 1


def test_failed_calls_are_errors_not_malformed(small_kb, tgi, tmp_path):
    settings, _con = small_kb
    items = _exam_items(tmp_path)[1:2]
    tgi.enqueue(*[Reply(status=503)] * 4)
    report = qa.evaluate(tgi_client(tgi), None, items, settings, conditions=("closed",))
    assert report["conditions"]["closed"] == {"accuracy": 0.0, "correct": 0, "errors": 1, "malformed": 0,
                                              "per_task": {"多项选择题": {"n": 1, "correct": 0, "accuracy": 0.0}},
                                              "per_exam": {"基金从业资格": {"n": 1, "correct": 0, "accuracy": 0.0}}}
    assert "error" in report["items"][0]["closed"]


@pytest.fixture()
def qa_cli(small_kb, monkeypatch):
    settings, con = small_kb
    con.close()
    monkeypatch.setenv("COMPLY_DATA", str(settings.data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(settings.corpus_dir))
    return monkeypatch


def test_cli_eval_qa_on_a_cflue_sample(qa_cli, tgi, capsys):
    qa_cli.setenv("COMPLY_LLM_URL", tgi.url)
    items = qa.load_dataset(CFLUE)
    answers = {qa.letter_messages(i, None, 0)[-1]["content"]: i.answer for i in items}  # the right letters for each prompt
    tgi.default_reply = Reply(content_fn=lambda body: answers[body["messages"][-1]["content"]])
    args = ["eval", "qa", "--dataset", str(CFLUE), "--no-retrieval", "--sample", "5", "--seed", "3"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 5 and report["sample"] == {"seed": 3, "of": 537} and list(report["conditions"]) == ["closed"]
    assert report["conditions"]["closed"]["accuracy"] == 1.0
    assert [row["id"] for row in report["items"]] == [i.id for i in qa.sample(items, 5, 3)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "随机抽取 5/537 题（种子 3）" in out and "无检索：准确率 1.000（5/5，出错 0，无法解析 0）" in out
    assert main([*args, "--mode", "closed"]) == 2  # the flag or --mode, not both


def test_cli_eval_qa_without_a_model_reports_no_score(qa_cli, capsys):
    qa_cli.setenv("COMPLY_LLM", "off")
    assert main(["eval", "qa", "--dataset", str(CFLUE), "--sample", "3", "--json"]) == 1
    captured = capsys.readouterr()
    assert "qa 套件需要大模型" in captured.err and "accuracy" not in captured.out
