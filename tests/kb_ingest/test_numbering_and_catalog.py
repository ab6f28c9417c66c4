"""Ingest refuses skipped or repeated article numbers with the numbers, and fills metadata from the catalogue."""

from __future__ import annotations

import shutil

from support import CORPUS

from comply.audit import verify
from kb_ingest.ingest import ingest
from kb_ingest.numbering import numbering_problems

FUTURES = """# 期货交易管理条例

2016年2月6日 《国务院关于修改部分行政法规的决定》第三次修订

<!-- INFO END -->

第一条　为了规范期货交易行为，制定本条例。
第二条　任何单位和个人从事期货交易，应当遵守本条例。
"""


def test_numbering_problems_name_the_numbers():
    assert numbering_problems([1, 2, 3]) == ""
    assert numbering_problems([]) == ""
    assert numbering_problems([1, 2, 4, 5]) == "缺少第三条"
    assert numbering_problems([1, 2, 2, 3]) == "重复出现第二条"
    assert numbering_problems([2, 3]) == "缺少第一条"
    assert "顺序颠倒：第二条" in numbering_problems([1, 3, 2])
    # A typo or a hostile number is named, never expanded into a list of a billion missing articles.
    assert numbering_problems([1, 999_999_999]) == "编号超出范围：第999999999条"
    assert numbering_problems([1, 0]) == "编号超出范围：第0条"


def test_a_file_whose_articles_skip_or_repeat_is_reported_and_not_merged(small_kb, tmp_path):
    settings, con = small_kb
    skipped = tmp_path / "跳号规定.md"
    skipped.write_text("# 跳号规定\n\n第一条　一。\n\n第二条　二。\n\n第四条　四。\n", encoding="utf-8")
    repeated = tmp_path / "重号规定.md"
    repeated.write_text("# 重号规定\n第一条　一。\n第二条　二。\n第二条　又一个二。\n第三条　三。\n", encoding="utf-8")
    good = tmp_path / "期货交易管理条例.md"
    good.write_text(FUTURES, encoding="utf-8")
    report = ingest(settings, con, [skipped, repeated, good], actor="test")
    errors = {e.path.rsplit("/", 1)[-1]: e for e in report.errors}
    assert errors["跳号规定.md"].kind == "numbering" and "缺少第三条" in errors["跳号规定.md"].message
    assert errors["重号规定.md"].kind == "numbering" and "重复出现第二条" in errors["重号规定.md"].message
    keys = {r[0] for r in con.execute("SELECT doc_key FROM documents").fetchall()}
    assert keys == {"期货交易管理条例"}  # the good file of the batch still goes live


def test_catalogue_metadata_fills_the_header_and_follows_a_catalogue_update(small_kb, tmp_path):
    settings, con = small_kb
    path = tmp_path / "期货交易管理条例.md"
    path.write_text(FUTURES, encoding="utf-8")
    ingest(settings, con, [path], actor="test")
    issuer, number, status, note = con.execute(
        "SELECT issuer, doc_number, status, status_note FROM documents WHERE doc_key = '期货交易管理条例'").fetchone()
    # The text predates every catalogued version: no 文号 is borrowed from the later one.
    assert (issuer, number, status) == ("国务院", None, "已修改")
    assert "2017-03-01" in note

    # The catalogue is updated (the rule repealed): re-ingesting the unchanged file updates its status, audited.
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS / "catalog", corpus / "catalog")
    csv_path = next((corpus / "catalog").glob("*.csv"))
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    csv_path.write_text("\n".join(line.replace(",1,国务院,", ",3,国务院,") if line.startswith("期货交易管理条例,") else line
                                  for line in lines) + "\n", encoding="utf-8")
    updated = settings.model_copy(update={"corpus_dir": corpus})
    report = ingest(updated, con, [path], actor="test")
    assert [f.status for f in report.files] == ["unchanged"] and "效力状态" in report.files[0].message
    assert con.execute("SELECT status FROM documents WHERE doc_key = '期货交易管理条例' AND state = 'live'").fetchone()[0] == "已废止"
    event = con.execute("SELECT detail FROM audit_log WHERE action = 'doc.metadata'").fetchone()
    assert event is not None and "已废止" in event[0]
    assert verify(con, updated).ok
    # Nothing changed since: a third run is a plain no-op.
    assert ingest(updated, con, [path], actor="test").files[0].message == "内容未变，跳过"
