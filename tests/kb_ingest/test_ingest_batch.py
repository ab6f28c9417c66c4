"""Ingesting batches: bad files are reported one by one while good ones go live; screening holds;
changed files replace their old version; uploads are searchable at their level."""

from __future__ import annotations

import pytest
from support import factories as f

from kb_ingest import admin
from kb_ingest.ingest import ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration


def test_bad_files_fail_alone_and_nothing_of_them_is_indexed(small_kb, tmp_path):
    settings, con = small_kb
    folder = tmp_path / "batch"
    folder.mkdir()
    good = [f.make_text_pdf(folder), f.make_docx(folder, "测试业务细则.docx"), f.make_gbk_txt(folder, "测试业务指引.txt")]
    bad = {
        f.make_encrypted_pdf(folder).name: "encrypted",
        f.make_image_only_pdf(folder).name: "image_only",
        f.make_corrupt_pdf(folder).name: "corrupt",
        f.make_empty_file(folder).name: "empty",
        f.make_blank_pdf(folder).name: "empty",
        f.make_binary_txt(folder).name: "undecodable",
        f.make_fake_docx(folder).name: "corrupt",
        f.make_unsupported_file(folder).name: "unsupported",
    }
    report = ingest(settings, con, [folder, tmp_path / "不存在.pdf"])
    errors = {r.path.rsplit("/", 1)[-1]: r for r in report.errors}
    assert {name: errors[name].kind for name in bad} == bad
    assert errors["不存在.pdf"].kind == "missing"
    assert all(name.split(".")[0] in errors[name].message for name in bad)
    assert sorted(r.status for r in report.files if r.status != "error") == ["added"] * len(good)
    live = {r[0] for r in con.execute("SELECT doc_key FROM documents WHERE state = 'live'").fetchall()}
    assert live == {p.stem for p in good}
    hit = Searcher(settings, con).search("证券公司测试业务管理办法第三条", k=1)[0]
    assert hit.match == "lookup" and "五个工作日内" in hit.text


def test_oversize_file_is_refused(small_kb, tmp_path):
    settings, con = small_kb
    path = f.make_text_pdf(tmp_path, articles=40)
    report = ingest(settings.model_copy(update={"max_file_mb": path.stat().st_size / 2**20 / 2}), con, [path])
    assert [r.kind for r in report.errors] == ["oversize"] and report.index_version is None


def test_flagged_document_is_held_until_approved(small_kb, tmp_path):
    settings, con = small_kb
    path = tmp_path / "客户回访制度.md"
    path.write_text("第一条 回访记录严禁外传。\n\n第二条 回访电话 13812345678 仅用于测试。\n", encoding="utf-8")
    report = ingest(settings, con, [path])
    held = report.files[0]
    assert held.status == "held" and {x["rule"] for x in held.flags} >= {"严禁外传"}
    assert all("13812345678" not in x["match"] for x in held.flags)
    searcher = Searcher(settings, con)
    assert report.index_version is not None
    assert all(h.doc_title != "客户回访制度" for h in searcher.search("客户回访制度第一条", k=5, clearance=2))
    admin.approve(settings, con, held.doc_id, "admin")
    assert searcher.search("客户回访制度第一条", k=1, clearance=2)[0].doc_title == "客户回访制度"
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
    assert "doc.hold" in actions and "doc.approve" in actions


def test_changed_file_replaces_its_old_version(small_kb, tmp_path):
    settings, con = small_kb
    path = tmp_path / "营销管理办法.md"
    path.write_text("第一条 营销人员应当持证上岗。\n\n第二条 宣传材料须经合规审查。\n", encoding="utf-8")
    first = ingest(settings, con, [path]).files[0]
    assert ingest(settings, con, [path]).files[0].status == "unchanged"
    path.write_text("第一条 营销人员应当持证上岗。\n\n第二条 宣传材料须经合规部门书面审查并留痕。\n", encoding="utf-8")
    second = ingest(settings, con, [path]).files[0]
    assert second.status == "replaced" and second.doc_id != first.doc_id
    states = dict(con.execute("SELECT doc_id, state FROM documents").fetchall())
    assert states == {first.doc_id: "replaced", second.doc_id: "live"}
    assert "书面审查并留痕" in Searcher(settings, con).search("营销管理办法第二条", k=1)[0].text
    versions = [r[0] for r in con.execute("SELECT version FROM documents ORDER BY version").fetchall()]
    assert versions == [1, 2]


def test_same_file_with_another_level_changes_only_the_level(small_kb, tmp_path):
    settings, con = small_kb
    path = tmp_path / "营销管理办法.md"
    path.write_text("第一条 营销人员应当持证上岗。\n\n第二条 宣传材料须经合规审查。\n", encoding="utf-8")
    ingest(settings, con, [path], level=0)
    result = ingest(settings, con, [path], level=2).files[0]
    assert result.status == "level_changed"
    assert con.execute("SELECT level FROM documents WHERE state = 'live'").fetchone()[0] == 2
    assert Searcher(settings, con).search("营销管理办法第二条", k=3, clearance=0) == []
