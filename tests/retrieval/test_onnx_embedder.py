"""The embedder's ONNX Runtime backend: vectors agree with torch, batching by length keeps the order, the export is
cached per model folder and never half-used, and a failed export or session leaves torch serving with a notice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import DEV, PROJECT, REGULATIONS, make_settings

from comply.config import default_embed_model, load_settings
from kb_ingest.indexing import IndexRow, cached_vectors
from retrieval.embedding import Embedder, by_length, embedder_for
from retrieval.onnx_export import META_FILE, MODEL_FILES, STALE_S, ensure_export, export_dir, folder_digest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model() -> str:
    return default_embed_model()


@pytest.fixture(scope="module")
def onnx(model: str) -> Embedder:
    """The ONNX (fp32) embedder from this machine's cache (exported on first use)."""
    return Embedder(model, "cpu", 8, "onnx", load_settings().cache_dir)


@pytest.fixture(scope="module")
def onnx_int8(model: str) -> Embedder:
    return Embedder(model, "cpu", 8, "onnx-int8", load_settings().cache_dir)


@pytest.fixture(scope="module")
def torch_embedder(model: str) -> Embedder:
    return Embedder(model, "cpu", 8, "torch")


def corpus_texts(n: int = 36) -> list[str]:
    """Articles of several regulations (real corpus text), of varied length, then real dev questions."""
    articles = []
    for path in sorted(REGULATIONS.glob("*.md"))[:6]:
        articles += [line for line in path.read_text(encoding="utf-8").splitlines() if re.match(r"^第.{1,8}条", line)][:n // 6]
    questions = [json.loads(line)["query"] for line in (DEV / "retrieval_questions.jsonl").read_text(encoding="utf-8").splitlines()[:12]]
    return articles + questions


@pytest.mark.parametrize(("precision", "floor"), [("fp32", 0.9999), ("int8", 0.99)])
def test_onnx_vectors_agree_with_torch_per_text(precision: str, floor: float, onnx: Embedder, onnx_int8: Embedder,
                                                torch_embedder: Embedder) -> None:
    embedder = onnx if precision == "fp32" else onnx_int8
    texts = corpus_texts()
    assert len(texts) >= 40 and max(map(len, texts)) > 3 * min(map(len, texts))
    a, b = embedder.encode(texts), torch_embedder.encode(texts)
    assert a.shape == b.shape == (len(texts), 512) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= floor, f"lowest cosine {cos.min():.5f} for {texts[int(cos.argmin())][:40]}"
    assert embedder.backend == "onnx" and embedder.notice == "" and embedder.name == torch_embedder.name == "m3e-small"
    assert embedder.variant.startswith(f"onnx-{precision}-")
    assert embedder.cache_key == f"m3e-small@{embedder.variant}" != torch_embedder.cache_key == "m3e-small"


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "torch"])
def test_batching_by_length_keeps_the_callers_order(backend: str, onnx: Embedder, onnx_int8: Embedder,
                                                    torch_embedder: Embedder) -> None:
    embedder = {"onnx": onnx, "onnx-int8": onnx_int8, "torch": torch_embedder}[backend]
    texts = corpus_texts()[:20]
    texts = [t for pair in zip(texts[::2], texts[1::2]) for t in (pair[0] * 3, pair[1][:8])]  # long, short, long, …
    batched = embedder.encode(texts)
    single = np.stack([embedder.encode([t])[0] for t in texts])
    cos = (batched * single).sum(axis=1)
    assert cos.min() >= 0.99  # each row is its own text (a swapped row scores far lower)
    assert float(batched[0] @ batched[1]) < 0.95


def test_length_batches_cover_every_text_once_within_the_token_budget() -> None:
    lengths = [5, 512, 100, 512, 3, 512, 130, 40, 41]
    batches = by_length(lengths, 3, max_tokens=1024)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 3 and len(b) * max(lengths[i] for i in b) <= 1024 for b in batches)
    assert [lengths[b[0]] for b in batches] == sorted((lengths[b[0]] for b in batches), reverse=True)
    assert by_length([5, 1, 3, 2, 4], 2) == [[0, 4], [2, 3], [1]]


