"""Batch review jobs over the API: submitted whole, reviewed in the background, read only by their submitter (or an
administrator), exported to XLSX, and resumed after a restart."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from assistant.accounts import create_user
from assistant.tokens import create_token
from comply.config import Settings
from comply.files.office import docx_bytes, word_document
from service.app import create_app
from service.job_inputs import MAX_DRAFTS, DraftInput, TooManyDrafts, json_drafts, upload_drafts
from service.jobs import get_job, record_result, submit_job
from support import make_settings

VIOLATION = "本基金保本保收益，稳赚不赔，欢迎认购。"
CLEAN = "本基金由衡岳基金管理有限公司管理，投资有风险，入市需谨慎。"


def _wait_done(client: TestClient, job_id: str, headers: dict, timeout_s: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert job.status_code == 200, job.text
        if job.json()["state"] == "done" or time.monotonic() > deadline:
            return job.json()
        time.sleep(0.2)


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def test_a_json_job_is_reviewed_in_the_background_read_by_its_submitter_and_exported(api) -> None:
    me = api.auth("mkt_internal")
    body = {"drafts": [{"id": "bad", "text": VIOLATION}, {"id": "ok", "text": CLEAN}, {"id": "empty", "text": "  "}], "no_llm": True}
    answer = api.client.post("/v1/jobs/review", json=body, headers=me)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    assert answer.json()["total"] == 3
    assert answer.json()["errors"] == [{"file": None, "line": 3, "id": "empty", "error": "文案为空"}]

    job = _wait_done(api.client, job_id, me)
    assert (job["state"], job["total"], job["done"], job["failed"], job["clearance"]) == ("done", 3, 2, 1, 1)
    assert job["finished_at"]

    first = api.client.get(f"/v1/jobs/{job_id}/results?limit=2", headers=me).json()
    assert [(i["seq"], i["id"], i["state"]) for i in first["items"]] == [(1, "bad", "done"), (2, "ok", "done")]
    assert first["next_offset"] == 2
    bad, ok = (i["result"] for i in first["items"])
    assert bad["id"] == "bad" and any("保本" in f["span"] or "稳赚不赔" in f["span"] for f in bad["findings"])
    assert ok["findings"] == [] and {"mode", "stages", "hints"} <= set(ok)
    rest = api.client.get(f"/v1/jobs/{job_id}/results?offset=2", headers=me).json()
    assert rest == {"items": [{"seq": 3, "id": "empty", "state": "error", "error": "文案为空"}], "next_offset": None}

    export = api.client.get(f"/v1/jobs/{job_id}/export", headers=me)
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("编号", "状态", "问题数", "问题（类别：片段）", "错误")
    assert rows[1][:3] == ("bad", "已完成", len(bad["findings"])) and "：" in rows[1][3]
    assert rows[2][:3] == ("ok", "已完成", 0) and rows[3][1] == "出错" and rows[3][4] == "文案为空"

    # someone else's job does not exist for them, whatever their clearance; an administrator sees it
    for other in ("comp_public", "comp_secret"):
        for path in ("", "/results", "/export"):
            assert api.client.get(f"/v1/jobs/{job_id}{path}", headers=api.auth(other)).status_code == 404
        assert api.client.get("/v1/jobs", headers=api.auth(other)).json() == {"jobs": []}
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.auth("admin1")).status_code == 200
    assert [j["job_id"] for j in api.client.get("/v1/jobs", headers=me).json()["jobs"]] == [job_id]

    # the submission and the completion are audited, without the drafts' text
    rows = api.con.execute("SELECT actor, action, detail FROM audit_log WHERE target = ? ORDER BY seq", [job_id]).fetchall()
    assert [(a, act, json.loads(d)) for a, act, d in rows] == [
        ("mkt_internal", "job.submit", {"kind": "review", "items": 3, "errors": 1}),
        ("mkt_internal", "job.done", {"done": 2, "errors": 1})]
    reviews = api.con.execute("SELECT actor, detail FROM audit_log WHERE action = 'review.draft'").fetchall()
    assert len(reviews) == 2 and all(actor == "mkt_internal" for actor, _ in reviews)
    assert not any(VIOLATION in detail for _, detail in reviews)


def test_uploaded_files_report_each_bad_line_and_the_rest_is_reviewed(api) -> None:
    me = api.auth("comp_public")
    jsonl = "\n".join([json.dumps({"id": "j1", "text": VIOLATION}, ensure_ascii=False), "{not json", "",
                       json.dumps({"id": "j3", "text": 5}), json.dumps({"text": CLEAN}, ensure_ascii=False)]).encode()
    sheet = _xlsx([["id", "text"], ["x1", CLEAN], [None, None], ["x2", ""]])
    doc = word_document()
    doc.add_paragraph(VIOLATION)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("文案/一.txt", CLEAN.encode("utf-8"))
        z.writestr("文案/二.docx", docx_bytes(doc))
        z.writestr("__MACOSX/._一.txt", b"junk")
        z.writestr("海报.png", b"\x89PNG\r\n\x1a\n")
    files = [("files", ("drafts.jsonl", jsonl, "application/x-ndjson")),
             ("files", ("drafts.xlsx", sheet, "application/octet-stream")),
             ("files", ("drafts.zip", archive.getvalue(), "application/zip")),
             ("files", ("单篇.txt", VIOLATION.encode("utf-8"), "text/plain"))]
    answer = api.client.post("/v1/jobs/review", files=files, data={"no_llm": "true", "clearance": "公开"}, headers=me)
    assert answer.status_code == 202, answer.text
    errors = answer.json()["errors"]
    assert answer.json()["total"] == 10
    assert [(e["file"], e["line"], e["id"]) for e in errors] == [
        ("drafts.jsonl", 2, None), ("drafts.jsonl", 4, "j3"), ("drafts.xlsx", 4, "x2"), ("drafts.zip", None, "海报.png")]
    assert errors[0]["error"].startswith("不是有效的 JSON") and errors[1]["error"] == "text 字段应为字符串，实际是数字"

    job = _wait_done(api.client, answer.json()["job_id"], me)
    assert (job["state"], job["done"], job["failed"]) == ("done", 6, 4)
    items = api.client.get(f"/v1/jobs/{job['job_id']}/results", headers=me).json()["items"]
    done = {i["id"]: i["result"] for i in items if i["state"] == "done"}
    assert set(done) == {"j1", None, "x1", "文案/一.txt", "文案/二.docx", "单篇.txt"}
    assert done["文案/二.docx"]["findings"] and done["单篇.txt"]["findings"] and not done["x1"]["findings"]

    refused = api.client.post("/v1/jobs/review", files=[("files", ("a.jsonl", jsonl, "text/plain"))], data={"genre": "no-such"},
                              headers=me)
    assert refused.status_code == 422 and "未知的体裁" in refused.json()["detail"]
    assert api.client.post("/v1/jobs/review", json={"drafts": []}, headers=me).status_code == 422
    assert api.client.post("/v1/jobs/review", content=b"drafts", headers={**me, "Content-Type": "text/plain"}).status_code == 415


def test_a_job_left_unfinished_resumes_when_the_service_starts_again(leveled_kb: tuple[Settings, duckdb.DuckDBPyConnection]) -> None:
    settings, con = leveled_kb
    settings = settings.model_copy(update={"llm_mode": "off"})
    create_user(con, "mkt", "Unusual-pass-2031!", "marketer", 1, actor="test")
    token = create_token(con, "mkt", "mkt-test", 30, actor="test")[0]
    drafts = json_drafts([("a", VIOLATION), ("b", CLEAN), ("c", VIOLATION)], settings.max_draft_chars)
    job_id = submit_job(con, drafts, username="mkt", clearance=1, options={"genre": "auto", "no_llm": True})
    kept = {"id": "a", "findings": [], "note": "reviewed before the restart"}
    assert record_result(con, job_id, 1, result=kept)
    assert get_job(con, job_id).state == "queued"  # as a service stopped after one item leaves it

    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, "", llm=False)) as client:
        job = _wait_done(client, job_id, headers)
        assert (job["state"], job["done"], job["failed"]) == ("done", 3, 0)
        items = client.get(f"/v1/jobs/{job_id}/results", headers=headers).json()["items"]
    assert items[0]["result"] == kept
    assert items[2]["result"]["findings"] and items[2]["result"]["id"] == "c"
    assert not record_result(con, job_id, 2, error="late")  # a settled item is not overwritten


def test_drafts_are_bounded_and_archives_checked_before_they_are_read(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_draft_chars=10, max_expanded_mb=0.001)
    assert json_drafts([(1, "短文"), ("long", "很长" * 10)], 10)[1].error.startswith("文案共 20 字")
    assert json_drafts([(1, "短文")], 10) == [DraftInput("1", "短文", line=1)]
    many = "\n".join(json.dumps({"text": "短文"}) for _ in range(MAX_DRAFTS + 1)).encode()
    try:
        upload_drafts([("many.jsonl", many)], settings)
        raise AssertionError("more than MAX_DRAFTS drafts were accepted")
    except TooManyDrafts as exc:
        assert str(MAX_DRAFTS) in str(exc)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "合" * 10_000)
    (only,) = upload_drafts([("bomb.zip", bomb.getvalue())], settings)
    assert only.id == "bomb.zip" and "解压后的内容超过上限" in only.error
    (broken,) = upload_drafts([("x.xlsx", b"not a workbook")], settings)
    assert broken.error.startswith("x.xlsx：") and broken.file == "x.xlsx"
