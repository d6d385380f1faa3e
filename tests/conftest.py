"""Shared fixtures. GUI tests run offscreen; every test makes its own data under tmp_path."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One thread keeps tiny CPU training tests fast and stable on a shared 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture
def synthetic_dataset(tmp_path):
    """A folder of 6 small annotated synthetic cell images (128x128)."""
    from engine.dataset.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path / "cells", images=6, size=(128, 128), counts=(10, 40), seed=1)
