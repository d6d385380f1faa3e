"""Fixtures for the proposed-points tests: the annotation window's (tests/gui/conftest.py), a dataset whose
sidecars hold proposals, and a tiny model really trained by the engine (for the child-process tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.dataset import Annotation, sidecar_path, write_sidecar
from engine.dataset.synthetic import write_synthetic_dataset
from tests.gui.conftest import make_window, settings  # noqa: F401  (fixtures shared with the window tests)

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
from proposal_fixtures import CONFIRMED, PROPOSED


@pytest.fixture
def proposed_folder(tmp_path):
    """Three 200x150 images: the first has 3 confirmed points and 2 proposals, the others no points file."""
    folder = write_synthetic_dataset(tmp_path / "proposed", images=3, size=(150, 200), counts=(5, 10), seed=3,
                                     annotate=False)
    write_sidecar(sidecar_path(folder / "cells_001.png"),
                  Annotation("cells_001.png", 200, 150, CONFIRMED, proposed=PROPOSED))
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """best.pt of an FCRN-A of width 4 trained for one epoch on 64x64 synthetic cells (about 4 s on CPU).

    Enough to propose a few dozen points on a synthetic image: the tests check where they go, not how good
    they are.
    """
    dataset = write_synthetic_dataset(tmp_path_factory.mktemp("train") / "cells", images=4, size=(64, 64),
                                      counts=(5, 15), seed=4)
    run_dir = dataset / "crowdgui_runs" / "tiny"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "train", str(dataset), "--out", str(run_dir), "--model", "fcrn_a",
         "--width", "4", "--epochs", "1", "--crop", "32", "--batch", "2", "--device", "cpu", "--threads", "1",
         "--events", "jsonl"],
        check=False, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return run_dir / "best.pt"
