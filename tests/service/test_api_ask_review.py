"""Questions (JSON and server-sent events), draft review (text and uploaded files), case detail and generated copy over
the API, each at the caller's clearance and held to the caller's role."""

from __future__ import annotations

import io
import json
import time

import docx
import pytest
from support.factories import make_corrupt_pdf

pytestmark = pytest.mark.integration

SECRET_MARKERS = ("青鸾计划", "白鹭条款")
SECRET_QUESTION = "营销人员向高净值客户推介私募产品前须经过什么复核？"
VIOLATION = "本产品保本保收益，稳赚不赔，欢迎认购。"
BRIEF = {
    "product": {"name": "示例稳健增利债券型证券投资基金", "type": "债券型基金", "risk_level": "R2", "manager": "示例基金管理有限公司",
                "performance": [{"period": "2024年度", "return": 6.85, "benchmark_return": 4.12}]},
    "channel": "poster", "length": 150,
}


def _events(body: str) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a text/event-stream body."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def _audit(api, action: str) -> list[tuple[str, str]]:
    return api.con.execute("SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY seq", [action]).fetchall()


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph("稳健增利计划")
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_ask_answers_as_json_and_as_events_within_the_callers_clearance(api) -> None:
    secret = api.client.post("/v1/ask", json={"question": SECRET_QUESTION}, headers=api.auth("comp_secret"))
    assert secret.status_code == 200
    answer = secret.json()
    assert answer["mode"] == "retrieval-only" and answer["citations"] and "青鸾计划" in answer["answer"]
    assert any(c["doc_title"] and "内部合规手册" in c["doc_title"] and c["verified"] for c in answer["citations"])

    public = api.client.post("/v1/ask", json={"question": SECRET_QUESTION, "no_llm": True},
                             headers={**api.auth("comp_public"), "Accept": "text/event-stream"})
    assert public.status_code == 200 and public.headers["content-type"].startswith("text/event-stream")
    assert "\\u" not in public.text  # Chinese as is
    events = _events(public.text)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"}
    final = events[-1][1]
    assert final["citations"] and all(c["verified"] for c in final["citations"])
    assert "".join(data["text"] for name, data in events if name == "delta").endswith(final["answer"])
    assert "调用方选择不使用大模型" in final["answer"]
    for marker in SECRET_MARKERS:
        assert marker not in public.text
    internal = api.client.post("/v1/ask", json={"question": "员工向客户承诺收益的按什么条款处理？"}, headers=api.auth("comp_public"))
    assert internal.status_code == 200 and all(m not in internal.text for m in SECRET_MARKERS)
    lowered = api.client.post("/v1/ask", json={"question": SECRET_QUESTION, "clearance": 0}, headers=api.auth("comp_secret"))
    assert all(m not in lowered.text for m in SECRET_MARKERS)

    assert len(_audit(api, "qa.ask")) == 4  # one row per question, none added by the API
    assert [actor for actor, _ in _audit(api, "qa.ask")] == ["comp_secret", "comp_public", "comp_public", "comp_secret"]

    too_long = api.client.post("/v1/ask", json={"question": "问" * (api.settings.max_question_chars + 1)},
                               headers=api.auth("comp_public"))
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "question"]
    assert "问题过长" in too_long.json()["detail"][0]["msg"]
    assert api.client.post("/v1/ask", json={"question": SECRET_QUESTION}, headers=api.auth("mkt_internal")).status_code == 403
    assert len(_audit(api, "qa.ask")) == 4


