"""Personalised notes from client data: consent first, facts rendered by code, suitability, batch with resume, purge."""

from __future__ import annotations

import json

import pytest
from support import REGULATIONS, make_settings, tgi_client
from support.tgi_double import Reply

from assistant.clients import consent
from assistant.clients.demo import load_samples
from assistant.clients.profiles import consented_clients, get_client, holdings
from assistant.generate.batch import job_items, job_status, run_job, start_job
from assistant.generate.loop import Loop
from assistant.generate.personal import PersonalError, generate_personal
from comply import audit
from comply.db import connect
from kb_ingest.ingest import ingest
from review.pipeline import Reviewer

pytestmark = pytest.mark.integration

LAWS = ["中华人民共和国证券法.md", "中华人民共和国广告法.md", "中华人民共和国个人信息保护法.md"]


@pytest.fixture(scope="module")
def client_kb(tmp_path_factory):
    """Three real laws indexed, and the synthetic sample clients, holdings, market and consents loaded."""
    settings = make_settings(tmp_path_factory.mktemp("client-kb") / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / name for name in LAWS]).errors == []
    load_samples(con, "admin")
    yield settings, con
    con.close()


def make_loop(client_kb, client=None) -> Loop:
    settings, con = client_kb
    return Loop(Reviewer(settings, con, client), client, "测试：不使用大模型")


def consenting(con, kind: str) -> list[str]:
    return [c.client_id for c in consented_clients(con, kind)]


def over_tolerance_client(con) -> tuple[str, str]:
    """A consenting client holding a product above their tolerance, and that product's name."""
    for client_id in consenting(con, "daily_commentary"):
        tolerance = get_client(con, client_id).risk_tolerance
        above = [h.name for h in holdings(con, client_id) if h.risk_level > tolerance]
        if above:
            return client_id, above[0]
    raise AssertionError("the sample data has a consenting client holding a product above their tolerance")


def test_a_note_states_the_clients_positions_market_and_disclosure_and_passes_review(client_kb):
    _, con = client_kb
    client_id = consenting(con, "daily_commentary")[0]
    client = get_client(con, client_id)
    result = generate_personal(make_loop(client_kb), client_id, "daily_commentary", user="adv")
    assert result.clean and result.mode == "template", [f.span for f in result.report.findings]
    assert result.text.startswith(f"尊敬的{client.name}：") and "【市场概况 2026-11-20】" in result.text
    assert "上证指数：收于3412.56，涨跌幅-0.42%" in result.text
    for h in holdings(con, client_id):
        assert f"{h.name}（{h.code}，{h.product_type}，R{h.risk_level}）：占比" in result.text
    assert "不构成投资建议" in result.text
    row = con.execute("SELECT target, CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'generate.personal' "
                      "ORDER BY seq DESC LIMIT 1").fetchone()
    detail = json.loads(row[1])
    assert row[0] == client_id and detail["consent_id"] and client.name not in row[1], "the audit names the consent, not the client"


def test_holdings_above_the_tolerance_get_a_suitability_warning(client_kb):
    _, con = client_kb
    client_id, product = over_tolerance_client(con)
    result = generate_personal(make_loop(client_kb), client_id, "daily_commentary", user="adv")
    assert "【适当性提示】" in result.text and f"您持有的{product}风险等级为R" in result.text


def test_without_consent_or_after_revocation_nothing_is_generated(client_kb):
    _, con = client_kb
    all_ids = [r[0] for r in con.execute("SELECT client_id FROM clients WHERE state = 'active'").fetchall()]
    without = [c for c in all_ids if c not in consenting(con, "holdings_diagnosis")]
    with pytest.raises(PersonalError, match="未授权"):
        generate_personal(make_loop(client_kb), without[0], "holdings_diagnosis", user="adv")
    revoked = [c for c in consent.consents(con) if c.revoked_at is not None]
    assert revoked, "the sample data has a revoked consent"
    with pytest.raises(PersonalError, match="未授权"):
        generate_personal(make_loop(client_kb), revoked[0].client_id, revoked[0].purpose, user="adv")


