"""The Streamlit app under ``streamlit.testing.v1.AppTest``: pointed at a test knowledge base, and signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from support import PROJECT

APP = PROJECT / "app.py"
TIMEOUT = 120


def point_app_at(monkeypatch: pytest.MonkeyPatch, data_dir: Path, corpus_dir: Path) -> Iterator[None]:
    """Run the app on this data folder with the LLM off and fresh process-wide resources (a fixture body)."""
    monkeypatch.setenv("COMPLY_DATA", str(data_dir))
    monkeypatch.setenv("COMPLY_CORPUS", str(corpus_dir))
    monkeypatch.setenv("COMPLY_LLM", "off")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()  # closes the app's connection (on_release)


def sign_in(username: str, password: str) -> AppTest:
    """The app after signing in on its login page."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()
