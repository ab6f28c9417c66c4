"""Every audit action the code base writes has a Chinese name; details read as fields; times and dates are Beijing's."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from support import PROJECT, make_settings

from comply.audit_names import ACTION_NAMES, action_name, detail_text
from comply.text import beijing_time
from comply.audit_view import REDACTED, query, readable
from comply.db import connect

# The third argument of ``audit.append(con, actor, ACTION, ...)`` and the first item of a corpus change's event tuple.
APPEND = re.compile(r"\baudit\.append\(\s*[^,]+,\s*[^,]+,\s*([^,]+),")
EVENT = re.compile(r"\bevents(?:\.append\(|=\[)\(\s*([^,]+),")
LITERAL = re.compile(r"""(f?)["']([^"']*)["']""")
WORD = re.compile(r"""["'](\w+)["']""")


def _sources() -> list[Path]:
    packages = [p for p in PROJECT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"]
    return [PROJECT / "app.py", *(f for package in packages for f in package.rglob("*.py"))]


def _expand(template: str, text: str, at: int) -> list[str]:
    """An f-string action (``f"{kind}.import"``) with each word literal its enclosing function is called with."""
    function = re.findall(r"\bdef (\w+)\(", text[:at])[-1]
    words = {w for args in re.findall(rf"(?<!def ){function}\(([^)]*)\)", text) for w in WORD.findall(args)}
    assert words, f"cannot tell which actions {template!r} stands for"
    return [re.sub(r"\{\w+\}", w, template) for w in sorted(words)]


def _actions(expr: str, text: str, at: int, where: str) -> list[str]:
    """The action codes an argument expression can be: its literals, or those assigned to the name it is."""
    literals = LITERAL.findall(expr)
    if literals:
        return [code for f, s in literals for code in (_expand(s, text, at) if f else [s])]
    name = re.escape(expr.strip())
    assigned = re.findall(rf"^\s*{name}\s*(?::[^=\n]+)?=\s*(.+)$", text, re.M)
    if assigned:
        return [s for line in assigned for _f, s in LITERAL.findall(line)]
    assert re.search(rf"\bfor {name}\b.*\bin [\w.]*events\b", text), f"{where}: cannot resolve the action {name!r}"
    return []  # the events' actions are collected where the events are made


def appended_actions() -> dict[str, str]:
    """Every action code the code base appends to the audit log, with where it was first seen."""
    found: dict[str, str] = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for pattern in (APPEND, EVENT):
            for m in pattern.finditer(text):
                where = f"{path.relative_to(PROJECT)}:{text.count(chr(10), 0, m.start()) + 1}"
                for code in _actions(m.group(1), text, m.start(), where):
                    found.setdefault(code, where)
    return found


def test_every_appended_action_has_a_chinese_name_and_every_name_an_action():
    found = appended_actions()
    assert {"auth.ok", "auth.fail", "qa.ask", "review.library.import", "doc.hold", "case.add", "index.swap",
            "kb.tune_embedder", "clients.import", "holdings.import", "market.import"} <= set(found), "the scan finds them"
    unnamed = {code: where for code, where in found.items() if code not in ACTION_NAMES}
    assert not unnamed, f"name these actions in comply/audit_names.ACTION_NAMES: {unnamed}"
    assert not set(ACTION_NAMES) - set(found), "a named action that the code no longer writes"
    assert all(re.search(r"[\u4e00-\u9fff]", name) for name in ACTION_NAMES.values())
    assert action_name("auth.ok") == "登录成功" and action_name("new.thing") == "new.thing"


def test_a_detail_reads_as_labelled_fields():
    text = detail_text({
        "reason": "invalid", "first_in_window": True, "source": None, "granted_at": "2026-01-01T17:30:00+00:00",
        "stages": {"rules": "ok", "llm": "off"}, "retrieved": [f"c{i}" for i in range(7)],
        "citations": [{"n": 1, "verified": False}], "sha256": "ab" * 32, "replaces": [],
    })
    assert text == ("原因：用户名或密码错误；窗口内首次：是；来源：—；授权时间：2026-01-02 01:30:00；环节：rules=ok，llm=off；"
                    "检索条款：c0、c1、c2、c3、c4 等 7 项；引用：（n=1，已核验=否）；文件哈希：abababababab…；替换：—")
    assert detail_text({}) == "—" and "{" not in text and "None" not in text
    assert detail_text({"role": "admin", "level": "admin"}, {("role", "admin"): "管理员"}) == "角色：管理员；密级：admin"


def test_times_are_shown_in_beijing_time_to_the_second():
    assert beijing_time("2026-12-06T18:29:05.123456+00:00") == "2026-12-07 02:29:05"
    assert beijing_time("2026-12-06T18:29:05") == "2026-12-07 02:29:05", "a time without a zone is UTC"
    assert beijing_time("yesterday") == "yesterday", "a hand-written row does not break the page"


@pytest.mark.integration
def test_the_date_filter_takes_beijing_dates_and_readable_rows_keep_redaction(tmp_path):
    con = connect(make_settings(tmp_path / "data").db_path)
    rows = [(1, "2026-01-01T15:59:59.999999+00:00", "doc.add", '{"level":"公开","doc_key":"甲"}'),  # Beijing 1 Jan 23:59
            (2, "2026-01-01T16:00:00.000000+00:00", "doc.add", '{"level":"秘密","doc_key":"乙"}'),  # Beijing 2 Jan 00:00
            (3, "2026-01-02T15:59:59.000000+00:00", "odd.code", "{}")]  # Beijing 2 Jan 23:59
    con.executemany("INSERT INTO audit_log (seq, ts, actor, action, target, detail, prev_hash, hash) "
                    "VALUES (?, ?, 'alice', ?, NULL, ?, 'p', 'h')", rows)

    def seqs(start: date, end: date) -> list[int]:
        return [r["seq"] for r in query(con, start=start, end=end, clearance=2)]

    assert seqs(date(2026, 1, 1), date(2026, 1, 1)) == [1]
    assert seqs(date(2026, 1, 2), date(2026, 1, 2)) == [3, 2]
    assert seqs(date(2026, 1, 1), date(2026, 1, 2)) == [3, 2, 1]
    shown = {r["seq"]: r for r in readable(query(con, clearance=0))}
    assert shown[1] == {"seq": 1, "ts": "2026-01-01 23:59:59", "actor": "alice", "operation": "新增文档", "action": "doc.add",
                        "target": "—", "detail": "密级：公开；文档：甲", "hash": "h"}
    assert shown[2]["detail"] == REDACTED and shown[3]["operation"] == "odd.code" and shown[3]["detail"] == "—"
