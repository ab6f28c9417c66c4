"""Write commands while another process holds the database, or while another session changes it: a clear Chinese
message and exit code 75 before any work (no traceback), nothing changed, and no index folder left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest
from support import SECRET_POLICY

from cli.main import main
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration

BRIEF = {
    "product": {"name": "远舟均衡配置混合型证券投资基金A", "type": "混合型基金", "risk_level": "R3", "manager": "远舟基金管理有限公司",
                "benchmark": "沪深300指数收益率×60%+中债综合指数收益率×40%",
                "performance": [{"period": "2024年度", "return": 6.85, "benchmark_return": 4.12}]},
    "channel": "poster", "length": 150,
}
_HOLD = "import duckdb, sys, time\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\ntime.sleep(300)\n"


@pytest.fixture()
def kb(small_kb, tmp_path):
    """A knowledge base with one document, and a second file ready to ingest."""
    settings, con = small_kb
    policy = tmp_path / "内部合规手册.md"
    policy.write_text(SECRET_POLICY, encoding="utf-8")
    assert ingest(settings, con, [policy], level=2).index_version == 1
    extra = tmp_path / "营销管理办法.md"
    extra.write_text("第一条 营销人员应当持证上岗。\n\n第二条 宣传材料须经合规审查。\n", encoding="utf-8")
    return settings, con, extra


def _state(settings, con) -> tuple:
    return (sorted(p.name for p in settings.index_root.iterdir()), con.execute("SELECT count(*) FROM audit_log").fetchone()[0],
            con.execute("SELECT count(*) FROM documents").fetchone()[0])


def test_commands_refuse_to_start_while_another_process_holds_the_database(kb, tmp_path):
    settings, con, extra = kb
    before = _state(settings, con)
    con.close()
    draft = tmp_path / "文案.txt"
    draft.write_text("本产品保本保收益，年化收益8%。", encoding="utf-8")
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps(BRIEF, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(settings.db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        for args in (["ingest", str(extra)], ["reindex"], ["ask", "--no-llm", "营销人员能否承诺收益？"],
                     ["review", "--no-llm", str(draft)], ["generate", "--brief", str(brief), "--no-llm"]):
            start = time.monotonic()
            out = subprocess.run([sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
            assert out.returncode == 75, (args, out.stderr)
            assert f"数据库 {settings.db_path} 正被另一个进程（PID {holder.pid}）占用" in out.stderr, args
            assert "本次没有做任何改动" in out.stderr and "Traceback" not in out.stderr, args
            assert time.monotonic() - start < 30, args  # refused before the work, not after it
    finally:
        holder.kill()
        holder.wait()
    after = duckdb.connect(str(settings.db_path))
    assert _state(settings, after) == before
    after.close()


def test_a_write_that_conflicts_with_another_session_is_explained_and_leaves_no_index_folder(kb, monkeypatch, capsys):
    settings, con, _ = kb
    monkeypatch.setenv("COMPLY_DATA", str(settings.data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(settings.corpus_dir))
    before = _state(settings, con)
    other = duckdb.connect(str(settings.db_path))  # e.g. the app's session, in the middle of its own corpus change
    other.execute("BEGIN TRANSACTION")
    other.execute("UPDATE index_versions SET state = 'retired' WHERE state = 'live'")
    try:
        code = main(["reindex"])
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert code == 75 and "数据库正被另一个会话或进程同时修改，本次操作已整体撤销，没有做任何改动，请稍后重试。" in err
    assert "Traceback" not in err
    assert _state(settings, con) == before
    assert main(["reindex"]) == 0  # once the other session is done, the same command works
