"""Ingest safety: a re-ingest never lowers a security level, one short or bad file never sinks a batch, a zip bomb
is refused as one file's error, and a transaction that fails leaves neither changes nor an index folder behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest
from support import SECRET_POLICY
from support import factories as f

from kb_ingest import admin
from kb_ingest.ingest import ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration

PUBLIC, INTERNAL, SECRET = 0, 1, 2


def _live(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple[str, int, str]]:
    return con.execute(
        "SELECT doc_id, level, state FROM documents WHERE doc_key = ? AND state IN ('live', 'held') ORDER BY version", [key]
    ).fetchall()


def _events(con: duckdb.DuckDBPyConnection, action: str) -> list[dict]:
    return [json.loads(r[0]) for r in con.execute("SELECT detail FROM audit_log WHERE action = ? ORDER BY seq", [action]).fetchall()]


def _policy(folder: Path, text: str = SECRET_POLICY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "内部合规手册.md"
    path.write_text(text, encoding="utf-8")
    return path


def _public_texts(settings, con, query: str) -> list[str]:
    return [h.text for h in Searcher(settings, con).search(query, k=10, clearance=PUBLIC)]


def test_reingest_without_level_keeps_the_stored_level(small_kb, tmp_path):
    settings, con = small_kb
    path = _policy(tmp_path / "files")
    doc_id = ingest(settings, con, [path], level=SECRET).files[0].doc_id
    again = ingest(settings, con, [path]).files[0]
    assert (again.status, again.doc_id) == ("unchanged", doc_id)
    path.write_text(SECRET_POLICY.replace("五个工作日", "三个工作日"), encoding="utf-8")
    changed = ingest(settings, con, [path]).files[0]
    assert changed.status == "replaced"
    assert _live(con, "内部合规手册") == [(changed.doc_id, SECRET, "live")]
    assert _events(con, "doc.level") == []
    assert [e["level"] for e in _events(con, "doc.add") + _events(con, "doc.replace")] == ["秘密", "秘密"]
    assert not any("青鸾计划" in text for text in _public_texts(settings, con, "青鸾计划 复核代号"))


def test_a_lower_explicit_level_is_refused_and_points_to_the_audited_admin_path(small_kb, tmp_path):
    settings, con = small_kb
    path = _policy(tmp_path / "files")
    doc_id = ingest(settings, con, [path], level=SECRET).files[0].doc_id
    path.write_text(SECRET_POLICY.replace("五个工作日", "三个工作日"), encoding="utf-8")  # even with new content
    other = f.make_gbk_txt(tmp_path / "files", "测试业务指引.txt")
    report = ingest(settings, con, [path, other], level=PUBLIC)
    refused = report.errors
    assert [(r.kind, Path(r.path).name) for r in refused] == [("level_lowered", "内部合规手册.md")]
    assert refused[0].message == (
        f"内部合规手册.md：知识库中的 {doc_id} 密级为 秘密，导入不能降低密级，本文件未导入。如确需降为 公开，"
        f"请由管理员在“知识库”页面修改密级，或执行 comply docs level {doc_id} 公开（记入审计日志）"
    )
    assert _live(con, "内部合规手册") == [(doc_id, SECRET, "live")]  # the old version, untouched
    assert _live(con, "测试业务指引")[0][1:] == (PUBLIC, "live")  # the rest of the batch landed
    assert not any("青鸾计划" in text for text in _public_texts(settings, con, "青鸾计划 复核代号"))
    admin.set_level(settings, con, doc_id, PUBLIC, "admin")  # the administrator's decision, audited
    assert _events(con, "doc.level") == [{"doc_key": "内部合规手册", "from": "秘密", "to": "公开", "level": "秘密"}]


def test_a_higher_explicit_level_is_applied_and_audited(small_kb, tmp_path):
    settings, con = small_kb
    path = _policy(tmp_path / "files")
    doc_id = ingest(settings, con, [path]).files[0].doc_id
    raised = ingest(settings, con, [path], level=INTERNAL).files[0]
    assert (raised.status, raised.doc_id) == ("level_changed", doc_id)
    path.write_text(SECRET_POLICY + "\n第四条 本手册自发布之日起施行。\n", encoding="utf-8")
    top = ingest(settings, con, [path], level=SECRET).files[0]
    assert top.status == "replaced" and _live(con, "内部合规手册") == [(top.doc_id, SECRET, "live")]
    assert [(e["from"], e["to"]) for e in _events(con, "doc.level")] == [("公开", "内部"), ("内部", "秘密")]


def test_a_new_document_without_level_is_public_and_a_deleted_one_keeps_its_last_level(small_kb, tmp_path):
    settings, con = small_kb
    public = f.make_gbk_txt(tmp_path, "测试业务指引.txt")
    assert ingest(settings, con, [public]).files[0].status == "added"
    assert _live(con, "测试业务指引")[0][1] == PUBLIC
    path = _policy(tmp_path / "files")
    doc_id = ingest(settings, con, [path], level=SECRET).files[0].doc_id
    admin.delete(settings, con, doc_id, "admin")
    path.write_text(SECRET_POLICY.replace("五个工作日", "三个工作日"), encoding="utf-8")
    back = ingest(settings, con, [path]).files[0]
    assert back.status == "added" and _live(con, "内部合规手册") == [(back.doc_id, SECRET, "live")]


def test_case_levels_are_kept_on_reingest_and_lowered_only_by_the_admin(small_kb, tmp_path):
    settings, con = small_kb
    cases = tmp_path / "cases.jsonl"
    record = {"id": "case-secret-1", "title": "内部调查：营销人员违规承诺收益（青鸾计划）",
              "violation_summary": "营销人员向客户承诺保本保收益，违反青鸾计划复核要求。"}
    cases.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ingest(settings, con, [cases], level=SECRET).errors == []
    record["violation_summary"] += "已责令改正。"
    cases.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ingest(settings, con, [cases]).errors == []

    def level() -> int:
        return con.execute("SELECT level FROM cases WHERE case_id = 'case-secret-1'").fetchone()[0]

    assert level() == SECRET
    refused = ingest(settings, con, [cases], level=PUBLIC).errors
    assert [r.kind for r in refused] == ["level_lowered"] and "comply docs level case-secret-1 公开" in refused[0].message
    assert level() == SECRET
    assert Searcher(settings, con).search_cases("承诺保本保收益", k=5, clearance=PUBLIC) == []
    admin.set_level(settings, con, "case-secret-1", PUBLIC, "admin")
    assert level() == PUBLIC and _events(con, "case.level") == [{"from": "秘密", "to": "公开", "level": "秘密"}]
    assert [h.case_id for h in Searcher(settings, con).search_cases("承诺保本保收益", k=5, clearance=PUBLIC)] == ["case-secret-1"]


def test_one_line_files_are_one_chunk_documents_and_a_file_without_text_fails_alone(small_kb, tmp_path):
    settings, con = small_kb
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "会议通知.txt").write_text("公司通知：下周一开会。\n", encoding="utf-8")
    f.make_one_line_pdf(folder, "放假通知.pdf", "公司通知：国庆节放假七天。")
    f.make_gbk_txt(folder, "测试业务指引.txt")
    f.make_blank_pdf(folder)
    report = ingest(settings, con, [folder])
    results = {Path(r.path).name: (r.status, r.chunks) for r in report.files if r.status != "error"}
    assert results == {"会议通知.txt": ("added", 1), "放假通知.pdf": ("added", 1), "测试业务指引.txt": ("added", results["测试业务指引.txt"][1])}
    assert [(Path(r.path).name, r.kind) for r in report.errors] == [("空白页.pdf", "empty")]
    assert report.index_version is not None
    hits = Searcher(settings, con).search("下周一开会", k=3)
    assert hits[0].doc_title == "会议通知" and hits[0].text == "公司通知：下周一开会。"
    assert Searcher(settings, con).search("国庆节放假", k=3)[0].doc_title == "放假通知"


def test_a_zip_bomb_fails_alone_and_fast(small_kb, tmp_path):
    settings, con = small_kb
    folder = tmp_path / "batch"
    folder.mkdir()
    f.make_docx_bomb(folder, "员工手册.docx", expanded_mb=200)
    f.make_docx(folder, "测试业务细则.docx")
    start = time.monotonic()
    report = ingest(settings, con, [folder])
    assert [(Path(r.path).name, r.kind) for r in report.errors] == [("员工手册.docx", "oversize")]
    assert "解压后的内容超过上限 100 MB" in report.errors[0].message
    assert [r.status for r in report.files if r.status != "error"] == ["added"]
    assert time.monotonic() - start < 120  # the good file's embedding included; the bomb alone took minutes


def test_a_failed_transaction_changes_nothing_and_leaves_no_index_folder(small_kb, tmp_path):
    from comply.db import DatabaseBusyError

    settings, con = small_kb
    ingest(settings, con, [f.make_gbk_txt(tmp_path, "测试业务指引.txt")])
    folders = sorted(p.name for p in settings.index_root.iterdir())
    audit_rows = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    other = duckdb.connect(str(settings.db_path))  # another session of the same database, mid-change
    other.execute("BEGIN TRANSACTION")
    other.execute("UPDATE index_versions SET state = 'retired' WHERE state = 'live'")  # another change in flight
    try:
        with pytest.raises(DatabaseBusyError, match="本次操作已整体撤销，没有做任何改动"):
            ingest(settings, con, [_policy(tmp_path / "files")], level=SECRET)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert sorted(p.name for p in settings.index_root.iterdir()) == folders
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audit_rows
    assert _live(con, "内部合规手册") == []
    assert con.execute("SELECT version FROM index_versions WHERE state = 'live'").fetchone()[0] == 1
    assert ingest(settings, con, [_policy(tmp_path / "files")], level=SECRET).index_version == 2  # and it works again


def test_a_deleted_secret_document_cannot_come_back_lower_by_an_explicit_level(small_kb, tmp_path):
    settings, con = small_kb
    path = _policy(tmp_path / "files")
    admin.delete(settings, con, ingest(settings, con, [path], level=SECRET).files[0].doc_id, "admin")
    back = ingest(settings, con, [path], level=PUBLIC).files[0]
    assert (back.status, back.kind) == ("error", "level_lowered") and _live(con, "内部合规手册") == []
    assert ingest(settings, con, [path]).files[0].status == "added" and _live(con, "内部合规手册")[0][1] == SECRET


def test_an_uploader_cannot_overwrite_or_probe_a_document_above_their_clearance(small_kb, tmp_path):
    settings, con = small_kb
    path = _policy(tmp_path / "files")
    doc_id = ingest(settings, con, [path], level=SECRET).files[0].doc_id
    for text in (SECRET_POLICY, SECRET_POLICY.replace("五个工作日", "三个工作日")):  # the same content, then new content
        path.write_text(text, encoding="utf-8")
        refused = ingest(settings, con, [path], clearance=INTERNAL).files[0]
        assert (refused.status, refused.kind) == ("error", "forbidden")
        assert "秘密" not in refused.message and doc_id not in refused.message
    assert _live(con, "内部合规手册") == [(doc_id, SECRET, "live")]


def test_an_uploader_cannot_overwrite_or_probe_a_case_above_their_clearance(small_kb, tmp_path):
    settings, con = small_kb
    cases = tmp_path / "cases.jsonl"
    secret = {"id": "case-s1", "title": "内部调查：违规承诺收益", "violation_summary": "营销人员承诺保本。"}
    cases.write_text(json.dumps(secret, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ingest(settings, con, [cases], level=SECRET).errors == []
    for level in (None, PUBLIC):  # overwrite at the stored level, or probe with a lower one
        cases.write_text(json.dumps({**secret, "title": "已改写"}, ensure_ascii=False) + "\n", encoding="utf-8")
        refused = ingest(settings, con, [cases], level=level, clearance=INTERNAL).files[0]
        assert (refused.status, refused.kind) == ("error", "forbidden")
        assert "case-s1" not in refused.message and "秘密" not in refused.message
    assert con.execute("SELECT title, level FROM cases WHERE case_id = 'case-s1' AND state = 'live'").fetchall() == \
        [("内部调查：违规承诺收益", SECRET)]
