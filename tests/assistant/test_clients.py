"""Client data: CSV (UTF-8 / BOM / GBK) and .xlsx imports, all-or-nothing validation, consents in the
audit chain, purging a client's data, the synthetic samples, suitability and the ``comply clients`` command."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest
from openpyxl import Workbook

from assistant.clients import consent, tables
from assistant.clients.consent import PURGED_REASON, ConsentError, grant, has_consent, purge, revoke
from assistant.clients.demo import SAMPLES_DIR, load_samples
from assistant.clients.importer import ImportDataError, import_clients, import_holdings, import_market
from assistant.clients.profiles import (
    consented_clients,
    get_client,
    holdings,
    latest_market_date,
    list_clients,
    market_summary,
    risk_label,
    suitable,
)
from assistant.clients.tables import TableError, read_table
from comply import audit
from comply.db import connect

CLIENTS_ZH = "客户编号,姓名,风险承受能力,投资者类型,年龄,客户经理,合成数据\n" \
             "K001,测试客户甲,C2,普通,45,advisor1,是\n" \
             "K002,测试客户乙,激进型,专业投资者,38,,否\n" \
             "K003,测试客户丙,3,,,,\n"
LETTER = "个人信息处理授权书（测试）：测试客户甲同意用于每日收评。".encode()


@pytest.fixture()
def con(tmp_path):
    con = connect(tmp_path / "data" / "comply.duckdb")
    yield con
    con.close()


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def audit_rows(con, action: str) -> list[tuple]:
    return con.execute("SELECT seq, actor, target, CAST(detail AS VARCHAR) FROM audit_log WHERE action = ? ORDER BY seq",
                       [action]).fetchall()


def with_clients(con, tmp_path) -> None:
    import_clients(con, write(tmp_path / "clients.csv", CLIENTS_ZH), "tester")


# ---------------------------------------------------------------- reading tables


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    table = read_table(write(tmp_path / "c.csv", CLIENTS_ZH, encoding))
    assert table.header[:3] == ("客户编号", "姓名", "风险承受能力")
    assert [r["姓名"] for r in table.rows] == ["测试客户甲", "测试客户乙", "测试客户丙"]
    assert table.row_numbers == (2, 3, 4)


def test_unreadable_tables_are_refused_in_chinese(tmp_path, monkeypatch):
    cases = {
        "empty.csv": b"",
        "blank.csv": b" \n\n",
        "latin1.csv": "name\ncaf\u00e9 \u00fcber \u00e0 la\n".encode("latin-1"),
        "utf16.csv": "姓名\n甲\n".encode("utf-16"),
        "old.xls": b"\xd0\xcf\x11\xe0 not really",
        "notes.txt": b"a,b\n1,2\n",
        "broken.xlsx": b"PK not a workbook",
        "extra.csv": "a,b\n1,2,3\n".encode(),
        "dup.csv": "姓名,姓名\n甲,乙\n".encode(),
    }
    messages = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TableError) as info:
            read_table(tmp_path / name)
        messages[name] = str(info.value)
    assert "空文件" in messages["empty.csv"] and "空文件" in messages["blank.csv"]
    assert "无法识别" in messages["latin1.csv"] and "GBK" in messages["latin1.csv"]
    assert "无法识别" in messages["utf16.csv"] or "空字符" in messages["utf16.csv"]
    assert ".xlsx" in messages["old.xls"] and "只接受" in messages["notes.txt"]
    assert "无法读取 Excel" in messages["broken.xlsx"]
    assert "第 2 行" in messages["extra.csv"] and "重复列" in messages["dup.csv"]
    with pytest.raises(TableError, match="不存在"):
        read_table(tmp_path / "missing.csv")

    monkeypatch.setattr(tables, "MAX_ROWS", 2)
    with pytest.raises(TableError, match="超过 2 行"):
        read_table(write(tmp_path / "long.csv", CLIENTS_ZH))
    monkeypatch.setattr(tables, "MAX_BYTES", 10)
    with pytest.raises(TableError, match="MB"):
        read_table(write(tmp_path / "big.csv", CLIENTS_ZH))


# ---------------------------------------------------------------- importing


def test_gbk_csv_imports_clients_with_chinese_headers_and_labels(con, tmp_path):
    path = write(tmp_path / "客户.csv", CLIENTS_ZH + "\n,,,,,,\n", "gbk")
    result = import_clients(con, path, "tester")
    assert (result.kind, result.rows, result.file_name) == ("clients", 3, "客户.csv")
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    a, b, c = (get_client(con, k) for k in ("K001", "K002", "K003"))
    assert (a.name, a.risk_tolerance, a.investor_type, a.age, a.advisor, a.synthetic) == \
        ("测试客户甲", 2, "普通投资者", 45, "advisor1", True)
    assert (b.risk_tolerance, b.investor_type, b.advisor, b.synthetic) == (5, "专业投资者", None, False)
    assert (c.risk_tolerance, c.investor_type, c.age, c.state) == (3, "普通投资者", None, "active")
    assert con.execute("SELECT DISTINCT source_sha256 FROM clients").fetchall() == [(result.sha256,)]

    # one audit row with the file's hash, name and row count, and nothing personal
    (row,) = audit_rows(con, "clients.import")
    assert json.loads(row[3]) == {"sha256": result.sha256, "file": "客户.csv", "rows": 3}
    assert "测试客户" not in row[3] and "advisor1" not in row[3]


def test_reimport_updates_and_extra_columns_are_ignored(con, tmp_path):
    with_clients(con, tmp_path)
    updated = write(tmp_path / "v2.csv", "client_id,name,risk_tolerance,手机号\nK001,测试客户甲,C4,13800000000\n")
    result = import_clients(con, updated, "tester")
    assert result.ignored_columns == ("手机号",)
    assert get_client(con, "K001").risk_tolerance == 4
    assert "13800000000" not in str(con.execute("SELECT * FROM clients").fetchall())
    assert len(list_clients(con)) == 3
    assert len(audit_rows(con, "clients.import")) == 2


def test_xlsx_holdings_import_and_snapshot_replacement(con, tmp_path):
    with_clients(con, tmp_path)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["客户编号", "持仓日期", "产品代码", "产品名称", "产品类型", "产品风险等级", "持有数量", "市值", "成本"])
    sheet.append(["K001", datetime(2026, 11, 20), "990002", "明川中短债债券A", "债券型基金", "R2", 1000.5, 1153.7, None])
    sheet.append(["K001", "2026/11/20", "990005", "青禾新能源产业混合", "混合型基金", "中高风险", 200, 420.86, 400])
    sheet.append(["K002", "2026-11-19", "990504.SZ", "瀚湖储能", "股票", 5, 100, 6835, 7000])
    workbook.save(tmp_path / "持仓.xlsx")

    result = import_holdings(con, tmp_path / "持仓.xlsx", "tester")
    assert result.rows == 3
    positions = holdings(con, "K001")
    assert [(h.code, h.as_of, h.risk_level, h.market_value, h.cost) for h in positions] == [
        ("990002", "2026-11-20", 2, 1153.7, None), ("990005", "2026-11-20", 4, 420.86, 400.0)]
    assert not suitable(get_client(con, "K001").risk_tolerance, positions[1].risk_level)

    # an older snapshot stays, the date picks the latest one not after it; a re-import replaces that day
    write(tmp_path / "old.csv", "client_id,as_of,code,name,product_type,risk_level,market_value\n"
                                "K001,2026-11-01,990001,明川现金宝货币A,货币市场基金,R1,5000\n")
    import_holdings(con, tmp_path / "old.csv", "tester")
    assert [h.code for h in holdings(con, "K001", as_of="2026-11-10")] == ["990001"]
    assert [h.code for h in holdings(con, "K001", as_of="2026-10-01")] == []
    write(tmp_path / "new.csv", "client_id,as_of,code,name,product_type,risk_level,market_value\n"
                                "K001,2026-11-20,990001,明川现金宝货币A,货币市场基金,R1,9000\n")
    import_holdings(con, tmp_path / "new.csv", "tester")
    assert [(h.code, h.market_value) for h in holdings(con, "K001")] == [("990001", 9000.0)]
    assert [h.code for h in holdings(con, "K002")] == ["990504.SZ"]
    assert len(audit_rows(con, "holdings.import")) == 3


def test_a_bad_row_imports_nothing_and_names_row_and_column(con, tmp_path):
    with_clients(con, tmp_path)
    before = con.execute("SELECT * FROM clients ORDER BY client_id").fetchall()
    bad = write(tmp_path / "bad.csv", "客户编号,姓名,风险承受能力,年龄\n"
                                      "K001,改名甲,C5,40\n"
                                      "K004,测试客户丁,C7,41\n"
                                      "K005,,C1,200\n"
                                      "K001,重复,C1,30\n", "gbk")
    with pytest.raises(ImportDataError) as info:
        import_clients(con, bad, "tester")
    message = str(info.value)
    assert "未导入任何数据" in message
    assert "第 3 行「风险承受能力」" in message and "C7" in message
    assert "第 4 行「姓名」：不能为空" in message and "第 4 行「年龄」" in message
    assert "第 5 行「客户编号」：与第 2 行重复" in message
    assert len(info.value.problems) == 4
    assert con.execute("SELECT * FROM clients ORDER BY client_id").fetchall() == before
    assert len(audit_rows(con, "clients.import")) == 1

    with pytest.raises(ImportDataError, match="缺少必需列：风险承受能力"):
        import_clients(con, write(tmp_path / "cols.csv", "客户编号,姓名\nK009,某\n"), "tester")
    with pytest.raises(ImportDataError, match="没有数据行"):
        import_clients(con, write(tmp_path / "header.csv", "客户编号,姓名,风险承受能力\n"), "tester")
    with pytest.raises(ImportDataError, match="都表示客户编号"):
        import_clients(con, write(tmp_path / "twice.csv", "客户编号,client_id,姓名,风险承受能力\nK1,K1,某,C1\n"), "tester")
    with pytest.raises(ImportDataError, match="第 2 行「客户编号」：客户 K404 不存在"):
        import_holdings(con, write(tmp_path / "h.csv", "客户编号,持仓日期,产品代码,产品名称,产品类型,产品风险等级,市值\n"
                                                       "K404,2026-11-20,990001,某货币,货币市场基金,R1,1\n"), "tester")
    with pytest.raises(ImportDataError) as info:
        import_holdings(con, write(tmp_path / "h2.csv", "客户编号,持仓日期,产品代码,产品名称,产品类型,产品风险等级,市值\n"
                                                        "K001,2026-02-30,990001,某货币,期货,R6,-1\n"), "tester")
    assert {p.split("」")[0] for p in info.value.problems} == \
        {"第 2 行「持仓日期", "第 2 行「产品类型", "第 2 行「产品风险等级", "第 2 行「市值"}
    assert con.execute("SELECT count(*) FROM holdings").fetchone()[0] == 0


def test_market_import_checks_each_kind(con, tmp_path):
    path = write(tmp_path / "m.csv", "日期,项目,类别,收盘,涨跌幅(%),说明\n"
                                     "2026-11-20,上证指数,指数,3412.56,-0.42%,\n"
                                     "2026-11-20,银行板块,板块,,0.85,\n"
                                     "2026-11-20,资金面,资讯,,,资金面总体平稳\n")
    assert import_market(con, path, "tester").rows == 3
    assert latest_market_date(con) == "2026-11-20"
    items = market_summary(con, "2026-11-20")
    assert [(i.kind, i.item, i.close, i.change_pct) for i in items] == [
        ("index", "上证指数", 3412.56, -0.42), ("sector", "银行板块", None, 0.85), ("news", "资金面", None, None)]
    bad = write(tmp_path / "m2.csv", "date,item,kind,close,change_pct,note\n2026-11-21,深证成指,index,,,\n")
    with pytest.raises(ImportDataError, match="第 2 行「收盘」：深证成指 须填写收盘"):
        import_market(con, bad, "tester")
    assert latest_market_date(con) == "2026-11-20"


# ---------------------------------------------------------------- consents and purging


def test_consent_grant_and_revoke_are_in_the_audit_chain(con, tmp_path):
    with_clients(con, tmp_path)
    granted = grant(con, "K001", "daily_commentary", LETTER, "/path/to/授权书.pdf", "officer")
    assert granted.active and granted.document_name == "授权书.pdf" and granted.purpose_name == "每日收评"
    assert has_consent(con, "K001", "daily_commentary") and not has_consent(con, "K001", "morning_note")
    (seq, actor, target, detail), = audit_rows(con, "consent.grant")
    assert (seq, actor, target) == (granted.grant_seq, "officer", "K001")
    detail = json.loads(detail)
    assert {k: detail[k] for k in ("client_id", "purpose", "document_sha256")} == {
        "client_id": "K001", "purpose": "daily_commentary", "document_sha256": hashlib.sha256(LETTER).hexdigest()}
    assert "document_name" not in detail, "a letter's file name may hold the client's name: the audit keeps only its hash"
    assert [c.client_id for c in consented_clients(con, "daily_commentary")] == ["K001"]

    with pytest.raises(ConsentError, match="已有「每日收评」的有效授权"):
        grant(con, "K001", "daily_commentary", LETTER, "again.pdf", "officer")
    with pytest.raises(ConsentError, match="授权书文件为空"):
        grant(con, "K002", "daily_commentary", b"", "empty.pdf", "officer")
    with pytest.raises(ConsentError, match="客户 K404 不存在"):
        grant(con, "K404", "daily_commentary", LETTER, "x.pdf", "officer")
    with pytest.raises(ConsentError, match="未知用途"):
        grant(con, "K002", "cold_calls", LETTER, "x.pdf", "officer")

    revoked = revoke(con, "K001", "daily_commentary", "officer2")
    assert not revoked.active and revoked.revoked_by == "officer2"
    (seq, actor, _target, detail), = audit_rows(con, "consent.revoke")
    assert seq == revoked.revoke_seq and json.loads(detail)["consent_id"] == granted.consent_id
    assert not has_consent(con, "K001", "daily_commentary") and consented_clients(con, "daily_commentary") == []
    stored, = consent.consents(con, "K001")
    assert (stored.grant_seq, stored.revoke_seq, stored.revoked_by) == (granted.grant_seq, revoked.revoke_seq, "officer2")
    with pytest.raises(ConsentError, match="没有「每日收评」的有效授权"):
        revoke(con, "K001", "daily_commentary", "officer")
    assert audit.verify(con).ok
    assert len(audit_rows(con, "consent.grant")) == 1  # refused grants leave no trace


def test_purge_needs_every_consent_revoked_and_leaves_no_personal_data(con, tmp_path):
    with_clients(con, tmp_path)
    write(tmp_path / "h.csv", "client_id,as_of,code,name,product_type,risk_level,market_value\n"
                              "K001,2026-11-20,990001,明川现金宝货币A,货币市场基金,R1,5000\n"
                              "K001,2026-11-20,990002,明川中短债债券A,债券型基金,R2,8000\n"
                              "K002,2026-11-20,990002,明川中短债债券A,债券型基金,R2,1000\n")
    import_holdings(con, tmp_path / "h.csv", "tester")
    con.execute("INSERT INTO generation_jobs VALUES ('job1', 'daily_commentary', '2026-11-20', 'tester', now(), 'done')")
    con.execute("INSERT INTO generation_items VALUES "
                "('job1', 'K001', 'done', '测试客户甲您好，今日市场……', '{\"ok\": true}', 1, 'template', NULL, now()),"
                "('job1', 'K002', 'done', '测试客户乙您好', '{}', 1, 'template', NULL, now())")
    grant(con, "K001", "daily_commentary", LETTER, "a.pdf", "officer")
    grant(con, "K001", "holdings_diagnosis", LETTER, "a.pdf", "officer")

    with pytest.raises(ConsentError, match="仍有有效授权（每日收评、持仓诊断）"):
        purge(con, "K001", "officer")
    assert get_client(con, "K001").name == "测试客户甲" and len(holdings(con, "K001")) == 2
    revoke(con, "K001", "daily_commentary", "officer")
    with pytest.raises(ConsentError, match="持仓诊断"):
        purge(con, "K001", "officer")
    revoke(con, "K001", "holdings_diagnosis", "officer")

    assert purge(con, "K001", "officer") == {"holdings": 2, "generation_items": 1}
    gone = get_client(con, "K001")
    assert (gone.name, gone.risk_tolerance, gone.age, gone.advisor, gone.investor_type, gone.state) == \
        (None, None, None, None, None, "purged")
    assert holdings(con, "K001") == [] and [h.client_id for h in holdings(con, "K002")] == ["K002"]
    assert con.execute("SELECT state, text, review, reason FROM generation_items WHERE client_id = 'K001'").fetchall() == \
        [("purged", None, None, "客户数据已清除")]
    assert con.execute("SELECT text FROM generation_items WHERE client_id = 'K002'").fetchone() == ("测试客户乙您好",)
    assert "测试客户甲" not in str(con.execute("SELECT * FROM clients").fetchall())
    assert {r[0] for r in con.execute("SELECT document_name FROM consents WHERE client_id = 'K001'").fetchall()} == {PURGED_REASON}
    assert [c.client_id for c in list_clients(con)] == ["K002", "K003"]
    assert [c.client_id for c in list_clients(con, include_purged=True)] == ["K001", "K002", "K003"]

    (_seq, _actor, target, detail), = audit_rows(con, "client.purge")
    assert target == "K001" and json.loads(detail) == {"client_id": "K001", "holdings": 2, "generation_items": 1}
    assert audit.verify(con).ok

    # purged stays purged: no second purge, no new consent; re-imports skip the client's rows
    with pytest.raises(ConsentError, match="已清除"):
        purge(con, "K001", "officer")
    with pytest.raises(ConsentError, match="已清除"):
        grant(con, "K001", "daily_commentary", LETTER, "a.pdf", "officer")
    again = import_clients(con, tmp_path / "clients.csv", "tester")
    assert (again.rows, again.skipped_purged) == (2, 1)
    assert import_holdings(con, tmp_path / "h.csv", "tester").skipped_purged == 2
    assert get_client(con, "K001") == gone and holdings(con, "K001") == []
    assert json.loads(audit_rows(con, "holdings.import")[-1][3])["skipped_purged"] == 2
    assert "测试客户甲" not in str(con.execute("SELECT * FROM clients").fetchall())
    assert audit.verify(con).ok


# ---------------------------------------------------------------- samples and suitability


def test_samples_load_through_the_audited_functions(con):
    counts = load_samples(con, "demo")
    assert counts == {"clients": 24, "holdings": 58, "market": 8, "granted": 50, "revoked": 3}
    clients = list_clients(con)
    assert len(clients) == 24 and all(c.synthetic and c.name.startswith("演示客户") for c in clients)
    assert {c.risk_tolerance for c in clients} == {1, 2, 3, 4, 5}
    assert {c.investor_type for c in clients} == {"普通投资者", "专业投资者"}

    daily = {c.client_id for c in consented_clients(con, "daily_commentary")}
    assert {"DEMO012", "DEMO024", "DEMO007", "DEMO019"}.isdisjoint(daily) and "DEMO010" in daily and len(daily) == 20
    assert consent.consents(con, "DEMO012") == [] and consent.consents(con, "DEMO024") == []
    assert all(not c.active for c in consent.consents(con, "DEMO007"))
    assert [c.client_id for c in consented_clients(con, "morning_note")].count("DEMO010") == 0

    over = sorted({c.client_id for c in clients for h in holdings(con, c.client_id)
                   if not suitable(c.risk_tolerance, h.risk_level)})
    assert over == ["DEMO002", "DEMO008", "DEMO015"]
    assert all(1 <= len(holdings(con, c.client_id)) <= 5 for c in clients)
    assert latest_market_date(con) == "2026-11-20"
    assert {i.kind for i in market_summary(con, "2026-11-20")} == {"index", "sector", "news"}
    assert "全部为合成数据，仅供演示和测试" in (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")

    # every consent letter names its client; loading again records no consent twice
    for c in consent.consents(con):
        assert c.client_id in (SAMPLES_DIR / "consents" / c.document_name).read_text(encoding="utf-8")
    assert load_samples(con, "demo") == {"clients": 24, "holdings": 58, "market": 8, "granted": 0, "revoked": 0}
    assert len(consent.consents(con)) == 50
    assert audit.verify(con).ok


def test_risk_labels_and_suitability():
    assert [risk_label(n) for n in range(1, 6)] == ["C1", "C2", "C3", "C4", "C5"]
    assert suitable(3, 3) and suitable(5, 1) and not suitable(2, 4) and not suitable(1, 2)
    for bad in (0, 6, True, "3"):
        with pytest.raises(ValueError):
            risk_label(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        suitable(3, 0)
    with pytest.raises(ValueError, match="未知用途"):
        consented_clients(None, "spam")  # type: ignore[arg-type]
