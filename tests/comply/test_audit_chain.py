"""The hash-chained audit log: every corpus change is appended; tampering names the first broken row.

Truncation, recomputed chains, forged rows and the checkpoints are in ``test_audit_anchor.py``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import REGULATIONS, make_settings

from comply import audit
from comply.audit_anchor import bind
from comply.db import connect
from kb_ingest import admin
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture()
def audited_kb(tmp_path):
    settings = make_settings(tmp_path / "data", audit_key_file=tmp_path / "keys" / "audit.key")
    bind(settings)
    con = connect(settings.db_path)
    ingest(settings, con, [REGULATIONS / "中华人民共和国电子签名法.md"], actor="alice")
    doc_id = con.execute("SELECT doc_id FROM documents").fetchone()[0]
    admin.set_level(settings, con, doc_id, 1, "bob")
    admin.delete(settings, con, doc_id, "bob")
    return settings, con


def test_every_change_is_logged_and_the_chain_verifies(audited_kb):
    _, con = audited_kb
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]
    assert actions == ["doc.add", "index.swap", "doc.level", "index.swap", "doc.delete", "index.swap"]
    actors = {r[0] for r in con.execute("SELECT actor FROM audit_log").fetchall()}
    assert actors == {"alice", "bob"}
    report = audit.verify(con)
    assert report.ok and report.rows == 6


@pytest.mark.parametrize(
    "tamper, broken",
    [
        ("UPDATE audit_log SET detail = '{\"doc_key\":\"伪造\"}' WHERE seq = 3", 3),
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 4", 5),
        ("UPDATE audit_log SET ts = '2020-01-01T00:00:00+00:00' WHERE seq = 6", 6),
    ],
)
def test_tampering_is_detected_at_the_first_broken_row(audited_kb, tamper, broken):
    _, con = audited_kb
    con.execute(tamper)
    report = audit.verify(con)
    assert not report.ok
    assert report.first_broken_seq == broken
    assert report.reason


def test_rewriting_a_row_with_a_fresh_hash_is_reported_at_that_row(audited_kb):
    _, con = audited_kb
    seq, ts, actor, action, target, prev = con.execute(
        "SELECT seq, ts, actor, action, target, prev_hash FROM audit_log WHERE seq = 3"
    ).fetchone()
    forged = audit.row_hash(prev, seq, ts, actor, action, target, {"doc_key": "伪造"})
    con.execute("UPDATE audit_log SET detail = '{\"doc_key\":\"伪造\"}', hash = ? WHERE seq = 3", [forged])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 3)


def test_cli_verify_exit_codes(audited_kb):
    settings, con = audited_kb
    con.close()
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir),
           "COMPLY_AUDIT_KEY_FILE": str(settings.audit_key_file)}
    ok = subprocess.run([sys.executable, "-m", "cli", "audit", "verify"], check=False, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "审计链完整：共 6 条记录" in ok.stdout
    con = connect(settings.db_path)
    con.execute("UPDATE audit_log SET action = 'doc.add' WHERE seq = 5")
    con.close()
    bad = subprocess.run([sys.executable, "-m", "cli", "audit", "verify"], check=False, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "seq=5" in bad.stdout
