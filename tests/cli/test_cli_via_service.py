"""The command line while ``comply serve`` runs: the commands that can go through the service call it (same output as
without it), the others stop with EXIT_BUSY and say why; once the service stops, the files are the command line's
again. One real service (a subprocess, no model) on a knowledge base of its own, built with the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import CORPUS, REGULATIONS

from cli.common import EXIT_BUSY

pytestmark = pytest.mark.integration

REGULATION = REGULATIONS / "证券公司监督管理条例.md"
DRAFT = "本产品保本保收益，年化收益8%，稳赚不赔，错过再等一年！"


@dataclass
class Served:
    """A running service on its own data folder, and the environment of command-line runs beside it."""

    process: subprocess.Popen
    data: Path
    env: dict[str, str]
    url: str

    def comply(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run ``comply ARGS`` in another process, as a user in another shell would."""
        return subprocess.run([sys.executable, "-m", "cli", *args], env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One regulation ingested with the command line, then ``comply serve --port 0 --no-llm`` on that data folder."""
    data = tmp_path_factory.mktemp("served") / "data"
    env = {**os.environ, "COMPLY_DATA": str(data), "COMPLY_CORPUS": str(CORPUS), "COMPLY_LLM": "off"}
    env.pop("COMPLY_SERVICE_URL", None)
    env.pop("COMPLY_TOKEN", None)
    built = subprocess.run([sys.executable, "-m", "cli", "ingest", str(REGULATION)], env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", "0", "--no-llm"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    info = data / "service.json"
    deadline = time.monotonic() + 120
    while not info.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "the service did not announce itself"
        time.sleep(0.2)
    try:
        yield Served(process, data, env, json.loads(info.read_text(encoding="utf-8"))["url"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def test_status_and_search_answer_through_the_service(served):
    status = served.comply("status", "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state == json.loads(served.comply("status", "--json").stdout)  # the same service state, twice
    assert "Traceback" not in status.stderr

    found = served.comply("search", "--json", "证券公司的净资本应当符合什么要求")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert hits and all(set(h) == {"chunk_id", "doc_title", "article", "path", "text", "score", "level", "notice"} for h in hits)
    assert {h["doc_title"] for h in hits} == {"证券公司监督管理条例"}

    text = served.comply("search", "证券公司的净资本应当符合什么要求", "-k", "2")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"[1] {hits[0]['path']}（公开，") and "[2] " in text.stdout


def test_ingest_and_docs_go_through_the_service(served, tmp_path):
    policy = tmp_path / "营销人员管理办法.md"
    policy.write_text("第一条 营销人员应当持证上岗。\n\n第二条 宣传材料须经合规审查后方可发布。\n", encoding="utf-8")
    added = served.comply("ingest", "--json", str(policy))
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert report["index_version"] == 2 and [f["status"] for f in report["files"]] == ["added"]

    listed = served.comply("docs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {d["doc_key"] for d in json.loads(listed.stdout)} >= {"证券公司监督管理条例", "营销人员管理办法"}

    again = served.comply("ingest", str(policy))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["汇总：unchanged 1", "没有变化，索引保持不变"]


def test_review_of_stdin_goes_through_the_service(served):
    as_json = served.comply("review", "--no-llm", "--json", "-", stdin=DRAFT)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["id"] == "粘贴文本" and report["findings"]
    assert list(report) == ["id", "mode", "genre", "learned_model", "notice", "stages", "findings", "hints", "rewrite",
                            "rewrite_note", "dropped"]

    text = served.comply("review", "--no-llm", "-", stdin=DRAFT)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("《粘贴文本》审核结果（") and f"{len(report['findings'])} 个问题" in text.stdout
    assert report["findings"][0]["span"] in text.stdout


def test_commands_that_cannot_go_through_the_service_stop_and_say_why(served):
    refused = served.comply("users", "list")
    assert refused.returncode == EXIT_BUSY
    assert f"服务 {served.url} 正在运行并独占数据库" in refused.stderr and "“comply users list”" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    seal = served.comply("audit", "seal")
    assert seal.returncode == EXIT_BUSY and "“comply audit seal”" in seal.stderr
    assert served.comply("users", "--help").returncode == 0  # help needs no database


def test_once_the_service_stops_the_command_line_opens_the_files_itself(served):
    served.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert served.process.wait(timeout=60) == 0
    assert served.process.stderr.read().rstrip().endswith("服务已停止")
    assert not (served.data / "service.json").exists() and not (served.data / "service.token").exists()
    verified = served.comply("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("审计链完整：")
    assert served.comply("users", "list").returncode == 0