def test_review_of_text_and_of_uploaded_files_finds_the_violation_and_refuses_bad_files(api, tmp_path) -> None:
    text = api.client.post("/v1/review", json={"text": VIOLATION, "no_llm": True}, headers=api.auth("mkt_internal"))
    assert text.status_code == 200
    report = text.json()
    assert {"id", "mode", "findings", "notice", "rewrite", "rewrite_note", "dropped", "stages"} <= set(report)
    assert report["id"] == "api" and report["mode"] == "rules" and report["findings"]
    assert any("保本" in f["span"] or "稳赚不赔" in f["span"] for f in report["findings"])
    assert "case-secret-1" not in text.text and all(m not in text.text for m in SECRET_MARKERS)  # the secret case is not shown

    for name, data, kind in (("文案.docx", _docx(VIOLATION), "docx"), ("文案.txt", VIOLATION.encode("gb18030"), "txt")):
        uploaded = api.client.post("/v1/review/file", files={"file": (name, data)}, data={"no_llm": "true", "rewrite": "false"},
                                   headers=api.auth("mkt_internal"))
        assert uploaded.status_code == 200, (kind, uploaded.text)
        result = uploaded.json()
        assert result["id"] == name and result["rewrite"] is None
        assert any("保本" in f["span"] or "稳赚不赔" in f["span"] for f in result["findings"])

    corrupt = make_corrupt_pdf(tmp_path)
    refused = api.client.post("/v1/review/file", files={"file": (corrupt.name, corrupt.read_bytes())},
                              headers=api.auth("mkt_internal"))
    assert refused.status_code == 422 and corrupt.name in refused.json()["detail"]
    genre = api.client.post("/v1/review", json={"text": VIOLATION, "genre": "billboard"}, headers=api.auth("mkt_internal"))
    assert genre.status_code == 422 and "billboard" in genre.json()["detail"] and "fund_promo" in genre.json()["detail"]
    blank = api.client.post("/v1/review", json={"text": "   \n  "}, headers=api.auth("mkt_internal"))
    assert blank.status_code == 422 and "没有可审核的内容" in blank.json()["detail"]
    resources = api.client.app.state.service.resources
    resources.settings = resources.settings.model_copy(update={"max_file_mb": 0.001})
    big = api.client.post("/v1/review/file", files={"file": ("长文案.txt", VIOLATION.encode() * 200)}, headers=api.auth("mkt_internal"))
    assert big.status_code == 413 and "超过上限" in big.json()["detail"]

    named = api.client.post("/v1/review", json={"text": VIOLATION, "no_llm": True, "user": "someone-else"}, headers=api.auth("mkt_internal"))
    local = api.client.post("/v1/review", json={"text": VIOLATION, "no_llm": True, "user": "alice"}, headers=api.auth("local"))
    assert named.status_code == local.status_code == 200
    assert [actor for actor, _ in _audit(api, "review.draft")] == ["mkt_internal"] * 4 + ["alice"]  # refused calls are not reviews


def test_case_detail_is_shown_only_within_the_callers_clearance(api) -> None:
    for user in ("comp_public", "mkt_internal"):
        hidden = api.client.get("/v1/cases/case-secret-1", headers=api.auth(user))
        assert hidden.status_code == 404 and "青鸾" not in hidden.text
    assert api.client.get("/v1/cases/no-such-case", headers=api.auth("comp_secret")).status_code == 404
    shown = api.client.get("/v1/cases/case-secret-1", headers=api.auth("comp_secret"))
    assert shown.status_code == 200
    case = shown.json()
    assert case["case_id"] == "case-secret-1" and "青鸾计划" in case["title"] and case["level"] == "秘密"
    assert isinstance(case["clauses"], list)
    assert api.client.get("/v1/cases/case-secret-1", headers=api.auth("eval_public")).status_code == 404


def test_generate_returns_reviewed_copy_for_a_marketer_and_refuses_a_private_fund(api) -> None:
    made = api.client.post("/v1/generate", json={**BRIEF, "no_llm": True}, headers=api.auth("mkt_internal"))
    assert made.status_code == 200, made.text
    result = made.json()
    assert set(result) == {"text", "review", "rounds"} and result["rounds"] == 1 and "findings" in result["review"]
    assert "2024年度：本产品净值增长率6.85%，同期业绩比较基准收益率4.12%" in result["text"] and "风险提示" in result["text"]
    assert [actor for actor, _ in _audit(api, "generate.marketing")] == ["mkt_internal"]
    assert [actor for actor, _ in _audit(api, "review.draft")] == ["mkt_internal"]  # the final review is audited

    private = {**BRIEF, "product": {**BRIEF["product"], "type": "私募证券投资基金"}}
    refused = api.client.post("/v1/generate", json=private, headers=api.auth("mkt_internal"))
    assert refused.status_code == 422 and "不特定对象" in refused.json()["detail"]
    bad = api.client.post("/v1/generate", json={**BRIEF, "product": {**BRIEF["product"], "risk_level": "R9"}},
                          headers=api.auth("mkt_internal"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-2:] == ["product", "risk_level"]
    assert api.client.post("/v1/generate", json=BRIEF, headers=api.auth("comp_secret")).status_code == 403


def test_a_stream_left_after_its_first_event_is_still_answered_to_the_end_and_audited(api) -> None:
    """A client that reads the first pieces and goes away has read part of an answer: it is audited all the same."""
    from service.routes.ask import answer_events

    resources = api.client.app.state.service.resources
    before = len(_audit(api, "qa.ask"))
    stream = answer_events(resources, SECRET_QUESTION, None, "调用方选择不使用大模型", 2, "comp_secret")
    assert next(stream).startswith("event: delta")
    stream.close()
    deadline = time.monotonic() + 60
    while len(_audit(api, "qa.ask")) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_audit(api, "qa.ask")) == before + 1
