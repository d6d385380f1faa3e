"""Proposals in the window: loaded from the sidecar, drawn and counted apart, accepted, deleted, discarded —
each undoable and autosaved with the points. Real mouse and key events go through the canvas."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from crowdgui.panels.image_list import STATE_ROLE
from engine.dataset import read_sidecar, sidecar_path
from tests.gui.conftest import click, widget_pos

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
from proposal_fixtures import CONFIRMED, PROPOSED, raw_sidecar



@pytest.fixture
def window(make_window, proposed_folder):
    """The annotation window with the proposals feature (no model chosen) on ``proposed_folder``."""
    from crowdgui.proposals import install

    win = make_window()
    win.proposals = install(win, chosen_checkpoint=lambda: None)
    assert win.open_folder(proposed_folder)
    assert win.session.current_name == "cells_001.png"
    return win


def _saved(qtbot, win, name="cells_001.png"):
    qtbot.waitUntil(lambda: not win.session.is_dirty(name), timeout=3000)


def _row(win, name):
    model = win.image_list.model
    row = model.row_of(name)
    return model.index(row, 0), model.index(row, 1)


def test_proposals_from_the_sidecar_are_drawn_and_counted_apart(window):
    win = window
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)
    canvas = win.canvas
    # Two scatters: the confirmed points in one, the proposals (other style) in the other.
    shown_points = np.column_stack([canvas.points_layer.scatter.data["x"], canvas.points_layer.scatter.data["y"]])
    shown_proposals = np.column_stack([canvas.proposals_layer.scatter.data["x"],
                                       canvas.proposals_layer.scatter.data["y"]])
    np.testing.assert_allclose(shown_points, CONFIRMED)
    np.testing.assert_allclose(shown_proposals, PROPOSED)
    assert canvas.proposals_layer.scatter.opts["pen"].color() != canvas.points_layer.scatter.opts["pen"].color()
    assert canvas.proposals_layer.scatter.opts["brush"].color().alpha() < 255  # a ring, not a filled dot
    text = canvas.count_label.text()
    assert "3 points" in text and "2 proposed" in text
    # The list: a "proposed" state with the number; the image is not counted as annotated.
    name_index, count_index = _row(win, "cells_001.png")
    assert name_index.data(STATE_ROLE) == "proposed"
    assert count_index.data() == "3 (+2)"
    assert "2 proposed points" in name_index.data(Qt.ItemDataRole.ToolTipRole)
    assert win.image_list.summary.text().startswith("0 of 3 annotated · 3 points · 1 with proposals")
    win.image_list.proxy.set_mode("proposed")
    assert win.image_list.proxy.rowCount() == 1
    win.image_list.proxy.set_mode("done")
    assert win.image_list.proxy.rowCount() == 0


def test_accept_all_makes_them_points_and_undo_brings_them_back(qtbot, window, proposed_folder):
    win = window
    assert win.proposals.accept_action.isEnabled()
    win.proposals.accept_action.trigger()
    np.testing.assert_allclose(win.session.points.points, np.vstack([CONFIRMED, PROPOSED]))
    assert win.session.proposed.count == 0
    assert win.undo_action.text() == "&Undo Accept 2 proposals"
    assert not win.proposals.accept_action.isEnabled() and not win.proposals.discard_action.isEnabled()
    assert "proposed" not in win.canvas.count_label.text()
    _saved(qtbot, win)
    saved = raw_sidecar(proposed_folder, "cells_001.png")
    np.testing.assert_allclose(saved["points"], np.vstack([CONFIRMED, PROPOSED]))
    assert "proposed" not in saved
    assert win.image_list.summary.text().startswith("1 of 3 annotated · 5 points")
    assert _row(win, "cells_001.png")[0].data(STATE_ROLE) == "done"

    win.undo_action.trigger()
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)
    _saved(qtbot, win)
    restored = read_sidecar(sidecar_path(proposed_folder / "cells_001.png"))
    np.testing.assert_allclose(restored.points, CONFIRMED)
    np.testing.assert_allclose(restored.proposed, PROPOSED)
    assert win.session.dataset.entry("cells_001.png").annotated is False


def test_right_click_deletes_one_proposal(qtbot, window, proposed_folder):
    win = window
    click(win.canvas, widget_pos(win.canvas, *PROPOSED[0]), Qt.MouseButton.RightButton)
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED[1:])
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)  # the points are untouched
    assert win.undo_action.text() == "&Undo Delete 1 proposal"
    _saved(qtbot, win)
    np.testing.assert_allclose(raw_sidecar(proposed_folder, "cells_001.png")["proposed"], PROPOSED[1:])
    win.undo_action.trigger()
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)


def test_a_selected_proposal_is_deleted_with_the_delete_key(window):
    win = window
    canvas = win.canvas
    click(canvas, widget_pos(canvas, *PROPOSED[1]))  # a click on a proposal selects it, adds nothing
    assert win.session.points.count == len(CONFIRMED)
    assert list(canvas.selected_proposals()) == [1] and not len(canvas.selected_indices())
    win.activateWindow()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    QApplication.processEvents()
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED[:1])
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)


def test_a_click_beside_the_proposals_adds_an_ordinary_point(window):
    win = window
    click(win.canvas, widget_pos(win.canvas, 120.5, 130.5))
    np.testing.assert_allclose(win.session.points.points[-1], (120.5, 130.5), atol=0.5)
    assert win.session.proposed.count == len(PROPOSED)
    assert "4 points" in win.canvas.count_label.text()


def _double_click(canvas, pos) -> None:
    """Press, release, double-click, release: the events a real double click sends."""
    viewport = canvas.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    click(canvas, pos)
    for kind, buttons in ((QEvent.Type.MouseButtonDblClick, left), (QEvent.Type.MouseButtonRelease, none)):
        event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), left, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)
    QApplication.processEvents()


def test_double_click_accepts_one_proposal(window):
    win = window
    _double_click(win.canvas, widget_pos(win.canvas, *PROPOSED[1]))
    np.testing.assert_allclose(win.session.points.points, np.vstack([CONFIRMED, PROPOSED[1:]]))
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED[:1])
    assert win.undo_action.text() == "&Undo Accept 1 proposal"
    win.undo_action.trigger()
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)


def test_discard_removes_every_proposal_and_undo_restores_them(qtbot, window, proposed_folder):
    win = window
    win.proposals.discard_action.trigger()
    assert win.session.proposed.count == 0
    np.testing.assert_allclose(win.session.points.points, CONFIRMED)
    _saved(qtbot, win)
    assert "proposed" not in raw_sidecar(proposed_folder, "cells_001.png")
    assert win.session.dataset.entry("cells_001.png").annotated is True
    win.undo_action.trigger()
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)
    _saved(qtbot, win)
    np.testing.assert_allclose(raw_sidecar(proposed_folder, "cells_001.png")["proposed"], PROPOSED)


def test_edits_of_points_keep_the_proposals_in_the_sidecar_and_switching_images_keeps_them(qtbot, window,
                                                                                       proposed_folder):
    win = window
    click(win.canvas, widget_pos(win.canvas, 10.5, 10.5))  # an ordinary edit of the points
    win.actions.next_image.trigger()  # saved on leaving
    assert win.session.current_name == "cells_002.png"
    assert win.session.proposed.count == 0 and "proposed" not in win.canvas.count_label.text()
    saved = read_sidecar(sidecar_path(proposed_folder / "cells_001.png"))
    assert len(saved.points) == len(CONFIRMED) + 1
    np.testing.assert_allclose(saved.proposed, PROPOSED)
    win.actions.previous_image.trigger()
    np.testing.assert_allclose(win.session.proposed.points, PROPOSED)


def test_propose_is_disabled_without_a_model_and_says_why(window):
    action = window.proposals.propose_action
    assert not action.isEnabled()
    assert "Train a model first" in action.toolTip()
    assert window.proposals.propose() is None


def test_an_image_that_only_had_proposals_goes_back_to_no_points_file_when_they_are_discarded(
        qtbot, window, proposed_folder):
    from crowdgui.annotation.undo import SetProposals

    win = window
    name = "cells_002.png"
    assert win.session.select(name)
    sidecar = sidecar_path(proposed_folder / name)
    win.session.push(SetProposals(win.session.proposed, PROPOSED))  # what "Propose Points" pushes
    _saved(qtbot, win, name)
    saved = raw_sidecar(proposed_folder, name)
    assert saved["points"] == [] and saved["proposed"] == PROPOSED.tolist()
    win.proposals.discard_action.trigger()
    _saved(qtbot, win, name)
    # Not an empty points file: that would say "annotated, no objects" and put the image into training.
    assert not sidecar.exists()
    assert win.session.state_of(name).count is None
    assert _row(win, name)[1].data() == "—"
    win.undo_action.trigger()  # the proposals come back, and with them the pending points file
    _saved(qtbot, win, name)
    np.testing.assert_allclose(read_sidecar(sidecar).proposed, PROPOSED)
    win.undo_action.trigger()  # before any proposal: no points file, as at the start
    _saved(qtbot, win, name)
    assert not sidecar.exists()


def test_points_added_while_the_model_ran_cancel_the_proposals_they_cover(window):
    """The engine compared with the saved points; one the user clicked meanwhile must not get a twin."""
    from crowdgui.annotation.undo import AddPoint

    win, controller = window, window.proposals
    controller.job_image, controller.job_dataset = "cells_001.png", win.session.dataset.folder
    controller._points_at_start = win.session.points.points.copy()
    controller._on_event({"type": "start", "radius": 4.0})
    win.session.push(AddPoint(win.session.points, 81.0, 70.5))  # clicked while the model ran
    controller._on_event({"type": "result", "image": "cells_001.png", "count": 3.2, "confirmed": 3,
                          "written": False, "points": [[80.0, 70.0], [180.0, 120.0], [20.5, 31.0]]})
    # (80, 70) is the new point's object; (20.5, 31) lies on a point the engine already knew of, and is kept:
    # the engine cancelled one-to-one against those, so a second proposal there is a second object.
    np.testing.assert_allclose(win.session.proposed.points, [[180.0, 120.0], [20.5, 31.0]])
    assert win.undo_action.text() == "&Undo Propose 2 points"
