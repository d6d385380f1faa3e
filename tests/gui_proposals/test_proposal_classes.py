"""Proposals of a model of two classes in the window: each keeps its class until accepted, and after."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from crowdgui.annotation.undo import AddPoint
from engine.dataset import Annotation, Dataset, read_sidecar, sidecar_path, write_sidecar
from engine.dataset.classes import ObjectClass

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
from proposal_fixtures import CONFIRMED, PROPOSED, raw_sidecar


@pytest.fixture
def window(make_window, proposed_folder):
    """The window on a dataset of classes live, dead whose first image has unlabelled points (= live) and two
    proposals: one live, one dead."""
    from crowdgui.proposals import install

    dataset = Dataset(proposed_folder)
    dataset.settings.classes = [ObjectClass("live"), ObjectClass("dead", "#00ff00")]
    dataset.save_settings()
    write_sidecar(sidecar_path(proposed_folder / "cells_001.png"),
                  Annotation("cells_001.png", 200, 150, CONFIRMED, proposed=PROPOSED, proposed_labels=["live", "dead"]))
    win = make_window()
    win.proposals = install(win, chosen_checkpoint=lambda: None)
    assert win.open_folder(proposed_folder)
    return win


def _saved(qtbot, win, name="cells_001.png"):
    qtbot.waitUntil(lambda: not win.session.is_dirty(name), timeout=3000)


def test_accepted_proposals_keep_their_classes_and_undo_restores_all(qtbot, window, proposed_folder):
    win = window
    assert win.session.proposed.labels == ["live", "dead"]
    win.proposals.accept_action.trigger()
    assert win.session.points.labels == ["live"] * 3 + ["live", "dead"]
    _saved(qtbot, win)
    saved = raw_sidecar(proposed_folder, "cells_001.png")
    assert saved["labels"] == ["live", "live", "live", "live", "dead"] and "proposed_labels" not in saved

    win.session.push(AddPoint(win.session.points, 10.0, 10.0))  # clicked after: the unlabelled points' class
    assert win.session.points.labels[-1] == "live"
    win.undo_action.trigger()
    win.undo_action.trigger()
    assert win.session.points.labels is None and win.session.proposed.labels == ["live", "dead"]
    _saved(qtbot, win)
    restored = read_sidecar(sidecar_path(proposed_folder / "cells_001.png"))
    assert restored.labels is None and restored.proposed_labels == ["live", "dead"]


def test_proposals_arriving_from_the_engine_carry_their_classes(window):
    win, controller = window, window.proposals
    controller.job_image, controller.job_dataset = "cells_001.png", win.session.dataset.folder
    controller._points_at_start = win.session.points.points.copy()
    controller._on_event({"type": "start", "radius": 4.0})
    controller._on_event({"type": "result", "image": "cells_001.png", "count": 3.0, "confirmed": 3,
                          "written": False, "points": [[180.0, 120.0], [150.0, 60.0]], "labels": ["dead", "live"]})
    np.testing.assert_allclose(win.session.proposed.points, [[180.0, 120.0], [150.0, 60.0]])
    assert win.session.proposed.labels == ["dead", "live"]
    win.undo_action.trigger()  # the proposals before, with their classes
    assert win.session.proposed.labels == ["live", "dead"]
