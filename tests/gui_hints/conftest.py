"""Fixtures for the where-to-click-next tests: the annotation window's (tests/gui/conftest.py), and child
processes that find the test engines (tests/engine/count_fixtures.py's red counter, the fake ranking here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gui.conftest import blank_folder, make_window, settings  # noqa: F401  (fixtures shared with the window tests)

HERE = Path(__file__).parent
ENGINE_TESTS = HERE.parent / "engine"


@pytest.fixture
def test_engines_on_path(monkeypatch):
    """Child processes started from now on can run ``-m count_fixtures`` and ``-m fake_suggest_engine``."""
    paths = [str(HERE), str(ENGINE_TESTS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
