"""Classes on the canvas: keys 1-9 choose the class of new points, Shift+R relabels, hidden classes are neither
drawn nor picked, the count label and the image list count per class, and the sidecar holds the labels."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.dataset import sidecar_path
from tests.gui.conftest import blank_folder, click, widget_pos  # noqa: F401  (blank_folder: a fixture)


def _press(window, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, key, modifiers)
    QApplication.processEvents()


def _saved(folder, name="cells_001.png") -> dict:
    return json.loads(sidecar_path(folder / name).read_text())


def test_key_2_makes_the_next_click_dead_and_the_file_says_so(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    assert window.classes.active == "live"
    _press(window, Qt.Key.Key_2)
    assert window.classes.active == "dead"
    click(window.canvas, widget_pos(window.canvas, 150, 100))
    assert window.session.points.labels == ["live", "live", "dead", "dead"]
    _press(window, Qt.Key.Key_1)
    click(window.canvas, widget_pos(window.canvas, 170, 120))
    assert window.session.points.labels[-1] == "live"
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)
    saved = _saved(two_class_folder)
    assert saved["labels"] == ["live", "live", "dead", "dead", "live"] and len(saved["points"]) == 5


def test_key_1_still_means_actual_pixels_with_one_class(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    keys = [k.toString() for k in window.actions.actual_size.shortcuts()]
    assert "1" in keys
    assert all(action.shortcut().isEmpty() for action in window.classes.key_actions)


def test_a_click_in_an_image_without_labels_labels_every_point_and_undo_takes_them_away(qtbot, make_window,
                                                                                       two_class_folder):
    from engine.dataset import Annotation, write_sidecar
    write_sidecar(sidecar_path(two_class_folder / "cells_002.png"),
                  Annotation("cells_002.png", 200, 150, [[10, 10], [30, 30]]))
    window = make_window(two_class_folder)
    window.session.select("cells_002.png")
    _press(window, Qt.Key.Key_2)
    click(window.canvas, widget_pos(window.canvas, 150, 100))
    assert window.session.points.labels == ["live", "live", "dead"]  # earlier points: the first class
    window.undo_action.trigger()
    assert window.session.points.labels is None and window.session.points.count == 2


def test_shift_r_relabels_the_selection_and_undo_restores(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    window.canvas.points_layer.select([0, 1])
    _press(window, Qt.Key.Key_2)
    _press(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert window.session.points.labels == ["dead", "dead", "dead"]
    assert window.region_tools.tools["rectangle"].isChecked() is False  # Shift+R is not the rectangle tool
    assert "3 dead" in window.canvas.count_label.text()
    window.undo_action.trigger()
    assert window.session.points.labels == ["live", "live", "dead"]
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)
    assert _saved(two_class_folder)["labels"] == ["live", "live", "dead"]


def test_a_hidden_class_is_neither_drawn_nor_picked(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    layer = window.canvas.points_layer
    dead_scatter = layer.classes.scatters[1]
    assert len(dead_scatter.data) == 1 and dead_scatter.isVisible()
    assert not layer.scatter.isVisible()  # the one-colour scatter gives way to the class scatters
    window.classes.set_shown("dead", False)
    assert not layer.classes.scatters[1].isVisible() and layer.classes.scatters[0].isVisible()
    assert layer.point_at(60, 60) is None and layer.point_at(20, 20) == 0
    window.canvas.select_all()
    assert layer.selected.tolist() == [0, 1]
    click(window.canvas, widget_pos(window.canvas, 60, 60))  # where the hidden point is: a new point
    assert window.session.points.count == 4


def test_points_are_drawn_in_their_class_colour(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    live, dead = window.canvas.points_layer.classes.scatters[:2]
    assert live.opts["brush"].color().name() == "#34c759" and dead.opts["brush"].color().name() == "#ff3b30"
    shown = np.column_stack([live.data["x"], live.data["y"]])
    assert shown.tolist() == [[20, 20], [40, 40]]


def test_counts_per_class_in_the_label_palette_and_image_list(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    text = window.canvas.count_label.text()
    assert text.startswith("3 points = ") and "2 live" in text and "1 dead" in text
    model = window.image_list.model
    assert model.index(model.row_of("cells_001.png"), 1).data() == "3 = 2 + 1"
    assert [window.classes.panel.tree.topLevelItem(row).text(2) for row in range(2)] == ["2", "1"]


def test_one_class_dataset_shows_and_writes_as_before(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    assert not window.classes.panel.tree.isVisible()
    click(window.canvas, widget_pos(window.canvas, 100, 100))
    assert window.canvas.count_label.text() == "1 point"
    model = window.image_list.model
    assert model.index(model.row_of(window.session.current_name), 1).data() == "1"
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)
    assert "labels" not in _saved(blank_folder, window.session.current_name)
