"""``comply review library`` import / export / stats from the command line, in this process over a database of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import DEV, make_settings

from cli.main import cli
from comply.db import connect
from review.library import record_decision

DEV_DRAFTS = DEV / "review_drafts.jsonl"


@pytest.fixture()
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data")


@pytest.fixture()
def run(settings):
    """``comply review library …``: (exit code, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["review", "library", *argv], obj=settings, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_import_stats_and_export(run, settings, tmp_path):
    code, out, _ = run("import", str(DEV_DRAFTS), "--source", "dev", "--user", "alice")
    assert code == 0 and "已导入 40 篇文案、63 条标注；跳过重复文案 0 篇" in out
    code, out, _ = run("import", str(DEV_DRAFTS), "--source", "dev")
    assert code == 0 and "已导入 0 篇文案" in out and "跳过重复文案 40 篇" in out

    con = connect(settings.db_path)
    text = "内部版本：本计划年化收益保底8%，名额有限。"
    record_decision(con, text=text, start=7, end=13, category="guaranteed_return", decision="missed", reviewer="boss",
                    clearance=2)
    con.close()

    code, out, _ = run("stats", "--json")
    assert code == 0 and json.loads(out) == {
        "categories": {"guaranteed_return": {"accepted": 0, "dismissed": 0, "missed": 1}},
        "sources": {"dev": {"drafts": 40, "labels": 63}, "reviewer": {"drafts": 1, "labels": 1}},
    }
    code, out, _ = run("stats")
    assert code == 0 and "采纳" in out and "漏报" in out and "guaranteed_return" in out and "reviewer" in out

    code, out, _ = run("export")  # 公开 by default: the 秘密 reviewer's draft stays out
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 40 and text not in out
    target = tmp_path / "all.jsonl"
    code, _, err = run("export", "--out", str(target), "--level", "秘密")
    assert code == 0 and "已导出 41 篇文案" in err
    assert any(json.loads(line)["text"] == text for line in target.read_text(encoding="utf-8").splitlines())


def test_a_bad_file_is_refused_with_its_line(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "稳赚不赔"}\n{"id": "b", "text": \n', encoding="utf-8")
    code, _, err = run("import", str(bad), "--source", "bad")
    assert code == 1 and "第 2 行格式错误" in err
    code, out, _ = run("stats")
    assert code == 0 and "样本库为空" in out
    code, _, err = run("import", str(DEV_DRAFTS))
    assert code == 2 and "--source" in err


def test_review_still_reviews_drafts_and_lists_the_library(settings):
    result = CliRunner().invoke(cli, ["review", "--help"], obj=settings, catch_exceptions=False)
    assert result.exit_code == 0 and "营销文案合规审核" in result.stdout and "comply review library" in result.stdout
    result = CliRunner().invoke(cli, ["review"], obj=settings, catch_exceptions=False)
    assert result.exit_code == 2 and "请给出一个文件" in result.stderr


def test_options_after_the_file_count(settings, tmp_path):
    """``comply review - --no-llm --json``: options after FILE are read (the group wrapping review once stopped at FILE)."""
    result = CliRunner().invoke(cli, ["review", "-", "--no-llm", "--json", "--genre", "no_such_genre"], obj=settings,
                                input="本基金保本保收益。", catch_exceptions=False)
    assert result.exit_code == 2 and "未知的体裁“no_such_genre”" in result.stderr
