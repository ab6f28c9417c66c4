"""``comply eval`` runs at 公开 unless told otherwise (issue 16, item 18): secret clauses stay out of a default run."""

from __future__ import annotations

import json

import pytest
from support import SECRET_POLICY

from cli.main import main
from kb_ingest.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture()
def secret_eval(small_kb, tmp_path, monkeypatch):
    """A knowledge base holding only the secret policy, and a retrieval question answered by its second article."""
    settings, con = small_kb
    policy = tmp_path / "内部合规手册.md"
    policy.write_text(SECRET_POLICY, encoding="utf-8")
    assert ingest(settings, con, [policy], level=2).errors == []
    con.close()
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text(json.dumps({"id": "secret-1", "query": "推介私募产品前的双人复核代号是什么？",
                                   "relevant": [{"doc": "内部合规手册", "article": "第二条"}]}, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    monkeypatch.setenv("COMPLY_DATA", str(settings.data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(settings.corpus_dir))
    return dataset


def _hit_at_10(capsys, *args: str) -> float:
    assert main(["eval", "retrieval", *args, "--mode", "bm25", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["modes"]["bm25"]["overall"]["hit@10"]


def test_eval_defaults_to_public_and_reaches_secret_clauses_only_when_asked(secret_eval, capsys):
    assert _hit_at_10(capsys, "--dataset", str(secret_eval)) == 0.0, "a default run must not search secret clauses"
    assert _hit_at_10(capsys, "--dataset", str(secret_eval), "--clearance", "秘密") == 1.0
