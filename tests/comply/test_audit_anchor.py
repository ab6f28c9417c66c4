"""The audit chain's anchor: every row signed with the installation key, and signed checkpoints of the head kept
outside the table. Truncation, a chain recomputed by someone without the key, forged rows and a doctored
checkpoint file are all reported at the right row; a lost key stops appends with a clear message."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from support import make_settings

from comply import audit
from comply.db import connect, transaction

pytestmark = pytest.mark.integration

CHECKPOINTS = "audit_checkpoints.jsonl"


@pytest.fixture()
def keyed(tmp_path, monkeypatch):
    """An empty database whose key is a private file, named in the environment as an installation would."""
    key = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("COMPLY_AUDIT_KEY_FILE", str(key))
    settings = make_settings(tmp_path / "data", audit_key_file=key)
    return settings, connect(settings.db_path)


def fill(con, n: int) -> None:
    for _ in range(n):
        with transaction(con):
            audit.append(con, "alice", "doc.add", "doc-1", {"doc_key": "某法规"})


def checkpoint_lines(settings) -> list[dict]:
    return [json.loads(line) for line in (settings.data_dir / CHECKPOINTS).read_text(encoding="utf-8").splitlines()]


def rows(con) -> list[tuple]:
    return con.execute("SELECT seq, ts, actor, action, target, CAST(detail AS VARCHAR), prev_hash FROM audit_log ORDER BY seq").fetchall()


def test_a_new_installation_verifies_with_no_rows(keyed):
    _, con = keyed
    report = audit.verify(con)
    assert report.ok and report.rows == 0


def test_the_head_is_checkpointed_every_fifty_rows_outside_the_table(keyed):
    settings, con = keyed
    fill(con, 120)
    assert [c["rows"] for c in checkpoint_lines(settings)] == [0, 50, 100]
    assert [c["seq"] for c in checkpoint_lines(settings)] == [1, 2, 3]
    key = settings.audit_key_file
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and not key.is_relative_to(settings.data_dir)
    report = audit.verify(con)
    assert report.ok and report.rows == 120 and report.checkpoints == 3


@pytest.mark.parametrize("where, first", [("seq > 70", 71), ("seq > 0", 1)], ids=["last-50-rows", "every-row"])
def test_deleting_rows_from_the_end_is_truncation(keyed, where, first):
    _, con = keyed
    fill(con, 120)
    con.execute(f"DELETE FROM audit_log WHERE {where}")
    report = audit.verify(con)
    assert not report.ok and report.first_broken_seq == first and "截断" in report.reason


def test_deleting_the_newest_row_after_a_seal_is_truncation(keyed):
    settings, con = keyed
    fill(con, 10)
    assert audit.seal(con, settings).ok
    con.execute("DELETE FROM audit_log WHERE seq = 10")
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 10) and "截断" in report.reason


def recompute_from(con, start: int, detail: str) -> None:
    """What someone with write access but without the key can do: rewrite a row and every hash after it."""
    prev = con.execute("SELECT prev_hash FROM audit_log WHERE seq = ?", [start]).fetchone()[0]
    for seq, ts, actor, action, target, stored, _ in rows(con)[start - 1:]:
        body = json.loads(detail if seq == start else stored)
        digest = audit.row_hash(prev, seq, ts, actor, action, target, body)
        con.execute("UPDATE audit_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [json.dumps(body, ensure_ascii=False), prev, digest, seq])
        prev = digest


@pytest.mark.parametrize("count", [30, 120], ids=["after-last-checkpoint", "before-checkpoints"])
def test_an_edit_with_every_hash_recomputed_is_reported_at_the_edited_row(keyed, count):
    _, con = keyed
    fill(con, count)
    recompute_from(con, 20, '{"doc_key":"伪造"}')
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 20) and "签名无效" in report.reason


def test_a_forged_row_appended_with_a_correct_hash_is_reported(keyed):
    _, con = keyed
    fill(con, 3)
    prev = con.execute("SELECT hash FROM audit_log WHERE seq = 3").fetchone()[0]
    ts = "2030-01-01T00:00:00.000000+00:00"
    digest = audit.row_hash(prev, 4, ts, "mallory", "user.create", "mallory", {"role": "admin"})
    con.execute("INSERT INTO audit_log (seq, ts, actor, action, target, detail, prev_hash, hash) "
                "VALUES (4, ?, 'mallory', 'user.create', 'mallory', '{\"role\":\"admin\"}', ?, ?)", [ts, prev, digest])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 4) and "缺少签名" in report.reason


def test_a_row_signed_with_another_key_is_reported(keyed):
    _, con = keyed
    fill(con, 3)
    digest = con.execute("SELECT hash FROM audit_log WHERE seq = 2").fetchone()[0]
    con.execute("UPDATE audit_log SET sig = ? WHERE seq = 2", [Ed25519PrivateKey.generate().sign(digest.encode()).hex()])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 2) and "签名无效" in report.reason


def insert_unsigned(con, n: int) -> None:
    """Rows as written before signatures existed."""
    prev = audit.GENESIS
    for seq in range(1, n + 1):
        ts = f"2024-01-01T00:00:{seq:02d}.000000+00:00"
        digest = audit.row_hash(prev, seq, ts, "alice", "doc.add", None, {"n": seq})
        con.execute("INSERT INTO audit_log (seq, ts, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, 'alice', "
                    "'doc.add', NULL, ?, ?, ?)", [seq, ts, json.dumps({"n": seq}), prev, digest])
        prev = digest


def test_in_an_unsigned_chain_rehashing_only_the_edited_row_is_reported_at_that_row(keyed):
    _, con = keyed
    insert_unsigned(con, 6)
    seq, ts, actor, action, target, _, prev = rows(con)[2]
    forged = audit.row_hash(prev, seq, ts, actor, action, target, {"n": 99})
    con.execute("UPDATE audit_log SET detail = '{\"n\":99}', hash = ? WHERE seq = 3", [forged])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 3)


def test_in_an_unsigned_chain_a_rewritten_link_is_reported_at_its_own_row(keyed):
    _, con = keyed
    insert_unsigned(con, 6)
    con.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 4", ["f" * 64])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 4)


def test_rows_written_before_signing_are_sealed_by_the_first_checkpoint(keyed):
    settings, con = keyed
    insert_unsigned(con, 3)
    fill(con, 1)
    assert [c["rows"] for c in checkpoint_lines(settings)] == [3]
    assert audit.verify(con).ok
    prev = con.execute("SELECT hash FROM audit_log WHERE seq = 4").fetchone()[0]
    ts = "2030-01-01T00:00:00.000000+00:00"
    digest = audit.row_hash(prev, 5, ts, "mallory", "doc.delete", None, {})
    con.execute("INSERT INTO audit_log (seq, ts, actor, action, target, detail, prev_hash, hash) "
                "VALUES (5, ?, 'mallory', 'doc.delete', NULL, '{}', ?, ?)", [ts, prev, digest])
    report = audit.verify(con)
    assert (report.ok, report.first_broken_seq) == (False, 5) and "缺少签名" in report.reason


def drop_line(settings, n: int) -> None:
    path = settings.data_dir / CHECKPOINTS
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: n - 1] + lines[n:]), encoding="utf-8")


def change_rows(settings, n: int) -> None:
    path = settings.data_dir / CHECKPOINTS
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[n - 1])
    lines[n - 1] = json.dumps({**record, "rows": 10}, separators=(",", ":"), sort_keys=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("doctor, words", [
    (lambda s: drop_line(s, 2), "有锚点被删除"),
    (lambda s: drop_line(s, 3), "副本不符"),
    (lambda s: (s.data_dir / CHECKPOINTS).unlink(), "缺失"),
    (lambda s: change_rows(s, 2), "签名无效"),
], ids=["middle-line", "last-line", "whole-file", "changed-line"])
def test_a_doctored_checkpoint_file_is_reported(keyed, doctor, words):
    settings, con = keyed
    fill(con, 120)
    doctor(settings)
    report = audit.verify(con)
    assert not report.ok and words in report.reason and "锚点" in report.reason


def test_a_doctored_checkpoint_file_is_kept_as_evidence_not_extended(keyed):
    settings, con = keyed
    fill(con, 60)
    drop_line(settings, 2)
    before = (settings.data_dir / CHECKPOINTS).read_bytes()
    fill(con, 60)
    assert (settings.data_dir / CHECKPOINTS).read_bytes() == before
    assert not audit.seal(con, settings).ok and (settings.data_dir / CHECKPOINTS).read_bytes() == before


def test_a_rolled_back_transaction_never_leaves_a_checkpoint_ahead_of_the_table(keyed):
    settings, con = keyed
    fill(con, 49)
    with pytest.raises(RuntimeError), transaction(con):
        for _ in range(10):
            audit.append(con, "alice", "doc.add", None, {})
        raise RuntimeError("导入失败")
    assert max(c["rows"] for c in checkpoint_lines(settings)) <= 49
    fill(con, 60)
    report = audit.verify(con)
    assert report.ok and report.rows == 109


def test_a_lost_key_stops_appends_and_fails_verification(keyed):
    from comply.audit_key import AuditKeyError

    settings, con = keyed
    fill(con, 2)
    settings.audit_key_file.unlink()
    with pytest.raises(AuditKeyError, match="审计签名密钥") as caught, transaction(con):
        audit.append(con, "alice", "doc.add", None, {})
    assert str(settings.audit_key_file) in str(caught.value)
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 2
    report = audit.verify(con)
    assert not report.ok and "密钥" in report.reason


def test_the_default_key_is_per_installation_and_outside_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPLY_AUDIT_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("a", "b"):
        con = connect(make_settings(tmp_path / name).db_path)
        fill(con, 1)
        assert audit.verify(con).ok
    keys = sorted((tmp_path / "config" / "comply").glob("audit-*.key"))
    assert len(keys) == 2 and keys[0].read_bytes() != keys[1].read_bytes()
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert stat.S_IMODE((tmp_path / "config" / "comply").stat().st_mode) == 0o700
    assert not list((tmp_path / "a").glob("*.key"))


def test_cli_seal_verify_and_export(keyed, tmp_path):
    settings, con = keyed
    fill(con, 5)
    con.close()
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}

    def comply(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", "audit", *args], check=False, env=env, capture_output=True, text=True)

    sealed = comply("seal")
    assert sealed.returncode == 0 and "审计链完整：共 5 条记录" in sealed.stdout
    con = connect(settings.db_path)
    con.execute("DELETE FROM audit_log WHERE seq = 5")
    con.close()
    broken = comply("verify", "--no-seal")
    assert broken.returncode == 1 and "seq=5" in broken.stdout and "截断" in broken.stdout
    out = tmp_path / "export.zip"
    exported = comply("export", "--out", str(out))
    assert exported.returncode == 1 and out.is_file()
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as bundle:
        public = load_pem_public_key(bundle.read("audit_public_key.pem"))
        lines = bundle.read("audit_checkpoints.jsonl").decode("utf-8").splitlines()
        assert bundle.read("audit_log.csv").decode("utf-8-sig").count("doc.add") == 4
    for line in lines:  # anyone holding the export checks the checkpoints with the public key alone
        record = json.loads(line)
        signed = json.dumps({k: v for k, v in record.items() if k != "signature"}, ensure_ascii=False, sort_keys=True,
                            separators=(",", ":"))
        public.verify(bytes.fromhex(record["signature"]), signed.encode("utf-8"))
    assert json.loads(lines[-1])["rows"] == 5
