"""Export a sentence-transformers model folder to ONNX (pooling and L2 normalisation inside the graph), optionally
quantise it to int8, and keep the result per machine under ``<cache>/onnx/<model name>-<hash of the folder's files>``.

The export is written into a temporary folder beside its final place and renamed into place only when complete, and
the int8 file is written under a temporary name and renamed, so a crash or kill -9 mid-export never leaves a
half-written model that a later process would load.

fp32 is the default: its vectors match torch's (cosine ≥ 0.9999) and so do dev rankings. int8 (dynamic, per-channel,
reduced range) is about twice as fast on a 2-core AVX2 CPU, at cosine ≥ 0.995 per text, but moved dense hit@5 on
dev by one question of 50 (0.60 → 0.58), so it is opt-in (``embed_backend = "onnx-int8"``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
META_FILE = "export.json"
OPSET = 17
FORMAT = 2  # bump when the exported graph or its quantisation change, so stale exports and cached vectors are not reused
STALE_S = 3600


def folder_digest(model_path: Path) -> str:
    """SHA-256 over the relative paths and contents of every file in the model folder (first 16 hex digits)."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for path in sorted(p for p in model_path.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_path)).encode("utf-8") + b"\0")
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def export_dir(cache_dir: Path, model_path: Path) -> Path:
    """Where the export of this model folder lives (it may not exist yet)."""
    return cache_dir / "onnx" / f"{model_path.name}-{folder_digest(model_path)}"


def variant(precision: str) -> str:
    """The name of an export variant, e.g. 'onnx-fp32-v2' (embedding caches key vectors by it)."""
    return f"onnx-{precision}-v{FORMAT}"


def ensure_export(cache_dir: Path, model_path: Path, precision: str = "fp32") -> Path:
    """The ONNX file of ``model_path`` at ``precision`` ('fp32' or 'int8'), exported (and quantised) first when this
    machine has none. Its folder holds ``META_FILE``.

    Raises whatever the export raises (the caller falls back to torch); nothing is left in place on failure.
    """
    folder = _ensure_fp32(cache_dir, model_path)
    target = folder / MODEL_FILES[precision]
    if precision != "fp32" and not target.is_file():
        _clear_stale(folder, ".int8-*")
        _quantise(folder / MODEL_FILES["fp32"], target)
    return target


def _clear_stale(folder: Path, pattern: str) -> None:
    """Remove temporary folders left by killed exports (a running export's folder is younger than ``STALE_S``)."""
    for stale in folder.glob(pattern):
        if time.time() - stale.stat().st_mtime > STALE_S:
            shutil.rmtree(stale, ignore_errors=True)


def _ensure_fp32(cache_dir: Path, model_path: Path) -> Path:
    final = export_dir(cache_dir, model_path)
    if (final / META_FILE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(final.parent, f".{final.name}-*")
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        _export(model_path, work)
        work.chmod(0o755)
        try:
            os.rename(work, final)
        except OSError:
            if not (final / META_FILE).is_file():  # another process finished first: use its export
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _export(model_path: Path, out: Path) -> None:
    """Trace the model (tokens in, unit sentence vectors out) with the legacy exporter."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True).eval()
    encoded = model.tokenizer(["证券公司不得向客户承诺收益。", "合规"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in encoded]

    class Pooled(torch.nn.Module):
        """The whole sentence-transformers pipeline, then L2 normalisation, as one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            features = self.model(dict(zip(names, tensors)))["sentence_embedding"]
            return torch.nn.functional.normalize(features, p=2.0, dim=1)

    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
        torch.onnx.export(Pooled(), tuple(encoded[n] for n in names), str(out / MODEL_FILES["fp32"]), input_names=names,
                          output_names=["embedding"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    meta = {"format": FORMAT, "model": model_path.name, "inputs": names, "dim": int(model.get_embedding_dimension()),
            "max_length": int(model.max_seq_length), "opset": OPSET}
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def _quantise(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation, written under a temporary name and renamed into place.

    Per-channel weights with reduced range: plain per-tensor int8 drops single texts to cosine 0.987 of the torch
    vectors, and full-range per-channel int8 saturates on AVX2 (cosine 0.72).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=fp32.parent))
    quiet = logging.root.manager.disable
    try:
        logging.disable(logging.WARNING)  # the quantiser's advice to pre-process first
        quantize_dynamic(str(fp32), str(work / target.name), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        os.replace(work / target.name, target)
    finally:
        logging.disable(quiet)
        shutil.rmtree(work, ignore_errors=True)
