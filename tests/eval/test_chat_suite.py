"""The chat faithfulness suite over the real corpus, with the model played by the TGI-protocol test double."""

from __future__ import annotations

import re

import pytest
from support import DEV, clause_text, tgi_client
from support.tgi_double import Reply

from eval.chat import evaluate, format_report, load_questions

pytestmark = pytest.mark.integration


def _first_sentence(body: dict) -> str:
    return re.split(r"[。；\n]", clause_text(body, 1))[0]


def test_faithfulness_counts_what_the_clauses_bear_out(corpus_kb, tgi):
    settings, con, _ = corpus_kb
    items = load_questions(DEV / "retrieval_questions.jsonl")[:3]
    tgi.enqueue(
        Reply(content_fn=lambda body: f"结论：不能。\n依据：“{_first_sentence(body)}”[1]。"),  # one cited sentence, supported
        Reply(content_fn=lambda body: f"结论：不能。\n依据：“{_first_sentence(body)}”[1]。\n说明：另见“无中生有的规定”[2]。"),  # 1 of 2
        Reply(content="未找到依据"),
    )
    report = evaluate(settings, con, tgi_client(tgi), items)
    assert (report["n"], report["n_model_answers"], report["n_answered"]) == (3, 3, 2)
    assert (report["faithfulness"], report["n_cited_sentences"]) == (round(2 / 3, 4), 3)
    assert report["answers_with_unverified"] == 0.5 and report["no_match_rate"] == round(1 / 3, 4)
    assert [r["supported"] for r in report["items"]] == [1, 1, 0]
    text = format_report(report, "dev")
    assert "可信度（引用句得到所引条款支持）：0.667（共 3 句）" in text


def test_a_question_line_without_text_is_refused_by_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "证券公司能否承诺保本？"}\n{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="2"):
        load_questions(path)
