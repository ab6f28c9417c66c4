"""Case JSONL reading and upload screening."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import PROJECT

from comply.config import load_settings
from comply.files.errors import ReadError
from kb_ingest.cases import read_cases
from kb_ingest.screening import Screener

CASES = load_settings().corpus_dir / "cases" / "cases.jsonl"  # the shared corpus unless COMPLY_CORPUS says otherwise
PROJECT_WORDS = PROJECT / "config" / "sensitive_words.txt"
needs_cases = pytest.mark.skipif(not CASES.is_file(), reason="shared corpus not present")


# --- cases -------------------------------------------------------------------------------------

@needs_cases
def test_read_real_cases() -> None:
    cases, problems = read_cases(CASES, 50 * 2**20)
    assert problems == []
    assert len(cases) == 59
    assert len({c.case_id for c in cases}) == 59
    assert all(c.title and c.source_path == str(CASES.resolve()) for c in cases)
    by_id = {c.case_id: c for c in cases}
    penalty = [(c.law, c.article_no, c.paragraph_no) for role, c in by_id["case-0025"].citations if role == "penalty"]
    assert ("证券法", 193, 3) in penalty
    assert any(role == "text" for c in cases for role, _ in c.citations)


def _case(case_id: str | None, title: str = "某证券公司营业部被出具警示函") -> str:
    obj = {"title": title, "legal_basis_violated": ["《证券法》第五十六条"], "full_text": "依据《证券法》第一百九十三条"}
    if case_id is not None:
        obj["id"] = case_id
    return json.dumps(obj, ensure_ascii=False)


def test_read_cases_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "bad_cases.jsonl"
    lines = [
        _case("c-1"),
        '{"id": "c-2", "title": "缺右括号"',
        _case(None),
        _case("c-1", "重复编号的另一条"),
        "[1, 2, 3]",
        "",
        _case("c-3"),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cases, problems = read_cases(path, 2**20)
    assert [c.case_id for c in cases] == ["c-1", "c-3"]
    assert cases[0].title == "某证券公司营业部被出具警示函"  # the first c-1 wins
    assert len(problems) == 4
    assert all(p.startswith("bad_cases.jsonl") for p in problems)
    assert "第 2 行" in problems[0] and "JSON" in problems[0]
    assert "第 3 行" in problems[1] and "缺少 id" in problems[1]
    assert "第 4 行" in problems[2] and "c-1" in problems[2] and "重复" in problems[2]
    assert "第 5 行" in problems[3] and "不是 JSON 对象" in problems[3]
    assert [(role, c.article_no) for role, c in cases[0].citations] == [("violated", 56), ("text", 193)]


def test_read_cases_whole_file_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(ReadError) as info:
        read_cases(empty, 2**20)
    assert info.value.kind == "empty" and "empty.jsonl" in info.value.message
    big = tmp_path / "big.jsonl"
    big.write_text(_case("c-1") + "\n", encoding="utf-8")
    with pytest.raises(ReadError) as info:
        read_cases(big, 10)
    assert info.value.kind == "oversize" and "10 字节" in info.value.message
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes((_case("c-9") + "\n").encode("gbk"))
    cases, problems = read_cases(gbk, 2**20)
    assert [c.case_id for c in cases] == ["c-9"] and problems == []


# --- screening ---------------------------------------------------------------------------------

ID_NUMBER = "110101199003071234"
PHONE = "13812345678"


def test_screener_words_patterns_and_masking(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# 注释\n\n绝密\n内幕消息\nre:(?<!\\d)\\d{17}[\\dXx](?!\\d)\nre:(?<!\\d)1[3-9]\\d{9}(?!\\d)\n", encoding="utf-8")
    screener = Screener.from_file(words)
    assert screener.words == ["绝密", "内幕消息"] and len(screener.patterns) == 2
    text = f"客户身份证{ID_NUMBER}，电话{PHONE}，本材料含内幕消息，绝密。"
    hits = screener.screen(text)
    assert [h.offset for h in hits] == sorted(h.offset for h in hits)
    assert [h.rule for h in hits][2:] == ["内幕消息", "绝密"]
    id_hit, phone_hit = hits[0], hits[1]
    assert id_hit.offset == text.index(ID_NUMBER) and phone_hit.offset == text.index(PHONE)
    assert ID_NUMBER not in id_hit.match and id_hit.match == "11" + "*" * 14 + "34"
    assert PHONE not in phone_hit.match and phone_hit.match == "13" + "*" * 7 + "78"
    assert screener.screen("一份普通的产品说明。") == []
    assert len(screener.screen(text, limit=2)) == 2


def test_project_word_list_flags_personal_data() -> None:
    screener = Screener.from_file(PROJECT_WORDS)
    assert screener.words and screener.patterns
    hits = screener.screen(f"附客户名单：张三 {ID_NUMBER} {PHONE}")
    assert "客户名单" in [h.rule for h in hits]
    assert all(ID_NUMBER not in h.match and PHONE not in h.match for h in hits)
    assert sum(h.rule.startswith("re:") for h in hits) == 2


def test_bad_regex_line_is_named(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("绝密\n# 注释\nre:([未闭合\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 3 行"):
        Screener.from_file(words)
    empty_pattern = tmp_path / "empty_pattern.txt"
    empty_pattern.write_text("绝密\nre:\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 2 行"):
        Screener.from_file(empty_pattern)


def test_word_list_with_bom_or_gbk(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("绝密\n严禁外传\n".encode("utf-8-sig"))
    assert [h.rule for h in Screener.from_file(bom).screen("本文件绝密")] == ["绝密"]
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("严禁外传\n".encode("gbk"))
    assert [h.rule for h in Screener.from_file(gbk).screen("严禁外传的材料")] == ["严禁外传"]


def test_missing_word_list_screens_nothing(tmp_path: Path) -> None:
    screener = Screener.from_file(tmp_path / "missing.txt")
    assert screener.screen("绝密 " + ID_NUMBER) == []
