"""Corpus changes from several threads of one process (the service's requests, the app beside it) are serialised: each
gets its own index version, and the live index holds exactly what the database says is live."""

from __future__ import annotations

import threading

import pytest

from kb_ingest import admin
from kb_ingest.ingest import ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration


def _rule(folder, name: str, marker: str):
    path = folder / f"{name}.md"
    path.write_text(f"# {name}\n\n第一条 为规范{marker}业务，制定本规定。\n\n第二条 从事{marker}业务应当报告合规部。\n", encoding="utf-8")
    return path


def test_concurrent_ingests_and_a_reindex_each_take_their_own_version(small_kb, tmp_path) -> None:
    settings, con = small_kb
    files = tmp_path / "files"
    files.mkdir()
    names = {"甲规定": "甲骨文交易", "乙规定": "乙烯期货", "丙规定": "丙纶仓单"}
    paths = [_rule(files, name, marker) for name, marker in names.items()]
    errors: list[BaseException] = []

    def run(job) -> None:
        try:
            job(con.cursor())
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    jobs = [lambda cur, p=p: ingest(settings, cur, [p], actor="t") for p in paths] + [lambda cur: admin.reindex(settings, cur, "t")]
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = [r[0] for r in con.execute("SELECT version FROM index_versions ORDER BY version").fetchall()]
    assert versions == list(range(1, len(jobs) + 1))
    searcher = Searcher(settings, con)
    assert set(searcher.index().meta["user_words"]) >= set(names)
    for name, marker in names.items():
        assert any(h.doc_title == name for h in searcher.search(f"{marker}业务应当报告", k=5)), name
