"""Evaluation runs kept in DuckDB (table ``eval_runs``): what was measured, on which code, settings and data."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from comply.config import PROJECT_ROOT, Settings
from comply.db import rows_as_dicts, transaction

# The Settings fields each suite's numbers depend on (stored with the run).
_RETRIEVAL = ("embed_model", "article_max_chars", "paragraph_chunk_chars", "ann_threshold", "dense_floor", "rrf_k",
              "bm25_weight", "named_doc_boost")
_LLM = ("llm_url", "llm_model", "local_model", "llm_max_tokens", "llm_temperature", "llm_ctx")
CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "retrieval": _RETRIEVAL,
    "cases": _RETRIEVAL + ("case_dense_floor",),
    "review": ("review_rules_file", "taxonomy_file", "dense_floor", "case_dense_floor") + _LLM,
    "qa": _RETRIEVAL + _LLM + ("qa_clauses", "qa_clause_chars", "qa_context_chars", "qa_answer_tokens"),
    "chat": _RETRIEVAL + _LLM + ("qa_clauses", "qa_clause_chars", "qa_context_chars", "qa_answer_tokens"),
    "generation": ("review_rules_file", "taxonomy_file", "disclosures_file", "generate_rounds", "dense_floor") + _LLM,
}


@dataclass(frozen=True)
class Run:
    """One evaluation run: its identity, provenance and the suite's full report (``metrics``)."""

    run_id: str
    suite: str
    created_at: datetime
    git_commit: str | None
    config: dict
    model: str | None
    dataset_path: str
    dataset_sha256: str
    metrics: dict = field(repr=False)

    def as_json(self, with_metrics: bool = True) -> dict:
        """A JSON-ready dictionary (timestamps as ISO strings)."""
        out = {"run_id": self.run_id, "suite": self.suite, "created_at": self.created_at.isoformat(timespec="seconds"),
               "git_commit": self.git_commit, "config": self.config, "model": self.model,
               "dataset_path": self.dataset_path, "dataset_sha256": self.dataset_sha256}
        return {**out, "metrics": self.metrics} if with_metrics else out


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """``git rev-parse HEAD`` of the checkout, or None outside one (or without git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def settings_config(settings: Settings, suite: str, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """The Settings fields ``suite`` depends on (paths as strings), plus the live index version when known."""
    config = {name: getattr(settings, name) for name in CONFIG_FIELDS.get(suite, ())}
    config = {k: str(v) if isinstance(v, Path) else v for k, v in config.items()}
    if con is not None:
        live = con.execute("SELECT version, embed_model FROM index_versions WHERE state = 'live'").fetchone()
        config["index_version"] = live[0] if live else None
    return config


def new_run(suite: str, metrics: dict, dataset: Path, config: dict, model: str | None = None) -> Run:
    """A run not yet stored: a fresh id, now (UTC), the current commit and the dataset's hash."""
    return Run(
        run_id=f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        suite=suite, created_at=datetime.now(UTC).replace(microsecond=0), git_commit=git_commit(),
        config=config, model=model, dataset_path=str(dataset), dataset_sha256=file_sha256(dataset), metrics=metrics,
    )


def save_run(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    """Store a run; returns its id."""
    with transaction(con):
        con.execute(
            "INSERT INTO eval_runs (run_id, suite, created_at, git_commit, config, model, dataset_path, dataset_sha256, metrics) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, run.suite, run.created_at.replace(tzinfo=None), run.git_commit,
             json.dumps(run.config, ensure_ascii=False), run.model, run.dataset_path, run.dataset_sha256,
             json.dumps(run.metrics, ensure_ascii=False)],
        )
    return run.run_id


def _from_row(row: dict) -> Run:
    return Run(
        run_id=row["run_id"], suite=row["suite"], created_at=row["created_at"].replace(tzinfo=UTC),
        git_commit=row["git_commit"], config=json.loads(row["config"]), model=row["model"],
        dataset_path=row["dataset_path"], dataset_sha256=row["dataset_sha256"], metrics=json.loads(row["metrics"]),
    )


_COLUMNS = "run_id, suite, created_at, git_commit, CAST(config AS VARCHAR) AS config, model, dataset_path, dataset_sha256, CAST(metrics AS VARCHAR) AS metrics"


def get_run(con: duckdb.DuckDBPyConnection, run_id: str) -> Run | None:
    """The run with this id (or the only run whose id starts with it); None when there is none or several."""
    rows = rows_as_dicts(con.execute(f"SELECT {_COLUMNS} FROM eval_runs WHERE run_id = ?", [run_id]))
    if not rows and run_id:
        rows = rows_as_dicts(con.execute(f"SELECT {_COLUMNS} FROM eval_runs WHERE starts_with(run_id, ?) LIMIT 2", [run_id]))
    return _from_row(rows[0]) if len(rows) == 1 else None


def list_runs(con: duckdb.DuckDBPyConnection, suite: str | None = None, limit: int = 50) -> list[Run]:
    """Stored runs, newest first, optionally of one suite."""
    rows = rows_as_dicts(con.execute(
        f"SELECT {_COLUMNS} FROM eval_runs WHERE ? IS NULL OR suite = ? ORDER BY created_at DESC, run_id DESC LIMIT ?",
        [suite, suite, limit],
    ))
    return [_from_row(r) for r in rows]
