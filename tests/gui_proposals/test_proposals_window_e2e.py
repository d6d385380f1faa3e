"""End to end in the complete window (build_window): choose a model, propose from the keyboard, delete one
proposal with the mouse, accept the rest with Ctrl+Enter, close; the sidecar holds them as ordinary points."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.dataset.synthetic import write_synthetic_dataset
from tests.gui.conftest import click, widget_pos

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
from proposal_fixtures import raw_sidecar

pytestmark = pytest.mark.slow


def test_propose_correct_accept_in_the_full_window(qtbot, make_window, tmp_path, tiny_checkpoint):
    from crowdgui.features import build_window

    folder = write_synthetic_dataset(tmp_path / "e2e", images=2, size=(96, 128), counts=(10, 20), seed=6,
                                     annotate=False)
    window = make_window(build=build_window)
    controller = window.proposals
    assert controller.propose_action in window.menu("Proposals").actions()
    assert controller.propose_action in window.toolbar.actions()
    assert window.open_folder(folder)
    assert not controller.propose_action.isEnabled()  # no model for this folder yet
    window.training.select_checkpoint(tiny_checkpoint)
    assert controller.propose_action.isEnabled()

    window.activateWindow()
    qtbot.waitActive(window)
    canvas = window.canvas
    canvas.setFocus()
    with qtbot.waitSignal(controller.proposals_arrived, timeout=120000) as arrived:
        QTest.keyClick(canvas, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert arrived.args[0] == "cells_001.png"
    proposals = window.session.proposed.points.copy()
    assert len(proposals) == arrived.args[1] > 1
    assert window.image_list.summary.text().startswith("0 of 2 annotated")

    click(canvas, widget_pos(canvas, *proposals[0]), Qt.MouseButton.RightButton)  # the model was wrong here
    assert window.session.proposed.count == len(proposals) - 1
    click(canvas, widget_pos(canvas, 3.5, 4.5))  # and missed an object here
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # accept the rest
    assert window.session.proposed.count == 0
    assert window.session.points.count == len(proposals)
    assert window.image_list.summary.text().startswith("1 of 2 annotated")

    window.close()
    saved = raw_sidecar(folder, "cells_001.png")
    assert "proposed" not in saved
    expected = np.vstack([[[3.5, 4.5]], proposals[1:]])
    np.testing.assert_allclose(np.array(saved["points"]), expected, atol=0.5)
