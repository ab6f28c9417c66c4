"""Reading the audit log for a person: details tagged above the reader's clearance are hidden in the list and the
export (hashes kept, the chain still verifies), and the export's CSV cannot smuggle a formula."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from support import make_settings

from comply import audit
from comply.db import connect, transaction

pytestmark = pytest.mark.integration

ROWS = [
    ("case.add", {"level": "秘密", "title": "内部调查：营销人员违规承诺收益（青鸾计划）"}),
    ("doc.add", {"level": "内部", "doc_key": "员工执业行为守则"}),
    ("doc.add", {"level": "公开", "doc_key": "证券公司监督管理条例"}),
    ("user.create", {"role": "admin"}),
    ("case.add", {"level": 2, "title": "数字标注的秘密案例"}),
    ("case.add", {"level": "绝密", "title": "未知密级的案例"}),
]


@pytest.fixture()
def logged(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("COMPLY_AUDIT_KEY_FILE", str(key))
    settings = make_settings(tmp_path / "data", audit_key_file=key)
    con = connect(settings.db_path)
    for action, detail in ROWS:
        with transaction(con):
            audit.append(con, '=HYPERLINK("http://evil.example","点我")', action, None, detail)
    return settings, con


@pytest.mark.parametrize("clearance, shown", [(0, [3, 4]), (1, [2, 3, 4]), (2, [1, 2, 3, 4, 5, 6])])
def test_details_above_the_readers_clearance_are_hidden(logged, clearance, shown):
    from comply.audit_view import REDACTED, query

    _, con = logged
    rows = {r["seq"]: r for r in query(con, clearance=clearance)}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6], "every row is listed"
    assert [seq for seq, r in sorted(rows.items()) if r["detail"] != REDACTED] == shown
    assert all(len(r["hash"]) == 64 for r in rows.values())
    assert audit.verify(con).ok


def test_the_export_hides_classified_details_and_defuses_formulas(logged):
    from comply.audit_view import REDACTED, export_zip

    settings, con = logged
    report, data = export_zip(con, settings, clearance=0)
    assert report.ok
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert sorted(bundle.namelist()) == ["audit_checkpoints.jsonl", "audit_log.csv", "audit_public_key.pem", "verify.json"]
        text = bundle.read("audit_log.csv").decode("utf-8-sig")
    assert "青鸾计划" not in text and "员工执业行为守则" not in text and "证券公司监督管理条例" in text
    table = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sum(r["detail"] == REDACTED for r in table) == 4
    assert {r["actor"] for r in table} == {"'=HYPERLINK(\"http://evil.example\",\"点我\")"}
