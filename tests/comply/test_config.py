"""Settings: explicit overrides > environment > config file > defaults; a misspelt key in the file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from comply.config import load_settings


@pytest.fixture()
def config_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "comply.toml"
    monkeypatch.setenv("COMPLY_CONFIG", str(path))
    for name in ("COMPLY_LLM_URL", "COMPLY_DATA", "COMPLY_RRF_K", "COMPLY_LLM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_precedence_of_overrides_environment_file_and_defaults(config_file, monkeypatch):
    config_file.write_text('rrf_k = 7\nllm_url = "http://file"\ndata_dir = "~/from-file"\nbm25_weight = 2.0\n', encoding="utf-8")
    monkeypatch.setenv("COMPLY_LLM_URL", "http://env")
    monkeypatch.setenv("COMPLY_RRF_K", "9")
    monkeypatch.setenv("COMPLY_LLM_TIMEOUT", "")  # an empty variable is not a value
    settings = load_settings(bm25_weight=3.5, llm_model=None)
    assert settings.bm25_weight == 3.5  # override over file
    assert settings.llm_url == "http://env" and settings.rrf_k == 9  # environment over file
    assert settings.data_dir == Path.home() / "from-file"  # file over default, ~ expanded
    assert settings.llm_timeout_s == 60.0 and settings.llm_model == ""  # defaults
    assert settings.db_path == settings.data_dir / "comply.duckdb"


def test_unknown_key_in_the_file_is_refused_in_chinese(config_file):
    config_file.write_text("rrf = 7\n", encoding="utf-8")
    with pytest.raises(ValueError, match="含未知项：\\['rrf'\\]"):
        load_settings()


def test_settings_are_immutable_and_copied_with_changes(config_file):
    settings = load_settings()
    with pytest.raises(ValueError):
        settings.llm_mode = "off"  # type: ignore[misc]
    assert settings.model_copy(update={"llm_mode": "off"}).llm_mode == "off" and settings.llm_mode == "auto"