def test_export_is_keyed_by_the_model_folders_files(model: str, tmp_path: Path) -> None:
    copy = tmp_path / "m3e-small"
    copy.mkdir()
    for f in Path(model).iterdir():
        if f.is_file():
            (copy / f.name).symlink_to(f)
    assert folder_digest(copy) == folder_digest(Path(model))
    (copy / "README.md").unlink()
    (copy / "README.md").write_text("领域适配后的模型", encoding="utf-8")
    changed = export_dir(tmp_path / "cache", copy)
    assert changed != export_dir(tmp_path / "cache", Path(model)) and changed.name.startswith("m3e-small-")


def test_unwritable_cache_falls_back_to_torch_with_a_notice(model: str, torch_embedder: Embedder, tmp_path: Path,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("x", encoding="utf-8")
    embedder = Embedder(model, "cpu", 8, "auto", blocker / "sub")
    assert embedder.backend == "torch" and "ONNX" in embedder.notice and "torch" in embedder.notice
    assert "提示：ONNX 推理不可用" in capfd.readouterr().err
    texts = corpus_texts()[:6]
    assert np.allclose(embedder.encode(texts), torch_embedder.encode(texts), atol=1e-5)
    assert embedder.cache_key == "m3e-small"
    with pytest.raises(RuntimeError, match="ONNX 推理不可用"):
        Embedder(model, "cpu", 8, "onnx", blocker / "sub")


def test_a_broken_cached_export_leaves_torch_serving(model: str, tmp_path: Path) -> None:
    folder = export_dir(tmp_path, Path(model))
    folder.mkdir(parents=True)
    (folder / MODEL_FILES["fp32"]).write_bytes(b"not an onnx graph")
    (folder / META_FILE).write_text(json.dumps({"dim": 512, "max_length": 512}), encoding="utf-8")
    settings = make_settings(tmp_path / "data", cache_dir=tmp_path, embed_batch_size=7)
    embedder = embedder_for(settings)
    assert embedder.backend == "torch" and "ONNX" in embedder.notice
    assert embedder.encode(["证券公司不得承诺收益"]).shape == (1, 512)


def test_cache_keeps_backends_apart(small_kb, onnx: Embedder, torch_embedder: Embedder) -> None:
    _settings, con = small_kb
    rows = [IndexRow(f"r{i}", 0, t, f"h{i}") for i, t in enumerate(corpus_texts()[:4])]
    first = cached_vectors(con, onnx, rows, progress=False)
    second = cached_vectors(con, torch_embedder, rows, progress=False)
    keys = dict(con.execute("SELECT model, count(*) FROM embeddings GROUP BY model").fetchall())
    assert keys == {onnx.cache_key: 4, "m3e-small": 4}
    assert np.allclose(second, torch_embedder.encode([r.text for r in rows]), atol=1e-5)
    assert (first * second).sum(axis=1).min() >= 0.99


def test_status_names_the_serving_backend(small_kb) -> None:
    from kb_ingest.listing import status

    settings, con = small_kb
    assert status(settings, con)["embed_backend"].startswith("onnx-fp32")


@pytest.mark.slow
def test_an_export_killed_midway_is_never_used(model: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    code = f"from pathlib import Path; from retrieval.onnx_export import ensure_export; ensure_export(Path({str(cache)!r}), Path({model!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT)
    onnx_dir = cache / "onnx"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not any(onnx_dir.glob(".m3e-small-*")):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # the export takes seconds after its work folder appears
    proc.wait()
    final = export_dir(cache, Path(model))
    assert not final.exists()
    [partial] = list(onnx_dir.glob(".m3e-small-*"))
    (partial / MODEL_FILES["fp32"]).write_bytes(b"half a graph")  # what a kill during the write would leave
    os.utime(partial, (time.time() - STALE_S - 1,) * 2)
    assert ensure_export(cache, Path(model)) == final / MODEL_FILES["fp32"] and (final / META_FILE).is_file()
    assert not partial.exists()
    embedder = Embedder(model, "cpu", 8, "onnx", cache)
    assert embedder.backend == "onnx" and embedder.encode(["证券"]).shape == (1, 512)
