"""The documents list (``comply docs list``, the 知识库 page) shows a reader only the documents at or below their
clearance; the command line's operator, who holds the database, sees every level."""

from __future__ import annotations

import pytest

from kb_ingest import listing

pytestmark = pytest.mark.integration

PUBLIC = {"证券公司监督管理条例", "中华人民共和国广告法"}


@pytest.fixture()
def private_config(tmp_path, monkeypatch):
    """Installation keys made by the test's knowledge base go to a private folder."""
    monkeypatch.delenv("COMPLY_AUDIT_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_the_documents_list_follows_the_readers_clearance(private_config, leveled_kb):
    _, con = leveled_kb
    keys = {c: {d["doc_key"] for d in listing.documents(con, clearance=c)} for c in (0, 1, 2)}
    assert keys[0] == PUBLIC
    assert keys[1] == PUBLIC | {"员工执业行为守则"}
    assert keys[2] == PUBLIC | {"员工执业行为守则", "内部合规手册"}
    assert {d["doc_key"] for d in listing.documents(con)} == keys[2]
    assert {d["doc_key"] for d in listing.documents(con, ["live"], clearance=0)} == PUBLIC
