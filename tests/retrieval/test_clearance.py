"""Clearance: a caller never gets, counts or is hinted at a chunk or case above their level."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from comply.levels import level_rank
from kb_ingest import admin
from retrieval.langchain_retriever import ComplyRetriever
from retrieval.search import Searcher

pytestmark = pytest.mark.integration

def _levels_of(con, chunk_ids):
    if not chunk_ids:
        return set()
    return {r[0] for r in con.execute(
        "SELECT d.level FROM chunks c JOIN documents d USING (doc_id) WHERE chunk_id IN (SELECT unnest(?))", [chunk_ids]
    ).fetchall()}


def test_low_clearance_never_gets_higher_chunks_across_random_queries(leveled_kb):
    settings, con = leveled_kb
    searcher = Searcher(settings, con)
    texts = [r[0] for r in con.execute("SELECT text FROM chunks").fetchall()]
    rng = random.Random(7)
    queries = ["青鸾计划", "白鹭条款", "合规手册复核代号", "证券法第一条", "内部合规手册第二条", "员工执业行为守则第二条"]
    for _ in range(120):
        text = rng.choice(texts)
        start = rng.randrange(max(1, len(text) - 20))
        queries.append(text[start : start + rng.randint(4, 20)])
    for query in queries:
        for mode in ("hybrid", "bm25", "dense"):
            assert _levels_of(con, [h.chunk_id for h in searcher.search(query, k=10, clearance=0, mode=mode)]) <= {0}, query
            assert _levels_of(con, [h.chunk_id for h in searcher.search(query, k=10, clearance=1, mode=mode)]) <= {0, 1}, query


def test_higher_clearance_finds_what_lower_cannot(leveled_kb):
    settings, con = leveled_kb
    searcher = Searcher(settings, con)
    assert all("青鸾计划" not in h.text for h in searcher.search("青鸾计划 复核代号", k=10, clearance=1))
    top = searcher.search("青鸾计划 复核代号", k=3, clearance=2)
    assert top and "青鸾计划" in top[0].text and top[0].as_json()["level"] == "秘密"
    # Naming the secret article directly reveals nothing either.
    assert all(h.doc_title != "内部合规手册" for h in searcher.search("内部合规手册第二条", k=5, clearance=0))
    assert searcher.search("内部合规手册第二条", k=1, clearance=2)[0].match == "lookup"


def test_cases_are_filtered_by_clearance(leveled_kb):
    settings, con = leveled_kb
    searcher = Searcher(settings, con)
    assert "case-secret-1" not in [c.case_id for c in searcher.search_cases("营销人员承诺保本保收益 青鸾计划", k=5, clearance=1)]
    assert "case-secret-1" in [c.case_id for c in searcher.search_cases("营销人员承诺保本保收益 青鸾计划", k=5, clearance=2)]


def test_level_change_takes_effect_at_once(leveled_kb):
    settings, con = leveled_kb
    searcher = Searcher(settings, con)
    doc_id = con.execute("SELECT doc_id FROM documents WHERE doc_key = '内部合规手册' AND state = 'live'").fetchone()[0]
    admin.set_level(settings, con, doc_id, level_rank("公开"), "admin")
    assert any("青鸾计划" in h.text for h in searcher.search("青鸾计划 复核代号", k=5, clearance=0))
    admin.set_level(settings, con, doc_id, level_rank("秘密"), "admin")
    assert all("青鸾计划" not in h.text for h in searcher.search("青鸾计划 复核代号", k=5, clearance=0))


def test_langchain_retriever_respects_clearance(leveled_kb):
    settings, con = leveled_kb
    searcher = Searcher(settings, con)
    public = ComplyRetriever(searcher=searcher, clearance=0, k=5).invoke("青鸾计划 复核代号")
    assert all(d.metadata["level"] == "公开" for d in public)
    secret = ComplyRetriever(searcher=searcher, clearance=2, k=3).invoke("青鸾计划 复核代号")
    assert secret[0].metadata["doc_title"] == "内部合规手册" and "青鸾计划" in secret[0].page_content
    assert secret[0].id == secret[0].metadata["chunk_id"]


def test_no_surface_around_search_shows_a_secret_to_a_public_reader(leveled_kb, tmp_path):
    """The audit log and its export, the documents list, stored chats and a re-ingest without a level."""
    from assistant.qa.answer import ask
    from assistant.qa.history import add_message, messages, new_conversation
    from comply import audit_view
    from kb_ingest.ingest import ingest
    from kb_ingest.listing import documents
    from ui.chat import message_payload

    settings, con = leveled_kb
    marks = ("青鸾计划", "内部合规手册", "复核代号")
    cid = new_conversation(con, "carol")
    question = "营销人员推介私募产品前的复核代号是什么？"
    add_message(con, cid, "carol", "user", question)
    answer = ask(settings, con, question, client=None, clearance=2, user="carol")
    assert "青鸾计划" in answer.answer
    add_message(con, cid, "carol", "assistant", answer.answer, **message_payload(answer))

    report = ingest(settings, con, [tmp_path / "files" / "内部合规手册.md"], actor="admin")  # no level given
    assert report.errors == [] and {r[0] for r in con.execute(
        "SELECT level FROM documents WHERE doc_key = '内部合规手册' AND state = 'live'").fetchall()} == {2}

    doc_id = con.execute("SELECT doc_id FROM documents WHERE doc_key = '内部合规手册' AND state = 'live'").fetchone()[0]
    admin.set_level(settings, con, doc_id, 1, "admin")  # every event about the secret document is tagged with its level
    admin.set_level(settings, con, doc_id, 2, "admin")
    rows = audit_view.query(con, limit=None, clearance=0)
    assert rows and not any(m in repr(row) for row in rows for m in marks)
    _, exported = audit_view.export_zip(con, settings, clearance=0)
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        assert not any(m in archive.read(n).decode("utf-8", "replace") for n in archive.namelist() for m in marks)
    assert all(d["level"] == "公开" for d in documents(con, clearance=0))
    assert not any("青鸾计划" in repr(stored) for stored in messages(con, cid, "carol", clearance=0))
    searcher = Searcher(settings, con)
    for mode in ("hybrid", "bm25", "dense"):
        assert _levels_of(con, [h.chunk_id for h in searcher.search("青鸾计划 复核代号", k=10, clearance=0, mode=mode)]) <= {0}
