"""Fixtures of the browser tests in this folder."""

from __future__ import annotations

import pytest
from support.browser import chromium


@pytest.fixture(scope="module")
def browser():
    """Debian chromium under Playwright, one per test module."""
    with chromium() as b:
        yield b
