"""Fixtures for the classes tests: the annotation window's (tests/gui/conftest.py) and a two-class dataset."""

from __future__ import annotations

import json

import pytest

from engine.dataset import Annotation, sidecar_path, write_sidecar
from engine.dataset.synthetic import write_synthetic_dataset
from tests.gui.conftest import make_window, settings  # noqa: F401  (fixtures shared with the window tests)

CLASSES = [{"name": "live", "colour": "#34c759", "key": 1}, {"name": "dead", "colour": "#ff3b30", "key": 2}]


def write_classes(folder, classes=CLASSES) -> None:
    (folder / "crowdgui.json").write_text(json.dumps({"format": "crowdgui-dataset", "classes": classes}))


@pytest.fixture
def two_class_folder(tmp_path):
    """Three 200x150 images of a dataset with classes live and dead; the first has 2 live points and 1 dead."""
    folder = write_synthetic_dataset(tmp_path / "two", images=3, size=(150, 200), counts=(5, 10), seed=3,
                                     annotate=False)
    write_classes(folder)
    write_sidecar(sidecar_path(folder / "cells_001.png"),
                  Annotation("cells_001.png", 200, 150, [[20, 20], [40, 40], [60, 60]],
                             labels=["live", "live", "dead"]))
    return folder
