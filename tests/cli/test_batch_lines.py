"""``comply search --queries`` and ``comply review --drafts``: a bad line is reported with its number and the batch goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import make_settings

from comply.db import connect
from kb_ingest.ingest import ingest

RULE = "# 证券营销宣传管理办法\n\n第一条 证券公司不得在营销宣传中承诺保本保收益，不得使用稳赚不赔等用语。\n"
BAD_LINES = [
    b'{"id": "json", "query": ',                      # 2: invalid JSON
    b'["a", "list"]',                                  # 3: not an object
    b'{"id": "none"}',                                 # 4: the text field missing
    b'{"id": "num", "FIELD": 42}',                     # 5: a number
    b'{"id": "null", "FIELD": null}',                  # 6: null
    b'{"id": "sur", "FIELD": "\\ud800\xe4\xbf\x9d"}',  # 7: a lone surrogate
    b'{"id": "gbk", "FIELD": "\xb1\xa3\xb1\xbe"}',     # 8: not UTF-8
]


@pytest.fixture()
def comply(tmp_path: Path):
    """``comply …`` in this process over a one-rule knowledge base: (exit code, stdout lines as JSON, stderr)."""
    from cli.main import cli

    settings = make_settings(tmp_path / "data", max_draft_chars=300)
    con = connect(settings.db_path)
    (tmp_path / "证券营销宣传管理办法.md").write_text(RULE, encoding="utf-8")
    assert ingest(settings, con, [tmp_path / "证券营销宣传管理办法.md"]).errors == []
    con.close()

    def run(*argv: str) -> tuple[int, list[dict], str]:
        result = CliRunner().invoke(cli, list(argv), obj=settings, catch_exceptions=False)
        return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr

    return run


def batch(path: Path, field: str, first: str, last: str) -> Path:
    good = [json.dumps({"id": "first", field: first}, ensure_ascii=False).encode()]
    tail = [json.dumps({"id": "last", field: last}, ensure_ascii=False).encode()]
    path.write_bytes(b"\n".join(good + [line.replace(b"FIELD", field.encode()) for line in BAD_LINES] + [b"", *tail]) + b"\n")
    return path


def assert_bad_lines_reported(lines: list[dict], stderr: str, field: str) -> None:
    errors = lines[1:-1]
    assert [e["line"] for e in errors] == [2, 3, 4, 5, 6, 7, 8]
    assert [e["id"] for e in errors] == [None, None, "none", "num", "null", None, None]
    assert all(set(e) == {"id", "line", "error"} and e["error"] for e in errors)
    assert "JSON" in errors[0]["error"] and "对象" in errors[1]["error"] and f"缺少 {field}" in errors[2]["error"]
    assert "数字" in errors[3]["error"] and "null" in errors[4]["error"]
    assert "代理" in errors[5]["error"] and "UTF-8" in errors[6]["error"]
    assert all(f"第 {n} 行" in stderr for n in range(2, 9))
    assert "Traceback" not in stderr


def test_a_bad_query_line_is_reported_and_the_batch_goes_on(comply, tmp_path: Path) -> None:
    path = batch(tmp_path / "q.jsonl", "query", "证券公司能否承诺保本保收益", "营销宣传不得使用哪些用语")
    code, lines, stderr = comply("search", "--queries", str(path), "-k", "2")
    assert code == 1, "a batch with bad lines exits non-zero once every line was handled"
    assert len(lines) == 9 and (lines[0]["id"], lines[-1]["id"]) == ("first", "last")
    assert lines[0]["hits"] and lines[-1]["hits"]
    assert_bad_lines_reported(lines, stderr, "query")


def test_a_bad_draft_line_is_reported_and_the_batch_goes_on(comply, tmp_path: Path) -> None:
    path = batch(tmp_path / "d.jsonl", "text", "本产品保\u200b本保收益。", "稳\u2060赚不赔，欲购从速！")
    code, lines, stderr = comply("review", "--drafts", str(path), "--no-llm")
    assert code == 1
    assert len(lines) == 9 and (lines[0]["id"], lines[-1]["id"]) == ("first", "last")
    assert_bad_lines_reported(lines, stderr, "text")
    first = lines[0]["findings"]
    assert "guaranteed_return" in {f["category"] for f in first}, "zero-width characters no longer split a phrase"
    assert all("本产品保本保收益。"[f["start"]:f["end"]] == f["span"] for f in first)
    assert any("稳赚不赔" in f["span"] for f in lines[-1]["findings"])


def test_an_empty_or_over_long_draft_line_is_refused_alone(comply, tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    items = [{"id": 1, "text": "保本" * 151}, {"id": 2, "text": "\u200b\u3000"}, {"id": 3, "text": "基金有风险，投资需谨慎。"}]
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n", encoding="utf-8")
    code, lines, stderr = comply("review", "--drafts", str(path), "--no-llm")
    assert code == 1
    assert lines[0]["id"] == 1 and "302" in lines[0]["error"] and "300" in lines[0]["error"]
    assert lines[1]["id"] == 2 and "没有可审核的内容" in lines[1]["error"]
    assert (lines[2]["id"], lines[2]["mode"], lines[2]["findings"]) == (3, "rules", [])
    assert "第 1 行" in stderr and "第 2 行" in stderr


def test_a_clean_batch_exits_zero(comply, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('\ufeff{"id": "a", "query": "承诺保本"}\n\n', encoding="utf-8")
    code, lines, stderr = comply("search", "--queries", str(path))
    assert code == 0 and [line["id"] for line in lines] == ["a"] and stderr == ""
