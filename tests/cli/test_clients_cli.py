"""``comply clients``: samples, listing, consents, purge and imports from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner
from support import make_settings

from assistant.clients.demo import SAMPLES_DIR
from comply import audit
from comply.db import connect


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_clients_command(tmp_path):
    from cli.main import cli

    settings = make_settings(tmp_path / "data")
    runner = CliRunner()

    def comply(*argv: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(argv), obj=settings, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = comply("clients", "samples")
    assert code == 0 and "客户 24" in out and "合成数据" in out
    code, out, _ = comply("clients", "list", "--json")
    listed = {c["client_id"]: c for c in json.loads(out)}
    assert listed["DEMO007"]["consents"] == [] and "daily_commentary" in listed["DEMO001"]["consents"]

    code, _, err = comply("clients", "purge", "DEMO001")
    assert code == 2 and "仍有有效授权" in err
    code, out, _ = comply("clients", "consent", "revoke", "DEMO001", "--purpose", "每日收评", "--user", "officer")
    assert code == 0 and "已撤回" in out
    code, out, _ = comply("clients", "purge", "DEMO001")
    assert code == 0 and "删除持仓 3 行" in out
    code, out, _ = comply("clients", "samples")  # loading the samples again leaves the purged client purged
    assert code == 0 and "客户 23" in out and "持仓 55" in out and "新登记授权 0" in out
    code, out, _ = comply("clients", "list")
    assert "DEMO001" not in out and "演示客户02" in out

    letter = write(tmp_path / "letter.txt", "授权书：演示客户12 同意用于早报。")
    code, out, _ = comply("clients", "consent", "grant", "DEMO012", "--purpose", "morning_note",
                          "--document", str(letter), "--user", "officer")
    assert code == 0 and "早报" in out
    code, out, _ = comply("clients", "consent", "list", "DEMO012")
    assert code == 0 and "letter.txt" in out and "officer" in out
    code, _, err = comply("clients", "consent", "grant", "DEMO012", "--purpose", "早报", "--document", str(tmp_path / "nope"))
    assert code == 2 and "授权书文件不存在" in err

    bad = write(tmp_path / "bad.csv", "客户编号,姓名,风险承受能力\nX1,某,C9\n")
    code, _, err = comply("clients", "import", "clients", str(bad))
    assert code == 2 and "第 2 行「风险承受能力」" in err
    code, out, _ = comply("clients", "import", "market", str(SAMPLES_DIR / "market_2026-11-20.csv"))
    assert code == 0 and "8 行" in out

    con = connect(settings.db_path)
    assert audit.verify(con).ok
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'client.purge'").fetchone()[0] == 1
    con.close()
