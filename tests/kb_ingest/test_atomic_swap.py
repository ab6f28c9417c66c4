"""A crash mid-ingest leaves the previous index version serving; the next ingest completes and cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support import REGULATIONS

from comply.db import connect
from kb_ingest.ingest import ingest
from retrieval.search import Searcher

pytestmark = pytest.mark.integration


def _kill_during_index_build(settings, path) -> None:
    env = {**os.environ, "COMPLY_DATA": str(settings.data_dir), "COMPLY_CORPUS": str(settings.corpus_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", str(path)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    deadline = time.monotonic() + 300
    try:
        for line in proc.stderr:
            if "索引构建" in line:
                break
            assert time.monotonic() < deadline, "ingest never reached the index build"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_killed_ingest_leaves_previous_version_serving(small_kb):
    settings, con = small_kb
    ingest(settings, con, [REGULATIONS / "中华人民共和国广告法.md"])
    before = con.execute("SELECT version, path FROM index_versions WHERE state = 'live'").fetchone()
    con.close()

    _kill_during_index_build(settings, REGULATIONS / "中华人民共和国证券法.md")

    con = connect(settings.db_path)
    assert con.execute("SELECT version, path FROM index_versions WHERE state = 'live'").fetchone() == before
    assert con.execute("SELECT count(*) FROM documents WHERE doc_key = '中华人民共和国证券法'").fetchone()[0] == 0
    searcher = Searcher(settings, con)
    assert searcher.search("广告法第九条", k=1)[0].doc_title == "中华人民共和国广告法"
    assert all(h.doc_title != "中华人民共和国证券法" for h in searcher.search("证券法第八十条 信息披露", k=10))

    report = ingest(settings, con, [REGULATIONS / "中华人民共和国证券法.md"])
    assert report.errors == [] and report.index_version == before[0] + 1
    assert searcher.search("证券法第八十条", k=1)[0].doc_title == "中华人民共和国证券法"
    assert not [p for p in settings.index_root.iterdir() if p.name.startswith(".staging-")]