def test_a_model_steering_toward_a_riskier_product_is_caught_and_fixed(client_kb, tgi):
    _, con = client_kb
    client_id, product = over_tolerance_client(con)
    pushy = {"lead": "今日市场整体震荡。", "points": [f"建议您继续加仓{product}"]}
    calm = {"lead": "今日市场整体震荡。", "points": ["您的持仓净值随市场波动，请留意风险"]}

    def reply(body: dict) -> str:
        content = body["messages"][-1]["content"]
        if "【审核发现的问题】" in content:
            return json.dumps(calm, ensure_ascii=False)
        return '{"findings": []}' if "【文案】" in content else json.dumps(pushy, ensure_ascii=False)

    tgi.enqueue(*[Reply(content_fn=reply)] * 6)
    result = generate_personal(make_loop(client_kb, tgi_client(tgi)), client_id, "daily_commentary", user="adv")
    assert (result.mode, result.rounds, result.first_pass_clean, result.clean) == ("llm", 2, False, True)
    assert "建议您继续加仓" not in result.text
    fix = next(r.body["messages"][-1]["content"] for r in tgi.chat_requests if "【审核发现的问题】" in r.body["messages"][-1]["content"])
    assert f"建议您继续加仓{product}" in fix


def test_a_batch_stops_resumes_skips_revoked_clients_and_purge_clears_its_text(client_kb):
    settings, con = client_kb
    kind = "daily_commentary"
    pending = consenting(con, kind)
    assert len(pending) >= 3
    job_id = start_job(con, kind, "adv")
    status = job_status(con, job_id)
    assert status.counts["pending"] == len(pending) and status.counts.get("skipped", 0) >= 1
    seen: list[str] = []
    status = run_job(make_loop(client_kb), job_id, user="adv", progress=lambda s, cid: seen.append(cid),
                     should_stop=lambda: len(seen) >= 2)
    assert status.state == "running" and status.counts["done"] == 2 and status.counts["pending"] == len(pending) - 2
    revoked_now = [c for c in pending if c not in seen][0]
    consent.revoke(con, revoked_now, kind, "adv")
    status = run_job(make_loop(client_kb), job_id, user="adv")
    assert status.state == "done" and status.counts.get("pending", 0) == 0
    items = {i["client_id"]: i for i in job_items(con, job_id)}
    assert items[revoked_now]["state"] == "skipped" and "未授权" in items[revoked_now]["reason"]
    done = [c for c, i in items.items() if i["state"] == "done"]
    assert len(done) == len(pending) - 1 and all(items[c]["text"] and json.loads(items[c]["review"])["findings"] == [] for c in done)
    for purpose in [c.purpose for c in consent.consents(con, done[0]) if c.revoked_at is None]:
        consent.revoke(con, done[0], purpose, "adv")
    consent.purge(con, done[0], "adv")
    purged = {i["client_id"]: i for i in job_items(con, job_id)}[done[0]]
    assert purged["text"] is None and purged["review"] is None
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log WHERE target = ? ORDER BY seq", [job_id]).fetchall()]
    assert actions == ["generate.batch_start", "generate.batch_done"] and audit.verify(con).ok


def test_a_client_never_assessed_is_told_so_not_labelled_c1():
    from assistant.clients.profiles import Client, Holding
    from assistant.generate.personal import ClientFacts, holdings_block

    client = Client("X1", "演示客户", None, "普通投资者", 40, None, True, "active")
    facts = ClientFacts(client, [Holding("X1", "2026-11-20", "990001", "某混合基金", "混合型基金", 3, 100.0, 1000.0, None)], [], None)
    block = holdings_block(facts)
    assert "尚未完成风险承受能力评估" in block and "C1" not in block and facts.over_tolerance() == []
